import math

import pytest
import torch

from mmrgbd.models.heads.noise_embedding import (NoiseLevelEmbedding,
                                                 sinusoidal_embedding)
from mmrgbd.registry import MODELS, build_in_scope


def test_sinusoidal_embedding_by_hand():
    v = torch.tensor([0., 0.5, 3.])
    emb = sinusoidal_embedding(v, 6, max_period=100.)
    assert emb.shape == (3, 6)
    freqs = [100.**(-k / 3) for k in range(3)]  # 1, 100^-1/3, 100^-2/3
    for b, val in enumerate(v.tolist()):
        expect = [math.sin(val * f) for f in freqs] + \
            [math.cos(val * f) for f in freqs]
        assert emb[b].tolist() == pytest.approx(expect, abs=1e-6)


def test_sinusoidal_embedding_stays_on_the_values_device():
    """No host round trip (a GPU -> CPU sync every step): computed where
    the values live (the meta device stands in for a GPU)."""
    emb = sinusoidal_embedding(torch.empty(4, device='meta'), 8)
    assert emb.device.type == 'meta' and emb.shape == (4, 8)


def test_noise_embedding_scales_sigma_before_sinusoid():
    emb = NoiseLevelEmbedding(embed_dims=8, freq_dims=16, sigma_scale=1000.)
    sigma = torch.tensor([0.01, 0.2])
    captured = {}

    def hook(module, inputs, output):
        captured['freq'] = inputs[0].detach().clone()

    emb.mlp[0].register_forward_hook(hook)
    emb(sigma)
    assert torch.allclose(captured['freq'],
                          sinusoidal_embedding(sigma * 1000., 16))


def test_noise_embedding_shape_distinct_and_gradient():
    torch.manual_seed(0)
    emb = build_in_scope(MODELS, dict(type='NoiseLevelEmbedding',
                                      embed_dims=12, freq_dims=32))
    sigma = torch.tensor([0., 0.05, 0.1, 0.5, 1.0], requires_grad=True)
    out = emb(sigma)
    assert out.shape == (5, 12)
    # different sigma -> different embedding (pairwise)
    d = torch.cdist(out, out)
    off_diag = d[~torch.eye(5, dtype=torch.bool)]
    assert (off_diag > 1e-4).all()
    # same sigma -> same embedding; (B, 1) input is accepted
    again = emb(torch.tensor([[0.1], [0.1]]))
    assert again.shape == (2, 12) and torch.allclose(again[0], again[1])
    assert torch.allclose(again[0], out[2])
    out.pow(2).sum().backward()
    assert sigma.grad is not None and torch.isfinite(sigma.grad).all()
    assert sigma.grad.abs().sum() > 0
    for p in emb.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_noise_embedding_architecture_and_errors():
    emb = NoiseLevelEmbedding(embed_dims=8, freq_dims=10)
    assert [type(m).__name__ for m in emb.mlp] == ['Linear', 'ReLU', 'Linear']
    assert emb.mlp[0].in_features == 10 and emb.mlp[2].out_features == 8
    with pytest.raises(ValueError, match=r'\(B,\)'):
        emb(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='even'):
        NoiseLevelEmbedding(embed_dims=8, freq_dims=9)
