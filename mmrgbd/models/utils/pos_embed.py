"""Fixed sine-cosine position embeddings for 1D, 2D and 3D token grids.

1D (Transformer / MAE): for a position ``x`` and ``D`` channels,
``emb = [sin(x * w_0), ..., sin(x * w_{D/2-1}), cos(x * w_0), ...,
cos(x * w_{D/2-1})]`` with ``w_k = 1 / temperature ** (k / (D / 2))``.

2D (MAE-style): half of the channels encode the row and half the column,
each with the 1D formula. Two channel orders exist in public checkpoints:

* ``order='wh'`` (MAE, default): the first half encodes the **column** (w)
  index, the second half the **row** (h) index.
* ``order='hw'`` (MultiMAE, MoCo v3 and mmpretrain's
  ``build_2d_sincos_position_embedding`` on square grids): the first half
  encodes the row, the second half the column.

Both are generated directly for non-square ``(h, w)`` grids (tokens in
row-major order). 3D grids ``(t, h, w)`` put a 2D embedding of the frame
position on the first ``D - D_t`` channels and a 1D embedding of the time
index on the last ``D_t`` channels.

``order='videomae'`` is the table of VideoMAE (and of the original
Transformer): a 1D embedding of the flattened token index ``n`` (time-major,
then rows, then columns) with **interleaved** channels, ``emb[n, 2i] =
sin(n / 10000 ** (2i / D))`` and ``emb[n, 2i + 1] = cos(n / 10000 ** (2i /
D))`` (:func:`get_token_sincos_pos_embed`). It depends only on the number of
tokens, so it is regenerated (never interpolated) for another grid; use it
for encoders initialised from VideoMAE checkpoints.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import resize_pos_embed

#: channel orders of the 2D (and 3D spatial) grid embeddings
GRID_ORDERS = ('wh', 'hw')
PE_ORDERS = GRID_ORDERS + ('videomae', )
#: orders that are generated per grid instead of interpolated
REGENERATED_ORDERS = ('videomae', )


def get_1d_sincos_pos_embed(embed_dims: int,
                            positions,
                            temperature: float = 10000.) -> torch.Tensor:
    """1D sin-cos embedding of arbitrary (possibly fractional) positions.

    Args:
        embed_dims (int): Number of channels D (even).
        positions (Tensor | Sequence[float] | int): Positions; an int ``L``
            means ``0, ..., L - 1``. Any shape; flattened.
        temperature (float): Defaults to 10000.

    Returns:
        Tensor: float32 (L, D): ``[sin(x w), cos(x w)]``.
    """
    if embed_dims % 2:
        raise ValueError(f'embed_dims must be even, got {embed_dims}')
    if isinstance(positions, int):
        positions = torch.arange(positions, dtype=torch.float64)
    pos = torch.as_tensor(positions, dtype=torch.float64).reshape(-1)  # (L,)
    half = embed_dims // 2
    omega = torch.arange(half, dtype=torch.float64, device=pos.device) / half
    omega = 1. / temperature**omega  # (D/2,)
    out = pos[:, None] * omega[None, :]  # (L, D/2)
    return torch.cat([out.sin(), out.cos()], dim=1).float()  # (L, D)


def get_token_sincos_pos_embed(embed_dims: int,
                               num_tokens: int,
                               temperature: float = 10000.) -> torch.Tensor:
    """VideoMAE's 1D table over the flattened token index (interleaved).

    ``emb[n, 2i] = sin(n * w_i)``, ``emb[n, 2i + 1] = cos(n * w_i)`` with
    ``w_i = temperature ** (-2i / D)``: the ``get_sinusoid_encoding_table``
    of VideoMAE / the Transformer, whose channels interleave sin and cos
    (unlike :func:`get_1d_sincos_pos_embed`, which concatenates them).

    Args:
        embed_dims (int): Number of channels D (even).
        num_tokens (int): Number of tokens N.
        temperature (float): Defaults to 10000.

    Returns:
        Tensor: float32 (N, D).
    """
    if embed_dims % 2:
        raise ValueError(f'embed_dims must be even, got {embed_dims}')
    pos = torch.arange(int(num_tokens), dtype=torch.float64)  # (N,)
    omega = temperature**(-torch.arange(0, embed_dims, 2,
                                        dtype=torch.float64) / embed_dims)
    angles = pos[:, None] * omega[None, :]  # (N, D/2)
    emb = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (N, D/2, 2)
    return emb.reshape(int(num_tokens), embed_dims).float()  # (N, D)


def get_2d_sincos_pos_embed(embed_dims: int,
                            grid_size,
                            order: str = 'wh',
                            temperature: float = 10000.,
                            num_extra_tokens: int = 0) -> torch.Tensor:
    """2D sin-cos embedding of an ``(h, w)`` grid in row-major token order.

    Args:
        embed_dims (int): Number of channels D (multiple of 4).
        grid_size (int | Sequence[int]): ``(h, w)``, or one int for a square.
        order (str): ``'wh'`` (MAE: column first) or ``'hw'`` (MultiMAE /
            MoCo v3: row first). Defaults to ``'wh'``.
        temperature (float): Defaults to 10000.
        num_extra_tokens (int): Zero rows prepended for class / global
            tokens (MAE stores a zero row for its class token). Defaults to 0.

    Returns:
        Tensor: float32 (num_extra_tokens + h*w, D).
    """
    if order not in GRID_ORDERS:
        raise ValueError(f'order must be one of {GRID_ORDERS}, got '
                         f'{order!r}')
    if embed_dims % 4:
        raise ValueError(f'embed_dims must be a multiple of 4 for a 2D '
                         f'sin-cos embedding, got {embed_dims}')
    if isinstance(grid_size, int):
        grid_size = (grid_size, grid_size)
    h, w = (int(g) for g in grid_size)
    rows = torch.arange(h).repeat_interleave(w)  # (h*w,) row of each token
    cols = torch.arange(w).repeat(h)  # (h*w,) column of each token
    emb_h = get_1d_sincos_pos_embed(embed_dims // 2, rows, temperature)
    emb_w = get_1d_sincos_pos_embed(embed_dims // 2, cols, temperature)
    parts = [emb_w, emb_h] if order == 'wh' else [emb_h, emb_w]
    emb = torch.cat(parts, dim=1)  # (h*w, D)
    if num_extra_tokens:
        emb = torch.cat([emb.new_zeros(num_extra_tokens, embed_dims), emb])
    return emb  # (G + h*w, D)


def get_3d_sincos_pos_embed(embed_dims: int,
                            grid_size: Sequence[int],
                            temporal_dims: Optional[int] = None,
                            order: str = 'wh',
                            temperature: float = 10000.,
                            num_extra_tokens: int = 0) -> torch.Tensor:
    """Space-time sin-cos embedding of a ``(t, h, w)`` grid.

    Token order is time-major, then rows, then columns (the order of
    :func:`mmrgbd.models.utils.patchify` with ``t_p``). The first
    ``D - D_t`` channels hold :func:`get_2d_sincos_pos_embed` of ``(h, w)``
    (the same for every frame), the last ``D_t`` channels the 1D embedding of
    the frame index (the same for every position of a frame).

    Args:
        embed_dims (int): Number of channels D.
        grid_size (Sequence[int]): ``(t, h, w)``.
        temporal_dims (int, optional): D_t (even); ``D - D_t`` must be a
            multiple of 4. Defaults to ``D // 4``.
        order (str): Channel order of the spatial part. Defaults to ``'wh'``.
        temperature (float): Defaults to 10000.
        num_extra_tokens (int): Zero rows prepended. Defaults to 0.

    Returns:
        Tensor: float32 (num_extra_tokens + t*h*w, D).
    """
    t, h, w = (int(g) for g in grid_size)
    temporal_dims = embed_dims // 4 if temporal_dims is None else temporal_dims
    spatial_dims = embed_dims - temporal_dims
    spatial = get_2d_sincos_pos_embed(spatial_dims, (h, w), order,
                                      temperature)  # (h*w, D_s)
    temporal = get_1d_sincos_pos_embed(temporal_dims, t,
                                       temperature)  # (t, D_t)
    emb = torch.cat([
        spatial.repeat(t, 1),  # (t*h*w, D_s)
        temporal.repeat_interleave(h * w, dim=0),  # (t*h*w, D_t)
    ], dim=1)  # (t*h*w, D)
    if num_extra_tokens:
        emb = torch.cat([emb.new_zeros(num_extra_tokens, embed_dims), emb])
    return emb


def build_sincos_pos_embed(embed_dims: int,
                           grid_size: Sequence[int],
                           order: str = 'wh',
                           num_extra_tokens: int = 0,
                           **kwargs) -> torch.Tensor:
    """2D or 3D sin-cos embedding depending on ``len(grid_size)``.

    ``order='videomae'`` gives :func:`get_token_sincos_pos_embed` of the
    grid's token count for either grid length.

    Returns:
        Tensor: float32 (num_extra_tokens + prod(grid_size), D).
    """
    if order == 'videomae':
        n = 1
        for g in grid_size:
            n *= int(g)
        emb = get_token_sincos_pos_embed(embed_dims, n, **kwargs)
        if num_extra_tokens:
            emb = torch.cat([emb.new_zeros(num_extra_tokens, embed_dims),
                             emb])
        return emb
    if len(grid_size) == 2:
        return get_2d_sincos_pos_embed(
            embed_dims, grid_size, order,
            num_extra_tokens=num_extra_tokens, **kwargs)
    if len(grid_size) == 3:
        return get_3d_sincos_pos_embed(
            embed_dims, grid_size, order=order,
            num_extra_tokens=num_extra_tokens, **kwargs)
    raise ValueError(f'grid_size must be (h, w) or (t, h, w), got '
                     f'{tuple(grid_size)}')


def interpolate_pos_embed(pos_embed: torch.Tensor,
                          src_grid: Sequence[int],
                          dst_grid: Sequence[int],
                          mode: str = 'bicubic',
                          num_extra_tokens: int = 0) -> torch.Tensor:
    """Resize a grid position embedding to another grid.

    2D grids use mmpretrain's ``resize_pos_embed`` (``F.interpolate`` with
    ``align_corners=False``); 3D grids are resized with ``'trilinear'``
    (``'bicubic'`` does not exist in 3D). Extra tokens are kept as they are.
    Equal grids return the input unchanged.

    Args:
        pos_embed (Tensor): (1, G + prod(src_grid), C).
        src_grid (Sequence[int]): ``(h, w)`` or ``(t, h, w)`` of the input.
        dst_grid (Sequence[int]): Target grid, same length.
        mode (str): Interpolation mode for 2D grids. Defaults to
            ``'bicubic'``.
        num_extra_tokens (int): Leading rows that are not grid positions.

    Returns:
        Tensor: (1, G + prod(dst_grid), C).
    """
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    if len(src_grid) != len(dst_grid):
        raise ValueError(f'cannot interpolate a {src_grid} grid to '
                         f'{dst_grid}')
    if src_grid == dst_grid:
        return pos_embed
    if len(src_grid) == 2:
        return resize_pos_embed(pos_embed, src_grid, dst_grid, mode,
                                num_extra_tokens)
    _, L, C = pos_embed.shape
    if L != num_extra_tokens + src_grid[0] * src_grid[1] * src_grid[2]:
        raise ValueError(f'pos_embed of length {L} does not match the '
                         f'{src_grid} grid + {num_extra_tokens} tokens')
    extra = pos_embed[:, :num_extra_tokens]  # (1, G, C)
    grid = pos_embed[:, num_extra_tokens:].reshape(1, *src_grid, C)
    grid = grid.permute(0, 4, 1, 2, 3).float()  # (1, C, t, h, w)
    grid = F.interpolate(
        grid, size=dst_grid, mode='trilinear', align_corners=False)
    grid = grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)  # (1, N', C)
    return torch.cat([extra, grid], dim=1)  # (1, G + N', C)
