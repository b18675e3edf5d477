"""SurgMAE-style information-weighted masking and shared visible
positions (M3 3D video, Table 11)."""
import pytest
import torch

from mmrgbd.models.maskers import (InformationWeightedMasker,
                                   SharedPositionsMasker, TubeMasker,
                                   frame_difference_energy)
from mmrgbd.registry import MODELS, build_in_scope


def test_frame_difference_energy_by_hand():
    # (B, C, T, H, W) = (1, 1, 4, 2, 4); 2x2 patches, 2-frame tubelets
    clip = torch.zeros(1, 1, 4, 2, 4)
    clip[0, 0, 1, :, 2:] = 3.  # frame 1, right patch: differs from frame 0
    clip[0, 0, 2, :, :2] = 5.  # frame 2 (first of tubelet 1), left patch
    clip[0, 0, 3, :, :2] = 5.  # ... constant inside tubelet 1
    s = frame_difference_energy(clip, patch_size=2, tubelet_size=2)
    # tokens (t, w): (0, L) (0, R) (1, L) (1, R); only intra-tubelet diffs
    torch.testing.assert_close(s, torch.tensor([[0., 9., 0., 0.]]))
    clip3 = torch.randn(2, 3, 6, 4, 4)
    ref = ((clip3[:, :, 1:] - clip3[:, :, :-1])**2)
    ref = ref[:, :, [0, 1, 3, 4]].reshape(2, 3, 2, 2, 4, 4).mean(
        dim=(1, 3))  # (B, t, H, W); pairs (0,1) (1,2) | (3,4) (4,5)
    ref = ref.reshape(2, 2, 2, 2, 2, 2).mean(dim=(3, 5)).flatten(1)
    torch.testing.assert_close(
        frame_difference_energy(clip3, 2, 3), ref)
    with pytest.raises(ValueError, match='>= 2 frames'):
        frame_difference_energy(clip3, 2, 1)


def moving_half_clip(B=2, T=4, H=8, W=16, p=4):
    """The right half moves, the left half is static."""
    g = torch.Generator().manual_seed(0)
    clip = torch.zeros(B, 3, T, H, W)
    clip[..., W // 2:] = torch.randn(B, 3, T, H, W // 2, generator=g)
    return clip


def test_keeps_exact_count_and_prefers_moving_tokens():
    masker = build_in_scope(
        MODELS, dict(type='InformationWeightedMasker',
                     mask_ratios=dict(rgb=0.75), patch_size=4,
                     tubelet_size=2))
    clip = moving_half_clip()
    grid = (2, 2, 4)  # 16 tokens; columns 2, 3 move
    moving = torch.zeros(2, 2, 2, 4, dtype=torch.bool)  # (B, t, h, w)
    moving[..., 2:] = True
    moving = moving.flatten(1)
    kept_moving, kept = 0, 0
    g = torch.Generator().manual_seed(0)
    with masker.conditioned_on(dict(rgb=clip)):
        for _ in range(200):
            vis = masker(2, dict(rgb=grid), generator=g)['rgb']
            assert vis.sum(1).tolist() == [4, 4]  # 16 - round(0.75 * 16)
            kept_moving += int((vis & moving).sum())
            kept += int(vis.sum())
    # p = 0.9 * s / sum(s) + 0.1 / 16: moving tokens get 0.9 / 8 + 1 / 160
    # each, static ones 1 / 160; >= 93 % of the kept tokens move
    assert kept_moving / kept > 0.93
    # a static clip falls back to uniform sampling
    counts = torch.zeros(16)
    with masker.conditioned_on(dict(rgb=torch.zeros(2, 3, 4, 8, 16))):
        for _ in range(300):
            counts += masker(2, dict(rgb=grid), generator=g)['rgb'].sum(0)
    assert counts.min() > 0.6 * counts.mean()


def test_information_masker_is_seeded_and_needs_the_clip():
    masker = InformationWeightedMasker(mask_ratios=dict(rgb=0.5),
                                       patch_size=4)
    clip = moving_half_clip()
    grid = dict(rgb=(2, 2, 4))
    with masker.conditioned_on(dict(rgb=clip)):
        a = masker(2, grid, generator=torch.Generator().manual_seed(3))
        b = masker(2, grid, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a['rgb'], b['rgb'])
    with pytest.raises(RuntimeError, match='conditioned_on'):
        masker(2, grid)


def test_shared_positions_copy_the_source_mask():
    masker = build_in_scope(
        MODELS, dict(type='SharedPositionsMasker',
                     masker=dict(type='TubeMasker',
                                 mask_ratios=dict(rgb=0.9)),
                     shared=dict(depth='rgb')))
    assert isinstance(masker.masker, TubeMasker)
    assert not masker.needs_inputs
    grids = dict(rgb=(8, 14, 14), depth=(8, 14, 14))
    vis = masker(16, grids, generator=torch.Generator().manual_seed(0))
    assert torch.equal(vis['rgb'], vis['depth'])
    assert vis['depth'].sum(1).tolist() == [8 * 20] * 16  # 196 - 176
    with pytest.raises(ValueError, match='grid'):
        masker(2, dict(rgb=(8, 14, 14), depth=(8, 7, 7)))
    with pytest.raises(ValueError, match='name the original source'):
        SharedPositionsMasker(masker=dict(type='TubeMasker'),
                              shared=dict(depth='rgb', rgb='depth'))


def test_shared_positions_forward_the_clip_to_a_content_aware_masker():
    masker = SharedPositionsMasker(
        masker=dict(type='InformationWeightedMasker',
                    mask_ratios=dict(rgb=0.75), patch_size=4),
        shared=dict(depth='rgb'))
    assert masker.needs_inputs
    clip = moving_half_clip()
    grids = dict(rgb=(2, 2, 4), depth=(2, 2, 4))
    with masker.conditioned_on(dict(rgb=clip, depth=clip[:, :1])):
        vis = masker(2, grids, generator=torch.Generator().manual_seed(0))
    assert torch.equal(vis['rgb'], vis['depth'])
    assert vis['rgb'].sum(1).tolist() == [4, 4]
