import pytest
import torch

from mmrgbd.models.maskers.random_patch import RandomPatchMasker
from mmrgbd.models.maskers.tube import (RandomTokenMasker, TubeMasker,
                                        num_hidden)
from mmrgbd.registry import MODELS, build_in_scope


def test_num_hidden_exact_counts():
    assert num_hidden(0.9, 196) == 176  # 176.4
    assert num_hidden(0.9, 1568) == 1411  # 1411.2 (16 frames, 2x16x16)
    assert num_hidden(0.29, 100) == 29  # 0.29 * 100 = 28.999...
    assert num_hidden(0.25, 10) == 3  # 2.5 rounds half up
    assert num_hidden(0., 10) == 0
    assert num_hidden(1., 10) == 10


def test_tube_mask_identical_across_time_and_exact_counts():
    masker = build_in_scope(
        MODELS, dict(type='TubeMasker', mask_ratios=dict(rgb=0.9,
                                                          depth=0.5)))
    assert isinstance(masker, TubeMasker)
    B, t, h, w = 4, 8, 4, 5
    vis = masker(B, dict(rgb=(t, h, w), depth=(t, h, w)),
                 generator=torch.Generator().manual_seed(0))
    assert set(vis) == {'rgb', 'depth'}
    for mod, n_vis_frame in (('rgb', 20 - 18), ('depth', 20 - 10)):
        v = vis[mod]
        assert v.dtype == torch.bool and v.shape == (B, t * h * w)
        per_t = v.reshape(B, t, h * w)  # time-major token order
        assert (per_t == per_t[:, :1]).all(), 'mask differs across time'
        assert (per_t.sum(-1) == n_vis_frame).all()
        assert (v.sum(-1) == t * n_vis_frame).all()
    # samples get different spatial masks; modalities independent masks
    assert not all(torch.equal(vis['rgb'][0], vis['rgb'][b])
                   for b in range(1, B))
    rgb_frame0 = vis['rgb'].reshape(B, t, h * w)[:, 0]
    depth_frame0 = vis['depth'].reshape(B, t, h * w)[:, 0]
    # rgb visible set is not systematically inside depth's (independent)
    assert not (rgb_frame0 <= depth_frame0).all()


def test_tube_mask_reproducible_and_device():
    masker = TubeMasker(mask_ratios=dict(rgb=0.75))
    a = masker(3, dict(rgb=(2, 4, 4)), torch.Generator().manual_seed(1),
               device='cpu')
    b = masker(3, dict(rgb=(2, 4, 4)), torch.Generator().manual_seed(1))
    c = masker(3, dict(rgb=(2, 4, 4)), torch.Generator().manual_seed(2))
    assert torch.equal(a['rgb'], b['rgb'])
    assert not torch.equal(a['rgb'], c['rgb'])
    assert a['rgb'].device.type == 'cpu'


def test_tube_mask_uniform_over_positions():
    """Every spatial position is hidden about mask_ratio of the time."""
    masker = TubeMasker(mask_ratios=dict(rgb=0.75))
    vis = masker(4000, dict(rgb=(1, 2, 2)),
                 generator=torch.Generator().manual_seed(0))['rgb']
    freq = vis.float().mean(0)
    assert torch.allclose(freq, torch.full((4, ), 0.25), atol=0.03)


def test_tube_mask_image_grid_and_errors():
    vis = TubeMasker(dict(rgb=0.5))(2, dict(rgb=(4, 4)))['rgb']
    assert vis.shape == (2, 16) and (vis.sum(-1) == 8).all()
    with pytest.raises(KeyError, match='no mask ratio'):
        TubeMasker(dict(rgb=0.9))(2, dict(depth=(2, 4, 4)))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        TubeMasker(dict(rgb=1.5))
    with pytest.raises(ValueError, match='grid'):
        TubeMasker(dict(rgb=0.9))(2, dict(rgb=(2, 0, 4)))


def test_random_token_masker_counts_and_no_tube_structure():
    masker = build_in_scope(
        MODELS, dict(type='RandomTokenMasker',
                     mask_ratios=dict(rgb=0.9, depth=0.75)))
    B, t, h, w = 6, 4, 4, 5
    vis = masker(B, dict(rgb=(t, h, w), depth=(t, h, w)),
                 generator=torch.Generator().manual_seed(0))
    assert (vis['rgb'].sum(-1) == 80 - 72).all()
    assert (vis['depth'].sum(-1) == 80 - 60).all()
    per_t = vis['depth'].reshape(B, t, h * w)
    assert not (per_t == per_t[:, :1]).all()
    # it is the image RandomPatchMasker, configured by mask ratio
    assert isinstance(masker, RandomPatchMasker)
    # mask 0.25 of 10 tokens hides round_half_up(2.5) = 3, like TubeMasker
    v = RandomTokenMasker(dict(rgb=0.25))(4, dict(rgb=(1, 2, 5)))['rgb']
    assert (v.sum(-1) == 7).all()
    with pytest.raises(KeyError, match='no mask ratio'):
        masker(2, dict(points=(2, 2, 2)))
