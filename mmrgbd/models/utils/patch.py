"""Patchify / unpatchify: the one patch layout every loss and decoder uses.

Layout (as MAE): tokens are in row-major order of the patch grid (for video:
time-major, then rows, then columns) and the values of one token are ordered
``(t_p, p_h, p_w, C)`` with the channel last, i.e. for an image the value of
channel ``c`` at pixel ``(i, j)`` of a patch sits at index ``(i * p + j) * C +
c``.
"""
from typing import Optional, Sequence, Tuple, Union

import torch

IntPair = Union[int, Sequence[int]]


def _pair(p: IntPair) -> Tuple[int, int]:
    if isinstance(p, int):
        return p, p
    p = tuple(int(v) for v in p)
    if len(p) != 2:
        raise ValueError(f'patch size must be an int or (p_h, p_w), got {p}')
    return p


def patchify(x: torch.Tensor,
             p: IntPair,
             t_p: Optional[int] = None) -> torch.Tensor:
    """Cut images (or clips) into flattened patches.

    Args:
        x (Tensor): Images (B, C, H, W), or clips (B, C, T, H, W) when
            ``t_p`` is given.
        p (int | tuple[int, int]): Spatial patch size (square or (p_h, p_w)).
        t_p (int, optional): Temporal tubelet size for clips. Defaults to None
            (images).

    Returns:
        Tensor: (B, N, p_h*p_w*C) for images with N = (H/p_h)*(W/p_w); for
        clips (B, N, t_p*p_h*p_w*C) with N = (T/t_p)*(H/p_h)*(W/p_w).

    Raises:
        ValueError: If the input is not divisible into whole patches.
    """
    ph, pw = _pair(p)
    if t_p is None:
        if x.dim() != 4:
            raise ValueError(f'patchify expects (B, C, H, W), got shape '
                             f'{tuple(x.shape)} (pass t_p for clips)')
        B, C, H, W = x.shape
        if H % ph or W % pw:
            raise ValueError(f'image of size {H}x{W} is not divisible into '
                             f'{ph}x{pw} patches')
        h, w = H // ph, W // pw
        x = x.reshape(B, C, h, ph, w, pw)
        x = torch.einsum('bchpwq->bhwpqc', x)  # (B, h, w, p_h, p_w, C)
        return x.reshape(B, h * w, ph * pw * C)  # (B, N, p_h*p_w*C)
    if x.dim() != 5:
        raise ValueError(f'patchify with t_p expects (B, C, T, H, W), got '
                         f'shape {tuple(x.shape)}')
    B, C, T, H, W = x.shape
    if T % t_p or H % ph or W % pw:
        raise ValueError(f'clip of size {T}x{H}x{W} is not divisible into '
                         f'{t_p}x{ph}x{pw} tubelets')
    t, h, w = T // t_p, H // ph, W // pw
    x = x.reshape(B, C, t, t_p, h, ph, w, pw)
    x = torch.einsum('bctshpwq->bthwspqc', x)  # (B, t, h, w, t_p, p_h, p_w, C)
    return x.reshape(B, t * h * w, t_p * ph * pw * C)  # (B, N, t_p*p_h*p_w*C)


def unpatchify(x: torch.Tensor,
               p: IntPair,
               grid_size: Optional[Sequence[int]] = None,
               t_p: Optional[int] = None) -> torch.Tensor:
    """Invert :func:`patchify`.

    Args:
        x (Tensor): Patches (B, N, p_h*p_w*C), or (B, N, t_p*p_h*p_w*C) for
            clips.
        p (int | tuple[int, int]): Spatial patch size.
        grid_size (Sequence[int], optional): Token grid (h, w), or (t, h, w)
            for clips. Defaults to a square (h = w = sqrt(N)) image grid.
        t_p (int, optional): Temporal tubelet size. Required when
            ``grid_size`` has three entries; defaults to 1 then.

    Returns:
        Tensor: Images (B, C, h*p_h, w*p_w) or clips (B, C, t*t_p, h*p_h,
        w*p_w).

    Raises:
        ValueError: If the sizes are inconsistent.
    """
    ph, pw = _pair(p)
    B, N, D = x.shape
    if grid_size is None:
        side = int(round(N**0.5))
        grid_size = (side, side)
    grid_size = tuple(int(g) for g in grid_size)
    if len(grid_size) == 2 and t_p is None:
        h, w = grid_size
        if h * w != N or D % (ph * pw):
            raise ValueError(f'(B, N, D)={tuple(x.shape)} does not fit a '
                             f'{h}x{w} grid of {ph}x{pw} patches')
        C = D // (ph * pw)
        x = x.reshape(B, h, w, ph, pw, C)
        x = torch.einsum('bhwpqc->bchpwq', x)  # (B, C, h, p_h, w, p_w)
        return x.reshape(B, C, h * ph, w * pw)  # (B, C, H, W)
    if len(grid_size) != 3:
        raise ValueError(f'grid_size must be (h, w) or (t, h, w), got '
                         f'{grid_size}')
    t_p = 1 if t_p is None else t_p
    t, h, w = grid_size
    if t * h * w != N or D % (t_p * ph * pw):
        raise ValueError(f'(B, N, D)={tuple(x.shape)} does not fit a '
                         f'{t}x{h}x{w} grid of {t_p}x{ph}x{pw} tubelets')
    C = D // (t_p * ph * pw)
    x = x.reshape(B, t, h, w, t_p, ph, pw, C)
    x = torch.einsum('bthwspqc->bctshpwq', x)  # (B, C, t, t_p, h, p_h, w, p_w)
    return x.reshape(B, C, t * t_p, h * ph, w * pw)  # (B, C, T, H, W)
