"""Unmodified mmdet3d point modules run on CPU after enable_cpu_point_ops()."""
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('mmdet3d')

from mmcv.ops import Voxelization  # noqa: E402
from mmcv.ops.points_sampler import calc_square_dist  # noqa: E402

from mmrgbd.ops import (DispatchedOp, cpu_point_ops,  # noqa: E402
                        disable_cpu_point_ops, enable_cpu_point_ops,
                        furthest_point_sample_torch,
                        furthest_point_sample_with_dist_torch,
                        is_cpu_point_ops_enabled, patched_names)
from mmrgbd.registry import MODELS, build_in_scope  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / '..' / 'shared' / 'samples'

MVX_VFE = dict(
    in_channels=4,
    feat_channels=[64, 64],
    with_distance=False,
    voxel_size=[0.05, 0.05, 0.1],
    with_cluster_center=True,
    with_voxel_center=True,
    point_cloud_range=[0, -40, -3, 70.4, 40, 1],
    fusion_layer=None)


@pytest.fixture
def unpatched():
    """Run a test with mmcv's originals, then restore the previous state."""
    was_enabled = is_cpu_point_ops_enabled()
    disable_cpu_point_ops()
    yield
    if was_enabled:
        enable_cpu_point_ops()


def _sa_msg():
    from mmdet3d.models.layers import PointSAModuleMSG
    torch.manual_seed(0)
    return PointSAModuleMSG(
        num_point=[16, 16],
        radii=[0.2, 0.4],
        sample_nums=[8, 16],
        mlp_channels=[[4, 8, 8], [4, 8, 16]],
        fps_mod=['F-FPS', 'D-FPS'],
        fps_sample_range_list=[48, -1])


def _points(b=2, n=96, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 3, generator=g), torch.rand(b, c, n, generator=g)


def test_import_alone_patches_nothing():
    code = ('import mmrgbd, mmrgbd.ops, mmcv.ops\n'
            'from mmcv.ops import points_sampler, group_points\n'
            'from mmrgbd.ops import DispatchedOp\n'
            'assert not isinstance(points_sampler.furthest_point_sample, '
            'DispatchedOp)\n'
            'assert not isinstance(group_points.ball_query, DispatchedOp)\n'
            'assert not mmrgbd.ops.is_cpu_point_ops_enabled()\n'
            'print("clean")\n')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         cwd=REPO,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith('clean')


def test_enable_is_idempotent_scoped_and_reversible(unpatched):
    import mmcv.ops
    from mmcv.ops import group_points, points_sampler, scatter_points
    from mmdet3d.models.layers.pointnet_modules import point_sa_module
    original = points_sampler.furthest_point_sample
    with cpu_point_ops() as patched:
        for name in [
                'mmcv.ops.furthest_point_sample',
                'mmcv.ops.points_sampler.furthest_point_sample',
                'mmcv.ops.points_sampler.furthest_point_sample_with_dist',
                'mmcv.ops.group_points.ball_query',
                'mmcv.ops.group_points.grouping_operation',
                'mmcv.ops.scatter_points.dynamic_scatter',
                'mmdet3d.models.layers.pointnet_modules.point_sa_module.'
                'gather_points',
                'mmdet3d.models.layers.pointnet_modules.point_fp_module.'
                'three_nn',
                'mmdet3d.models.data_preprocessors.voxelize.'
                'dynamic_scatter_3d',
        ]:
            assert name in patched
        assert isinstance(points_sampler.furthest_point_sample, DispatchedOp)
        assert isinstance(mmcv.ops.gather_points, DispatchedOp)
        assert point_sa_module.gather_points is mmcv.ops.gather_points
        assert group_points.ball_query.name == 'ball_query'
        assert scatter_points.dynamic_scatter.name == 'dynamic_scatter'
        assert enable_cpu_point_ops() == patched  # idempotent
        assert patched_names() == patched
    assert points_sampler.furthest_point_sample is original
    assert not is_cpu_point_ops_enabled()
    assert patched_names() == {}


