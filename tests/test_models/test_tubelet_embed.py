import pytest
import torch

from mmrgbd.models.backbones.tubelet_embed import TubeletPatchEmbed
from mmrgbd.models.maskers.tube import TubeMasker
from mmrgbd.models.utils import get_3d_sincos_pos_embed, patchify
from mmrgbd.registry import MODELS, build_in_scope


def test_tubelet_embed_shape_grid_and_patchify_order():
    torch.manual_seed(0)
    embed = build_in_scope(
        MODELS, dict(type='TubeletPatchEmbed', in_channels=3, embed_dims=8,
                     patch_size=8, tubelet_size=2))
    embed.init_weights()
    assert isinstance(embed.projection, torch.nn.Conv3d)
    x = torch.randn(2, 3, 4, 16, 24)  # (B, C, T, H, W)
    tokens, grid = embed(x)
    assert grid == (2, 2, 3) == embed.get_grid_size((4, 16, 24))
    assert tokens.shape == (2, 12, 8)
    # the conv is a linear map of patchify(x, p, t_p): same token order
    w = embed.projection.weight  # (C_out, C, t_p, p, p)
    w_flat = w.permute(0, 2, 3, 4, 1).reshape(8, -1)  # (C_out, t_p*p*p*C)
    ref = patchify(x, 8, t_p=2) @ w_flat.t() + embed.projection.bias
    assert torch.allclose(tokens, ref, atol=1e-5)


def test_tubelet_embed_16_frames_2x16x16_with_3d_pos_embed():
    embed = TubeletPatchEmbed(in_channels=1, embed_dims=16, patch_size=16,
                              tubelet_size=2)
    x = torch.randn(1, 1, 16, 32, 32)
    tokens, grid = embed(x)
    assert grid == (8, 2, 2) and tokens.shape == (1, 32, 16)
    pos = get_3d_sincos_pos_embed(16, grid)
    assert pos.shape == (32, 16)
    # a tube mask on this grid hides the same spatial tokens in every slice
    vis = TubeMasker(dict(depth=0.5))(1, dict(depth=grid))['depth']
    kept = tokens[vis].reshape(8, 2, 16)  # (t, h*w kept, C)
    per_t = vis.reshape(8, 4)
    assert (per_t == per_t[:1]).all() and kept.shape == (8, 2, 16)


def test_tubelet_embed_errors():
    embed = TubeletPatchEmbed(in_channels=3, embed_dims=8, patch_size=8,
                              tubelet_size=2)
    with pytest.raises(ValueError, match='tubelets of 2'):
        embed(torch.randn(1, 3, 3, 16, 16))
    with pytest.raises(ValueError, match='not divisible'):
        embed(torch.randn(1, 3, 2, 12, 16))
    with pytest.raises(ValueError, match=r'\(B, 3, T, H, W\)'):
        embed(torch.randn(1, 3, 16, 16))


def test_tubelet_embed_grid_from_configured_num_frames():
    embed = TubeletPatchEmbed(in_channels=3, embed_dims=8, patch_size=16,
                              tubelet_size=2, num_frames=16)
    assert embed.get_grid_size((224, 224)) == (8, 14, 14)
    assert embed.get_grid_size((4, 32, 48)) == (2, 2, 3)


@pytest.mark.parametrize('shared', [False, True])
def test_video_backbone_with_tube_mask_feeds_the_new_heads(shared):
    """TubeletPatchEmbed in MultiModalViT; its output dict drives the heads."""
    torch.manual_seed(0)
    arch = dict(embed_dims=16, num_layers=1, num_heads=2,
                feedforward_channels=32)
    vid = dict(type='TubeletPatchEmbed', tubelet_size=2, num_frames=4)
    vit = build_in_scope(MODELS, dict(
        type='MultiModalViT', arch=arch, shared_encoder=shared,
        modalities=dict(rgb=dict(vid, in_channels=3),
                        depth=dict(vid, in_channels=1)),
        img_size=(32, 32), patch_size=16))
    grids = dict(rgb=(2, 2, 2), depth=(2, 2, 2))
    vis = TubeMasker(dict(rgb=0.5, depth=0.5))(
        3, grids, torch.Generator().manual_seed(0))
    out = vit(dict(rgb=torch.randn(3, 3, 4, 32, 32),
                   depth=torch.randn(3, 1, 4, 32, 32)), vis)
    assert out['tokens']['rgb'].shape == (3, 8, 16)
    assert tuple(out['grid_sizes']['depth']) == (2, 2, 2)
    stem = vit.stems['rgb'] if shared else vit.encoders['rgb']
    assert torch.allclose(stem.pos_embed[0, -8:],
                          get_3d_sincos_pos_embed(16, (2, 2, 2)))

    contrast = build_in_scope(MODELS, dict(type='PatchContrastHead',
                                           in_channels=16, out_channels=8))
    match = build_in_scope(MODELS, dict(type='RGBDMatchingHead',
                                        in_channels=16, seed=0))
    with torch.no_grad():
        teacher = vit(dict(rgb=torch.randn(3, 3, 4, 32, 32),
                           depth=torch.randn(3, 1, 4, 32, 32)),
                      {m: torch.ones(3, 8, dtype=torch.bool) for m in grids})
    losses = dict(**contrast.loss(out), **match.loss(out))
    losses['loss_distill'] = build_in_scope(
        MODELS, dict(type='GlobalFeatureDistillLoss'))(out, teacher)
    assert set(losses) == {'loss_patch_nce', 'loss_match', 'acc_match',
                           'loss_distill'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert stem.patch_embed.projection.weight.grad.abs().sum() > 0
