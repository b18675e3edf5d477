import math

import pytest
import torch

from mmrgbd.models.utils import (get_1d_sincos_pos_embed,
                                 get_2d_sincos_pos_embed,
                                 get_3d_sincos_pos_embed,
                                 interpolate_pos_embed)


def closed_form_1d(x, d):
    """[sin(x w_k)]_k ++ [cos(x w_k)]_k, w_k = 1 / 10000^(k / (d/2))."""
    half = d // 2
    ws = [1. / 10000**(k / half) for k in range(half)]
    return [math.sin(x * w) for w in ws] + [math.cos(x * w) for w in ws]


def test_1d_formula():
    emb = get_1d_sincos_pos_embed(8, [0., 1., 2.5])
    assert emb.shape == (3, 8) and emb.dtype == torch.float32
    for i, x in enumerate([0., 1., 2.5]):
        assert torch.allclose(emb[i], torch.tensor(closed_form_1d(x, 8)),
                              atol=1e-6)
    assert torch.equal(get_1d_sincos_pos_embed(8, 3)[2],
                       get_1d_sincos_pos_embed(8, [2.])[0])


@pytest.mark.parametrize('order', ['wh', 'hw'])
def test_2d_non_square_15x20_closed_form(order):
    D = 16
    emb = get_2d_sincos_pos_embed(D, (15, 20), order)
    assert emb.shape == (300, D)
    for r, c in [(0, 0), (0, 19), (14, 0), (7, 13), (14, 19)]:
        n = r * 20 + c  # row-major token index
        col, row = closed_form_1d(c, D // 2), closed_form_1d(r, D // 2)
        ref = col + row if order == 'wh' else row + col
        assert torch.allclose(emb[n], torch.tensor(ref), atol=1e-6)


def test_2d_extra_tokens_and_square_int():
    emb = get_2d_sincos_pos_embed(8, 3, num_extra_tokens=1)
    assert emb.shape == (10, 8)
    assert torch.equal(emb[0], torch.zeros(8))
    assert torch.equal(emb[1:], get_2d_sincos_pos_embed(8, (3, 3)))


def test_hw_order_equals_mmpretrain_on_square_grids():
    """mmpretrain's (MoCo v3 / MultiMAE) builder encodes the row first."""
    from mmpretrain.models.utils import build_2d_sincos_position_embedding
    ref = build_2d_sincos_position_embedding(5, 16)[0]  # (25, 16)
    assert torch.allclose(get_2d_sincos_pos_embed(16, (5, 5), 'hw'), ref,
                          atol=1e-5)
    assert not torch.allclose(
        get_2d_sincos_pos_embed(16, (5, 5), 'wh'), ref, atol=1e-3)


def test_2d_errors():
    with pytest.raises(ValueError, match='multiple of 4'):
        get_2d_sincos_pos_embed(10, (2, 2))
    with pytest.raises(ValueError, match='order'):
        get_2d_sincos_pos_embed(8, (2, 2), 'xy')


def _ramp(h, w):
    """(1, 1 + h*w, 2) embedding whose channels are row and column."""
    rows = torch.arange(h).repeat_interleave(w).float()
    cols = torch.arange(w).repeat(h).float()
    grid = torch.stack([rows, cols], dim=1)
    return torch.cat([torch.full((1, 2), 7.), grid])[None]


def test_interpolate_known_grid_from_14x14():
    pos = _ramp(14, 14)
    assert interpolate_pos_embed(pos, (14, 14), (14, 14), 'bilinear',
                                 1) is pos
    # downsample 14 -> 7 (align_corners=False): out i samples 2 i + 0.5
    out = interpolate_pos_embed(pos, (14, 14), (7, 7), 'bilinear', 1)
    assert out.shape == (1, 50, 2)
    assert torch.equal(out[0, 0], torch.tensor([7., 7.]))  # extra token kept
    grid = out[0, 1:].reshape(7, 7, 2)
    expect = torch.arange(7).float() * 2 + 0.5
    assert torch.allclose(grid[:, 3, 0], expect, atol=1e-5)  # rows
    assert torch.allclose(grid[4, :, 1], expect, atol=1e-5)  # cols
    # upsample 14 -> 28 x 21: out i samples (i + 0.5) * s - 0.5, clamped
    out = interpolate_pos_embed(pos, (14, 14), (28, 21), 'bilinear', 1)
    grid = out[0, 1:].reshape(28, 21, 2)
    src_r = ((torch.arange(28) + 0.5) * 0.5 - 0.5).clamp(0, 13)
    src_c = ((torch.arange(21) + 0.5) * (14 / 21) - 0.5).clamp(0, 13)
    assert torch.allclose(grid[:, 0, 0], src_r, atol=1e-5)
    assert torch.allclose(grid[0, :, 1], src_c, atol=1e-5)


def test_interpolate_sincos_bicubic_shape_and_extra_token():
    pos = get_2d_sincos_pos_embed(32, (14, 14), num_extra_tokens=1)[None]
    out = interpolate_pos_embed(pos, (14, 14), (15, 20), 'bicubic', 1)
    assert out.shape == (1, 301, 32)
    assert torch.equal(out[0, 0], torch.zeros(32))


def test_3d_layout():
    D, t, h, w = 32, 3, 2, 4
    emb = get_3d_sincos_pos_embed(D, (t, h, w))
    assert emb.shape == (t * h * w, D)
    spatial = get_2d_sincos_pos_embed(D - D // 4, (h, w))
    temporal = get_1d_sincos_pos_embed(D // 4, t)
    for ti in range(t):
        for n in range(h * w):
            row = emb[ti * h * w + n]  # time-major token order
            assert torch.equal(row[:D - D // 4], spatial[n])
            assert torch.equal(row[D - D // 4:], temporal[ti])
    pos = emb[None]
    out = interpolate_pos_embed(pos, (t, h, w), (6, 2, 4))
    assert out.shape == (1, 48, D)
    with pytest.raises(ValueError, match='cannot interpolate'):
        interpolate_pos_embed(pos, (t, h, w), (2, 4))
