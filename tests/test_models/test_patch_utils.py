import pytest
import torch

from mmrgbd.models.utils import patchify, unpatchify


def test_patchify_layout_matches_formula():
    B, C, H, W, p = 2, 3, 4, 6, 2
    x = torch.arange(B * C * H * W, dtype=torch.float32).reshape(B, C, H, W)
    y = patchify(x, p)
    h, w = H // p, W // p
    assert y.shape == (B, h * w, p * p * C)
    for b in range(B):
        for r in range(h):
            for c in range(w):
                n = r * w + c  # row-major token order
                for i in range(p):
                    for j in range(p):
                        for ch in range(C):
                            assert y[b, n, (i * p + j) * C + ch] == \
                                x[b, ch, r * p + i, c * p + j]


def test_unpatchify_inverts_patchify_non_square():
    x = torch.randn(3, 2, 8, 12)
    y = patchify(x, 4)  # grid (2, 3)
    assert torch.equal(unpatchify(y, 4, (2, 3)), x)
    z = torch.randn(3, 6, 4 * 4 * 5)
    assert torch.equal(patchify(unpatchify(z, 4, (2, 3)), 4), z)
    # default grid is square
    sq = torch.randn(1, 1, 8, 8)
    assert torch.equal(unpatchify(patchify(sq, 2), 2), sq)


def test_rectangular_patches():
    x = torch.randn(1, 3, 6, 8)
    y = patchify(x, (3, 4))
    assert y.shape == (1, 4, 36)
    assert torch.equal(y[0, 1, :3], x[0, :, 0, 4])  # token (0, 1), pixel 0
    assert torch.equal(unpatchify(y, (3, 4), (2, 2)), x)


def test_video_tubelets_layout_and_round_trip():
    B, C, T, H, W, tp, p = 1, 2, 4, 4, 6, 2, 2
    x = torch.randn(B, C, T, H, W)
    y = patchify(x, p, t_p=tp)
    t, h, w = T // tp, H // p, W // p
    assert y.shape == (B, t * h * w, tp * p * p * C)
    # token (1, 1, 2), in-tubelet offset (s=1, i=0, j=1), channel 1
    n = (1 * h + 1) * w + 2
    k = ((1 * p + 0) * p + 1) * C + 1
    assert y[0, n, k] == x[0, 1, 1 * tp + 1, 1 * p + 0, 2 * p + 1]
    assert torch.equal(unpatchify(y, p, (t, h, w), t_p=tp), x)


def test_errors():
    with pytest.raises(ValueError, match='not divisible'):
        patchify(torch.zeros(1, 3, 10, 16), 4)
    with pytest.raises(ValueError, match='does not fit'):
        unpatchify(torch.zeros(1, 6, 48), 4, (2, 2))
    with pytest.raises(ValueError, match='expects'):
        patchify(torch.zeros(3, 8, 8), 4)