def test_point_sa_module_msg_3dssd_style(unpatched):
    xyz, feats = _points()
    module = _sa_msg()
    with pytest.raises(RuntimeError):  # mmcv has no CPU kernel
        module(xyz, feats)
    with cpu_point_ops():
        feats.requires_grad_(True)
        new_xyz, new_feats, indices = module(xyz, feats)
        assert new_xyz.shape == (2, 32, 3)
        assert new_feats.shape == (2, 8 + 16, 32)
        assert indices.shape == (2, 32)
        # F-FPS on the first 48 points (3DSSD feature distance) ...
        cat = torch.cat([xyz[:, :48], feats[:, :, :48].transpose(1, 2)], 2)
        ffps = furthest_point_sample_with_dist_torch(
            calc_square_dist(cat, cat, norm=False), 16)
        assert torch.equal(indices[:, :16], ffps)
        # ... then D-FPS on the remaining ones, offset by 48
        dfps = furthest_point_sample_torch(xyz[:, 48:].contiguous(), 16) + 48
        assert torch.equal(indices[:, 16:], dfps)
        assert torch.equal(new_xyz,
                           xyz[torch.arange(2)[:, None], indices.long()])
        new_feats.sum().backward()
        assert feats.grad.abs().sum() > 0
        assert module.mlps[0][0].conv.weight.grad.abs().sum() > 0


def test_point_sa_module_ssg_group_all_and_fp_module():
    from mmdet3d.models.layers import PointFPModule, PointSAModule
    xyz, feats = _points(n=64)
    with cpu_point_ops():
        sa = PointSAModule(mlp_channels=[4, 16], num_point=8, radius=0.5,
                           num_sample=8)
        new_xyz, new_feats, idx = sa(xyz, feats)
        assert torch.equal(idx, furthest_point_sample_torch(xyz, 8))
        glob = PointSAModule(mlp_channels=[16, 32])  # GroupAll
        _, global_feats, _ = glob(new_xyz, new_feats)
        assert global_feats.shape == (2, 32, 1)
        fp = PointFPModule(mlp_channels=[16 + 4, 8])
        up = fp(xyz, new_xyz, feats, new_feats)
        assert up.shape == (2, 8, 64)


def _voxelize(points, cfg):
    """Dynamic voxelization (mmcv has a CPU kernel) + batch index column."""
    voxelize = Voxelization(cfg['voxel_size'], cfg['point_cloud_range'],
                            max_num_points=-1)
    coors = voxelize(points)  # (N, 3) zyx, -1 outside the range
    return torch.nn.functional.pad(coors, (1, 0), value=0)  # (N, 4)


def test_dynamic_vfe_mvxnet_config(unpatched):
    from mmdet3d.models.voxel_encoders import DynamicVFE
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(600, 4, generator=g)
    pts[:, :3] = pts[:, :3] * torch.tensor([0.4, 0.4, 0.5])  # few voxels
    pts[:3, 0] = -5.0  # outside the range: dropped by the scatter
    coors = _voxelize(pts[:, :3].contiguous(), MVX_VFE)
    assert (coors[:3, 1:] == -1).all() and (coors[3:] >= 0).all()
    torch.manual_seed(0)
    vfe = DynamicVFE(**MVX_VFE)
    with pytest.raises(RuntimeError):
        vfe(pts, coors)
    with cpu_point_ops():
        voxel_feats, voxel_coors = vfe(pts, coors)
        assert voxel_feats.shape == (len(voxel_coors), 64)
        expect_coors = torch.unique(coors[3:], dim=0)  # sorted, valid
        assert torch.equal(voxel_coors, expect_coors)
        voxel_feats.sum().backward()
        assert vfe.vfe_layers[0][0].weight.grad.abs().sum() > 0
        # max-pooling of the per-point features, checked with a dict loop
        vfe.eval()
        vfe.return_point_feats = True
        point_feats = vfe(pts, coors)
        vfe.return_point_feats = False
        voxel_feats, voxel_coors = vfe(pts, coors)
    groups = {}
    for i, c in enumerate(coors.tolist()):
        if min(c) >= 0:
            groups.setdefault(tuple(c), []).append(i)
    for v, key in enumerate(sorted(groups)):
        assert tuple(voxel_coors[v].tolist()) == key
        torch.testing.assert_close(voxel_feats[v],
                                   point_feats[groups[key]].max(0).values)


