"""PointNet2Encoder: mmdet3d's PointNet2SAMSG on CPU for SimIPU."""
import pytest
import torch

pytest.importorskip('mmdet3d')

import mmrgbd.models  # noqa: E402,F401
from mmrgbd.models.backbones import PointNet2Encoder  # noqa: E402
from mmrgbd.models.backbones.pointnet2_encoder import SIMIPU_SAMSG  # noqa
from mmrgbd.ops import (furthest_point_sample_torch,  # noqa: E402
                        is_cpu_point_ops_enabled)
from mmrgbd.registry import MODELS, build_in_scope  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(**kwargs):
    cfg = dict(
        type='mmdet3d.PointNet2SAMSG',
        in_channels=4,
        num_points=(64, 32, (16, 16)),
        radii=((0.5, 1.0), (1.0, 2.0), (2.0, 4.0)),
        num_samples=((8, 8), (8, 8), (8, 8)),
        sa_channels=(((8, 8), (8, 8)), ((16, 16), (16, 16)),
                     ((16, 16), (16, 32))),
        aggregation_channels=(16, 32, 24),
        fps_mods=(('D-FPS'), ('FS'), ('F-FPS', 'D-FPS')),
        fps_sample_range_lists=((-1), (-1), (32, -1)),
        norm_cfg=dict(type='BN2d'),
        sa_cfg=dict(type='PointSAModuleMSG', pool_mod='max', use_xyz=True,
                    normalize_xyz=False))
    cfg.update(kwargs)
    return cfg


def _points(b=2, n=160, seed=0):
    g = torch.Generator().manual_seed(seed)
    xyz = torch.rand(b, n, 3, generator=g) * torch.tensor([20., 10., 3.])
    return torch.cat([xyz, torch.rand(b, n, 1, generator=g)], -1)


def test_builds_from_mmdet3d_and_returns_last_level():
    torch.manual_seed(0)
    enc = build_in_scope(MODELS, dict(type='PointNet2Encoder',
                                      sa_cfg=tiny()))
    assert is_cpu_point_ops_enabled()
    from mmdet3d.models.backbones import PointNet2SAMSG
    assert isinstance(enc.sa, PointNet2SAMSG) and len(enc.sa.SA_modules) == 3
    assert enc.out_channels == 24
    points = _points()
    points.requires_grad_(True)
    out = enc(points)
    # 64 (D-FPS) -> 2 x 32 (FS: F-FPS + D-FPS) -> 16 F-FPS + 16 D-FPS
    assert out['xyz'].shape == (2, 32, 3)
    assert out['features'].shape == (2, 32, 24)
    assert out['indices'].shape == (2, 32)
    # locations are input points, addressed by the returned indices
    bidx = torch.arange(2)[:, None]
    assert torch.equal(out['xyz'], points[bidx, out['indices'], :3])
    # layer 1 is D-FPS on the raw cloud (the first 64 layer-1 indices)
    l1 = furthest_point_sample_torch(points[..., :3].detach().contiguous(),
                                     64)
    assert set(out['indices'][0].tolist()) <= set(l1[0].tolist())
    out['features'].sum().backward()
    assert points.grad is not None
    assert all(p.grad is not None for p in enc.parameters()
               if p.requires_grad)


def test_list_input_and_errors():
    enc = build_in_scope(MODELS, dict(type='PointNet2Encoder',
                                      sa_cfg=tiny()))
    pts = _points()
    enc.eval()
    with torch.no_grad():
        a = enc(pts)
        b = enc([pts[0], pts[1]])
    assert torch.equal(a['features'], b['features'])
    with pytest.raises(ValueError, match='differ in size'):
        enc([pts[0], pts[1, :100]])
    with pytest.raises(ValueError, match='4 point channels'):
        enc(pts[..., :3])


def test_simipu_default_architecture():
    assert PointNet2Encoder.__init__.__defaults__[0] is SIMIPU_SAMSG
    enc = PointNet2Encoder(sa_cfg=dict(
        SIMIPU_SAMSG, num_points=(128, 32, (32, 32)),
        fps_sample_range_lists=((-1), (-1), (32, -1))))
    assert enc.out_channels == 1024
    mods = [m.points_sampler.samplers for m in enc.sa.SA_modules]
    names = [[type(s).__name__ for s in m] for m in mods]
    assert names == [['DFPSSampler'], ['FSSampler'],
                     ['FFPSSampler', 'DFPSSampler']]
    with torch.no_grad():
        enc.eval()
        out = enc(_points(b=1, n=256))
    assert out['features'].shape == (1, 64, 1024)