def test_dynamic_vfe_on_real_kitti_points(unpatched):
    path = SAMPLES / 'mmdet3d_kitti_demo' / '000008.bin'
    if not path.is_file():
        pytest.skip(f'KITTI demo point cloud not found at {path.resolve()}')
    from mmdet3d.models.voxel_encoders import DynamicVFE
    pts = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 4))
    lo = torch.tensor(MVX_VFE['point_cloud_range'][:3])
    hi = torch.tensor(MVX_VFE['point_cloud_range'][3:])
    pts = pts[((pts[:, :3] >= lo) & (pts[:, :3] < hi)).all(1)]  # range filter
    coors = _voxelize(pts[:, :3].contiguous(), MVX_VFE)
    valid = (coors >= 0).all(1)
    vfe = DynamicVFE(**MVX_VFE).eval()
    with cpu_point_ops(), torch.no_grad():
        voxel_feats, voxel_coors = vfe(pts[valid], coors[valid])
    assert len(voxel_coors) == len(torch.unique(coors[valid], dim=0))
    assert len(voxel_coors) > 1000  # 17k points at 5 cm resolution
    assert voxel_feats.shape == (len(voxel_coors), 64)
    assert torch.isfinite(voxel_feats).all()


def test_cpu_fallbacks_module_for_custom_imports():
    from mmengine.utils import import_modules_from_strings
    was_enabled = is_cpu_point_ops_enabled()
    try:
        if 'mmrgbd.ops.cpu_fallbacks' in sys.modules:
            disable_cpu_point_ops()
            module = importlib.reload(sys.modules['mmrgbd.ops.cpu_fallbacks'])
        else:
            module = import_modules_from_strings(
                ['mmrgbd.ops.cpu_fallbacks'])[0]
        assert is_cpu_point_ops_enabled()
        assert module.PATCHED == patched_names()
        assert 'mmcv.ops.scatter_points.dynamic_scatter' in module.PATCHED
    finally:
        if not was_enabled:
            disable_cpu_point_ops()


def test_dynamic_scatter_module_is_registered():
    module = build_in_scope(
        MODELS,
        dict(type='DynamicScatter', voxel_size=[1, 1, 1],
             point_cloud_range=[0, 0, 0, 4, 4, 4], average_points=False))
    feats = torch.tensor([[1., 2.], [3., 0.], [5., 5.]])
    coors = torch.tensor([[0, 0, 1], [0, 0, 1], [1, 0, 0]],
                         dtype=torch.int32)
    out, out_coors = module(feats, coors)  # works without any patch
    assert out.tolist() == [[3., 2.], [5., 5.]]
    assert out_coors.tolist() == [[0, 0, 1], [1, 0, 0]]


def test_3dssd_backbone_with_fs_sampling():
    """mmdet3d's PointNet2SAMSG with 3DSSD's D-FPS / FS / F-FPS+D-FPS."""
    from mmdet3d.registry import MODELS as MMDET3D_MODELS
    cfg = dict(
        type='PointNet2SAMSG',
        in_channels=4,
        num_points=(32, 16, (8, 8)),
        radii=((0.2, 0.4), (0.4, 0.8), (0.8, 1.6)),
        num_samples=((8, 8), (8, 8), (8, 8)),
        sa_channels=(((8, ), (8, )), ((16, ), (16, )), ((16, ), (16, ))),
        aggregation_channels=(16, 32, 32),
        fps_mods=(('D-FPS'), ('FS'), ('F-FPS', 'D-FPS')),
        fps_sample_range_lists=((-1), (-1), (8, -1)),
        norm_cfg=dict(type='BN2d'),
        sa_cfg=dict(type='PointSAModuleMSG', pool_mod='max',
                    use_xyz=True, normalize_xyz=False))
    torch.manual_seed(0)
    backbone = MMDET3D_MODELS.build(dict(cfg, _scope_='mmdet3d')).eval()
    backbone.out_indices = (0, 1, 2)  # return every level
    points = torch.rand(2, 128, 4)
    with cpu_point_ops(), torch.no_grad():
        out = backbone(points)
    xyz, feats, inds = out['sa_xyz'], out['sa_features'], out['sa_indices']
    assert [tuple(x.shape) for x in xyz[1:]] == [(2, 32, 3), (2, 32, 3),
                                                 (2, 16, 3)]
    assert feats[-1].shape == (2, 32, 16)
    assert torch.equal(inds[1], furthest_point_sample_torch(xyz[0], 32))
    # level 2 is FS: F-FPS (features of level 1) then D-FPS, 16 each
    cat = torch.cat([xyz[1], feats[1].transpose(1, 2)], dim=2)
    ffps = furthest_point_sample_with_dist_torch(
        calc_square_dist(cat, cat, norm=False), 16)
    dfps = furthest_point_sample_torch(xyz[1], 16)
    local = torch.cat([ffps, dfps], dim=1).long()  # (2, 32) into level 1
    assert torch.equal(inds[2], inds[1].gather(1, local))
