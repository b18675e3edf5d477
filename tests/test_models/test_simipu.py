"""SimIPU: InfoNCE terms against hand computations, stop-gradient, ablations,
hybrid optimiser configs, double fine-tuning, runner resume and real KITTI."""
import copy
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

pytest.importorskip('mmdet3d')

import mmrgbd.datasets  # noqa: E402,F401
import mmrgbd.engine  # noqa: E402,F401
import mmrgbd.models  # noqa: E402,F401
from mmrgbd.datasets.transforms.lidar import project_points  # noqa: E402
from mmrgbd.models.algorithms import simipu as simipu_mod  # noqa: E402
from mmrgbd.models.algorithms.simipu import (  # noqa: E402
    match_points, project_to_image, sample_image_features,
    transform_points)
from mmrgbd.models.losses import info_nce  # noqa: E402
from mmrgbd.registry import (MODELS, OPTIM_WRAPPER_CONSTRUCTORS,  # noqa: E402
                             build_in_scope)
from mmrgbd.structures import RGBDDataSample  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / '..' / 'shared' / 'samples'
CONFIGS = REPO / 'configs'

# LiDAR (x fwd, y left, z up) -> camera (x right, y down, z fwd)
LIDAR2CAM = np.array([[0., -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0],
                      [0, 0, 0, 1]])


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the tests use tiny tensors, and on a shared, busy
    CPU several threads slow them down many times."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pinhole_lidar2img(f=20., cx=23.5, cy=15.5):
    k4 = np.eye(4)
    k4[0, 0] = k4[1, 1] = f
    k4[0, 2], k4[1, 2] = cx, cy
    return k4 @ LIDAR2CAM


def tiny_sa(in_channels=4):
    """3 SA layers, D-FPS / FS / (F-FPS + D-FPS): 128 -> 64 -> 64 -> 32."""
    return dict(
        type='mmdet3d.PointNet2SAMSG',
        in_channels=in_channels,
        num_points=(64, 32, (16, 16)),
        radii=((0.5, 1.0), (1.0, 2.0), (2.0, 4.0)),
        num_samples=((8, 8), (8, 8), (8, 8)),
        sa_channels=(((8, 8), (8, 8)), ((16, 16), (16, 16)),
                     ((16, 16), (16, 32))),
        aggregation_channels=(16, 32, 32),
        fps_mods=(('D-FPS'), ('FS'), ('F-FPS', 'D-FPS')),
        fps_sample_range_lists=((-1), (-1), (32, -1)),
        norm_cfg=dict(type='BN2d', eps=1e-3, momentum=0.1),
        sa_cfg=dict(type='PointSAModuleMSG', pool_mod='max', use_xyz=True,
                    normalize_xyz=False))


def neck(in_channels, hidden=32, out=16):
    return dict(type='mmpretrain.NonLinearNeck', in_channels=in_channels,
                hid_channels=hidden, out_channels=out, num_layers=2,
                with_bias=True, with_avg_pool=False,
                norm_cfg=dict(type='BN1d'))


def tiny_cfg(**kwargs):
    cfg = dict(
        type='SimIPU',
        img_backbone=dict(
            type='mmdet.ResNet', depth=18, base_channels=8, num_stages=2,
            strides=(1, 2), dilations=(1, 1), out_indices=(1, ),
            norm_eval=False, style='pytorch'),
        pts_backbone=dict(type='PointNet2Encoder', sa_cfg=tiny_sa()),
        intra_proj=neck(32),
        inter_img_proj=neck(16),
        inter_pts_proj=neck(32),
        max_intra_pairs=10000,
        max_inter_pairs=10000)
    cfg.update(kwargs)
    return cfg


def build(**kwargs):
    torch.manual_seed(0)
    model = build_in_scope(MODELS, tiny_cfg(**kwargs))
    model.init_weights()
    return model


def random_similarity(rng):
    yaw = rng.uniform(-np.pi, np.pi)
    s = rng.uniform(0.8, 1.2)
    mat = np.eye(4)
    mat[:3, :3] = s * np.array([[np.cos(yaw), -np.sin(yaw), 0],
                                [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    mat[:3, 3] = rng.normal(size=3) * 0.3
    return mat


def make_batch(b=2, n=128, seed=0, hw=(32, 48)):
    """Points in front of a pinhole camera, view beta, images, metainfo."""
    rng = np.random.default_rng(seed)
    pts, beta, samples = [], [], []
    for _ in range(b):
        xyz = np.stack([rng.uniform(4, 12, n), rng.uniform(-5, 5, n),
                        rng.uniform(-2, 2, n)], 1)
        p = np.concatenate([xyz, rng.uniform(0, 1, (n, 1))], 1)
        mat = random_similarity(rng)
        perm = rng.permutation(n)
        q = p[perm].copy()
        q[:, :3] = q[:, :3] @ mat[:3, :3].T + mat[:3, 3]
        pts.append(torch.tensor(p, dtype=torch.float32))
        beta.append(torch.tensor(q, dtype=torch.float32))
        samples.append(RGBDDataSample(metainfo=dict(
            lidar2img=pinhole_lidar2img(), beta_transform=mat)))
    g = torch.Generator().manual_seed(seed)
    rgb = torch.randn(b, 3, *hw, generator=g)
    return dict(rgb=rgb, points=pts, points_beta=beta), samples


def hand_info_nce(q, k, tau, groups=None):
    """-mean_i log softmax_j(<q_i, k_j> / tau)[i] with numpy loops."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    k = k / np.linalg.norm(k, axis=1, keepdims=True)
    total = 0.
    for i in range(len(q)):
        js = [j for j in range(len(k))
              if groups is None or groups[j] == groups[i]]
        logits = np.array([q[i] @ k[j] / tau for j in js])
        pos = q[i] @ k[i] / tau
        total += -(pos - np.log(np.exp(logits).sum()))
    return total / len(q)


# --------------------------------------------------------------------- #
# functional pieces
# --------------------------------------------------------------------- #
def test_info_nce_matches_hand_computation():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    ref = hand_info_nce(q.double().numpy(), k.double().numpy(), 0.07)
    assert float(info_nce(q, k, 0.07)) == pytest.approx(ref, rel=1e-5)
    ref_g = hand_info_nce(q.double().numpy(), k.double().numpy(), 0.5,
                          groups.numpy())
    assert float(info_nce(q, k, 0.5, groups=groups)) == pytest.approx(
        ref_g, rel=1e-5)
    # identical, well-separated pairs: accuracy 1 and a loss near 0
    eye = torch.eye(4) * 3
    loss, acc = info_nce(eye, eye, 0.07, return_accuracy=True)
    assert float(acc) == 1.0 and float(loss) < 1e-5
    # no pairs: 0, differentiable
    empty = torch.zeros(0, 3, requires_grad=True)
    out = info_nce(empty, empty)
    out.backward()
    assert float(out) == 0.
    with pytest.raises(ValueError, match='same shape'):
        info_nce(torch.zeros(3, 2), torch.zeros(2, 2))


def test_sample_image_features_pixel_centre_convention():
    # a stride-4 map whose channels are the pixel coordinates of the cell
    # centres: bilinear sampling of a linear function returns (u, v) exactly
    h, w, s = 16, 32, 4
    xs = torch.arange(w // s) * s + (s - 1) / 2
    ys = torch.arange(h // s) * s + (s - 1) / 2
    feats = torch.stack([xs[None].expand(h // s, -1),
                         ys[:, None].expand(-1, w // s)])[None].float()
    g = torch.Generator().manual_seed(0)
    uv = torch.stack([torch.rand(1, 50, generator=g) * (xs[-1] - xs[0]) +
                      xs[0],
                      torch.rand(1, 50, generator=g) * (ys[-1] - ys[0]) +
                      ys[0]], -1)  # (1, 50, 2)
    out = sample_image_features(feats, uv, (h, w))
    assert out.shape == (1, 50, 2)
    assert torch.allclose(out, uv, atol=1e-4)


def test_project_to_image_agrees_with_numpy_projection():
    rng = np.random.default_rng(1)
    xyz = np.stack([rng.uniform(-3, 12, 200), rng.uniform(-8, 8, 200),
                    rng.uniform(-2, 2, 200)], 1)
    l2i = pinhole_lidar2img()
    uv, valid = project_to_image(
        torch.tensor(xyz)[None], torch.tensor(l2i)[None], (32, 48))
    uv_np, depth = project_points(xyz, l2i)
    front = depth > 1e-3
    assert np.allclose(uv[0].numpy()[front], uv_np[front])
    inside = ((uv_np[:, 0] >= -0.5) & (uv_np[:, 0] <= 47.5) &
              (uv_np[:, 1] >= -0.5) & (uv_np[:, 1] <= 31.5))
    assert np.array_equal(valid[0].numpy(), front & inside)
    assert 0 < valid.sum() < 200 and (~front).any()


def test_match_points_all_solvers_batched():
    rng = np.random.default_rng(0)
    cost = torch.tensor(rng.uniform(0, 1, (3, 6, 6)))
    rows, cols = match_points(cost, 'hungarian')
    assert rows.shape == cols.shape == (3, 6)
    for b in range(3):
        r, c = linear_sum_assignment(cost[b].numpy())
        assert np.array_equal(cols[b].numpy(), c[np.argsort(r)])
    _, cols_a = match_points(cost, 'auction')
    assert torch.equal(cols_a, cols)
    _, cols_g = match_points(cost, 'greedy')
    bidx = torch.arange(3)[:, None]
    assert (cost[bidx, rows, cols].sum() <=
            cost[bidx, rows, cols_g].sum() + 1e-12)
    with pytest.raises(ValueError, match='matcher'):
        match_points(cost, 'sinkhorn')


# --------------------------------------------------------------------- #
# the two terms against hand computations
# --------------------------------------------------------------------- #
@pytest.mark.parametrize('negatives', ['batch', 'sample'])
def test_intra_loss_matches_hand_computation(negatives):
    model = build(inter_weight=0., negatives=negatives)
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_intra', 'acc_intra'}
    # by hand: encode both views, T(l_a), scipy Hungarian, project, InfoNCE
    with torch.no_grad():
        fa = model.pts_backbone(inputs['points'])
        fb = model.pts_backbone(inputs['points_beta'])
        qs, ks, groups = [], [], []
        for b, ds in enumerate(samples):
            mat = ds.beta_transform
            la = fa['xyz'][b].double().numpy() @ mat[:3, :3].T + mat[:3, 3]
            lb = fb['xyz'][b].double().numpy()
            cost = np.linalg.norm(la[:, None] - lb[None], axis=-1)
            r, c = linear_sum_assignment(cost)
            qs.append(fa['features'][b][r])
            ks.append(fb['features'][b][c])
            groups += [b] * len(r)
        q = model.intra_proj((torch.cat(qs), ))[0]
        k = model.intra_proj((torch.cat(ks), ))[0]
    assert q.shape[0] == 2 * 32  # every location of both samples matched
    ref = hand_info_nce(q.double().numpy(), k.double().numpy(), 0.07,
                        np.array(groups) if negatives == 'sample' else None)
    assert float(losses['loss_intra']) == pytest.approx(ref, rel=1e-4)


def test_inter_loss_matches_hand_computation():
    model = build(intra_weight=0.)
    inputs, samples = make_batch()
    # drop a few points behind the camera / outside the image
    inputs['points'][0][:5, 0] = -3.
    inputs['points'][1][:5, 1] = 40.
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_inter', 'acc_inter'}
    with torch.no_grad():
        fa = model.pts_backbone(inputs['points'])
        img = model.img_backbone(inputs['rgb'])[-1]  # (B, 16, 4, 6)
        qs, ks = [], []
        for b, ds in enumerate(samples):
            uv, depth = project_points(fa['xyz'][b].double().numpy(),
                                       ds.lidar2img)
            keep = ((depth > 1e-3) & (uv[:, 0] >= -0.5) &
                    (uv[:, 0] <= 47.5) & (uv[:, 1] >= -0.5) &
                    (uv[:, 1] <= 31.5))
            # bilinear sampling by hand: cell (i, j) centre at 8 j + 3.5
            fx = np.clip((uv[keep, 0] - 3.5) / 8, 0, 5)
            fy = np.clip((uv[keep, 1] - 3.5) / 8, 0, 3)
            x0 = np.minimum(np.floor(fx).astype(int), 4)
            y0 = np.minimum(np.floor(fy).astype(int), 2)
            wx, wy = fx - x0, fy - y0
            m = img[b].double().numpy()
            f = (m[:, y0, x0] * (1 - wx) * (1 - wy) +
                 m[:, y0, x0 + 1] * wx * (1 - wy) +
                 m[:, y0 + 1, x0] * (1 - wx) * wy +
                 m[:, y0 + 1, x0 + 1] * wx * wy).T
            qs.append(torch.tensor(f, dtype=torch.float32))
            ks.append(fa['features'][b][torch.from_numpy(keep)])
        assert 0 < sum(len(k) for k in ks) < 64
        q = model.inter_img_proj((torch.cat(qs), ))[0]
        k = model.inter_pts_proj((torch.cat(ks), ))[0]
    ref = hand_info_nce(q.double().numpy(), k.double().numpy(), 0.07)
    assert float(losses['loss_inter']) == pytest.approx(ref, rel=1e-4)


def test_inter_loss_gives_no_gradient_to_the_point_encoder():
    model = build(intra_weight=0.)
    inputs, samples = make_batch()
    loss = model.loss(inputs, samples)['loss_inter']
    loss.backward()
    for name, p in model.pts_backbone.named_parameters():
        assert p.grad is None or not p.grad.any(), name
    img_grads = [p.grad for p in model.img_backbone.parameters()]
    assert all(g is not None for g in img_grads)
    assert sum(float(g.abs().sum()) for g in img_grads) > 0
    assert model.inter_pts_proj.fc0.weight.grad.abs().sum() > 0
    assert model.inter_img_proj.fc0.weight.grad.abs().sum() > 0


def test_intra_loss_trains_the_point_encoder_only():
    model = build(inter_weight=0.)
    inputs, samples = make_batch()
    model.loss(inputs, samples)['loss_intra'].backward()
    grads = [p.grad for p in model.pts_backbone.parameters()]
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    assert all(p.grad is None for p in model.img_backbone.parameters())


def test_ablation_weights_and_image_encoder_skipped():
    inputs, samples = make_batch()
    calls = []
    model = build(inter_weight=0.)
    model.img_backbone.register_forward_hook(lambda *a: calls.append(1))
    losses = model.loss(inputs, samples)
    assert 'loss_inter' not in losses and not calls
    assert torch.isfinite(losses['loss_intra'])

    model = build(intra_weight=0.)
    no_beta = {k: v for k, v in inputs.items() if k != 'points_beta'}
    samples_nb = [RGBDDataSample(metainfo=dict(lidar2img=s.lidar2img))
                  for s in samples]
    losses = model.loss(no_beta, samples_nb)
    assert set(losses) == {'loss_inter', 'acc_inter'}
    assert torch.isfinite(losses['loss_inter'])

    full = build(intra_weight=2., inter_weight=0.5)
    both = full.loss(inputs, samples)
    ref = build(inter_weight=0.).loss(inputs, samples)['loss_intra']
    assert float(both['loss_intra']) == pytest.approx(2 * float(ref),
                                                      rel=1e-5)
    with pytest.raises(ValueError, match='both SimIPU loss weights are 0'):
        build(intra_weight=0., inter_weight=0.).loss(inputs, samples)


def test_no_point_in_image_gives_a_zero_connected_loss():
    model = build(intra_weight=0.)
    inputs, samples = make_batch()
    for p in inputs['points']:
        p[:, 0] = -p[:, 0]  # everything behind the camera
    loss = model.loss(inputs, samples)['loss_inter']
    assert float(loss) == 0.
    loss.backward()  # still on the image graph


@pytest.mark.parametrize('matcher', ['auction', 'greedy'])
def test_matcher_switch_and_pair_cap(matcher, monkeypatch):
    seen = []
    orig = simipu_mod.info_nce

    def spy(q, k, *args, **kwargs):
        seen.append(q.shape[0])
        return orig(q, k, *args, **kwargs)

    monkeypatch.setattr(simipu_mod, 'info_nce', spy)
    model = build(inter_weight=0., matcher=matcher, max_intra_pairs=20)
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    assert seen == [20] and torch.isfinite(losses['loss_intra'])
    with pytest.raises(ValueError, match='matcher'):
        build(matcher='sinkhorn')


def test_transform_points_and_missing_inputs():
    rng = np.random.default_rng(3)
    mat = random_similarity(rng)
    xyz = rng.normal(size=(2, 5, 3))
    mats = torch.tensor(np.stack([mat, mat]))
    out = transform_points(torch.tensor(xyz), mats)
    assert np.allclose(out.numpy(), xyz @ mat[:3, :3].T + mat[:3, 3])
    model = build(inter_weight=0.)
    inputs, samples = make_batch()
    with pytest.raises(KeyError, match='beta_transform'):
        model.loss(inputs, [RGBDDataSample() for _ in samples])
    with pytest.raises(KeyError, match='points_beta'):
        model.loss({k: v for k, v in inputs.items() if k != 'points_beta'},
                   samples)
    with pytest.raises(RuntimeError, match='loss'):
        model(inputs, samples, mode='predict')
    feats = model(inputs, samples, mode='tensor')
    assert feats['img'].shape == (2, 16, 4, 6)  # C3 of the 32x48 images
    assert feats['pts']['xyz'].shape == (2, 32, 3)
    assert feats['pts']['features'].shape == (2, 32, 32)


# --------------------------------------------------------------------- #
# configs: ResNet-50, hybrid optimiser, double fine-tuning, runner resume
# --------------------------------------------------------------------- #
def test_r50_config_builds_and_branches_cover_every_parameter():
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIGS / 'pretrain' / 'simipu_r50_kitti.py'))
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size == 4
    sets = [d.image_set for d in cfg.train_dataloader.dataset.datasets]
    assert sets == ['ImageSets/train.txt', 'ImageSets/test.txt']
    waymo = Config.fromfile(str(CONFIGS / 'pretrain' /
                                'simipu_r50_waymo.py'))
    assert waymo.train_cfg.max_epochs == 10
    assert waymo.train_dataloader.batch_size == 4
    load = [t for t in waymo.train_dataloader.dataset.pipeline
            if t.type == 'LoadLiDARPoints'][0]
    assert load.filter_in_image

    model = build_in_scope(MODELS, cfg.model)
    assert model.img_backbone.depth == 50
    with torch.no_grad():
        model.img_backbone.eval()
        c5 = model.img_backbone(torch.zeros(1, 3, 64, 64))[-1]
    assert c5.shape == (1, 2048, 2, 2)
    assert model.pts_backbone.out_channels == 1024
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type=optim_cfg.pop('constructor'),
        optim_wrapper_cfg=optim_cfg))(model)  # raises on orphans
    opts = wrapper.optimizer.optimizers
    assert isinstance(opts['img'], torch.optim.SGD)
    assert opts['img'].defaults['lr'] == 0.03
    assert opts['img'].defaults['momentum'] == 0.9
    assert opts['img'].defaults['weight_decay'] == 1e-4
    assert isinstance(opts['lidar'], torch.optim.AdamW)
    assert opts['lidar'].defaults['lr'] == 1e-3
    assert opts['lidar'].defaults['betas'] == (0.95, 0.99)
    assert opts['lidar'].defaults['weight_decay'] == 0.01
    n_img = sum(p.numel() for g in opts['img'].param_groups
                for p in g['params'])
    n_all = sum(p.numel() for p in model.parameters())
    img_modules = (model.img_backbone, model.inter_img_proj)
    assert n_img == sum(p.numel() for m in img_modules
                        for p in m.parameters())
    assert n_img + sum(p.numel() for g in opts['lidar'].param_groups
                       for p in g['params']) == n_all


def test_image_encoder_starts_from_any_checkpoint(tmp_path):
    torch.manual_seed(1)
    donor = build_in_scope(MODELS, tiny_cfg()['img_backbone'])
    ckpt = tmp_path / 'supervised_r18.pth'
    torch.save({'state_dict': {f'backbone.{k}': v.clone()
                               for k, v in donor.state_dict().items()}},
               ckpt)
    cfg = tiny_cfg()
    cfg['img_backbone'] = dict(
        cfg['img_backbone'],
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='backbone.'))
    torch.manual_seed(2)
    model = build_in_scope(MODELS, cfg)
    before = model.img_backbone.conv1.weight.clone()
    model.init_weights()
    assert not torch.equal(before, donor.conv1.weight)
    for k, v in donor.state_dict().items():
        assert torch.equal(model.img_backbone.state_dict()[k], v), k


def _make_runner(work_dir, max_iters, resume_from=None):
    """A small RGBDRunner built from arguments (no big config to pretty-print)
    with the demo's pipeline and the hybrid schedule's optimiser."""
    from mmengine.config import Config

    from mmrgbd.engine.runner import RGBDRunner
    demo = Config.fromfile(str(CONFIGS / 'pretrain' /
                               'simipu_r18-tiny_synthetic-demo.py'))
    pipeline = copy.deepcopy(demo.train_dataloader.dataset.pipeline)
    pipeline[2].num_points = 128
    return RGBDRunner(
        model=tiny_cfg(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dict(type='SyntheticRGBDScenes', num_samples=4,
                         img_size=(32, 48), with_points=True,
                         pipeline=pipeline)),
        optim_wrapper=copy.deepcopy(demo.optim_wrapper.to_dict()),
        param_scheduler=[dict(type='CosineAnnealingLR', T_max=4,
                              by_epoch=False, begin=0, end=4)],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2),
            logger=dict(type='LoggerHook', interval=1)),
        load_from=resume_from,
        resume=resume_from is not None,
        default_scope='mmrgbd',
        randomness=dict(seed=0),
        log_level='WARNING')


def test_runner_two_iterations_save_and_resume(tmp_path):
    runner = _make_runner(tmp_path, 2)
    runner.train()
    ckpt_path = tmp_path / 'iter_2.pth'
    assert ckpt_path.is_file()
    optim = runner.optim_wrapper.optimizer
    assert optim.optimizers['img'].state and optim.optimizers['lidar'].state
    lrs = [g['lr'] for g in optim.param_groups]
    # cosine over 4 iterations, 2 done: half of each branch's base lr
    assert lrs[0] == pytest.approx(0.03 * (1 + math.cos(math.pi / 2)) / 2)
    assert lrs[-1] == pytest.approx(1e-3 * (1 + math.cos(math.pi / 2)) / 2)

    resumed = _make_runner(tmp_path / 'r', 3, str(ckpt_path))
    resumed.load_or_resume()
    assert resumed.iter == 2
    new = resumed.optim_wrapper.optimizer
    assert [g['lr'] for g in new.param_groups] == pytest.approx(lrs)
    for branch in ('img', 'lidar'):
        a = optim.optimizers[branch].state_dict()['state']
        b = new.optimizers[branch].state_dict()['state']
        assert a.keys() == b.keys() and len(a) > 0
        for idx in a:
            for key, val in a[idx].items():
                assert torch.equal(torch.as_tensor(val),
                                   torch.as_tensor(b[idx][key])), (branch,
                                                                   key)
    resumed.train()  # one more iteration from the restored state
    assert resumed.iter == 3


# --------------------------------------------------------------------- #
# real KITTI frames
# --------------------------------------------------------------------- #
@pytest.fixture
def kitti_root(tmp_path):
    src = SAMPLES / 'kitti_object_vis' / 'training'
    if not src.is_dir():
        pytest.skip(f'KITTI samples not found at {src.resolve()}')
    root = tmp_path / 'kitti'
    for sub in ('calib', 'image_2', 'velodyne'):
        (root / 'training' / sub).mkdir(parents=True)
        for f in sorted((src / sub).iterdir()):
            os.symlink(f.resolve(), root / 'training' / sub / f.name)
    (root / 'ImageSets').mkdir()
    (root / 'ImageSets' / 'train.txt').write_text('000000\n000001\n')
    return root


def test_two_training_steps_on_real_kitti(kitti_root):
    from mmengine.dataset import pseudo_collate

    from mmrgbd.registry import DATASETS
    pipeline = [
        dict(type='LoadRGBDFromFiles', with_depth=False),
        dict(type='LoadLiDARPoints', load_dim=4, use_dim=4,
             filter_in_image=True),
        dict(type='RGBDResize', scale=(160, 48)),
        dict(type='RGBDRandomFlip', prob=1.0),
        dict(type='SimIPUTwoView', num_points=4096, translation_std=0.3),
        dict(type='PackSimIPUInputs'),
    ]
    ds = DATASETS.build(dict(type='KITTIRawObjectDataset',
                             data_root=str(kitti_root),
                             image_set='ImageSets/train.txt',
                             pipeline=pipeline))
    raw = DATASETS.build(dict(type='KITTIRawObjectDataset',
                              data_root=str(kitti_root),
                              image_set='ImageSets/train.txt'))
    np.random.seed(0)
    batch = pseudo_collate([ds[0], ds[1]])
    for i, sample in enumerate(batch['data_samples']):
        # lidar2img already includes the resize + flip (img_aug_matrix)
        a4 = np.eye(4)
        a4[:3, :3] = sample.img_aug_matrix
        assert np.allclose(sample.lidar2img, a4 @ raw[i]['lidar2img'])
        assert sample.img_aug_matrix[0, 0] < 0  # flipped
        assert batch['inputs']['points'][i].shape == (4096, 4)
        assert batch['inputs']['points_beta'][i].shape == (4096, 4)

    torch.manual_seed(0)
    cfg = tiny_cfg()
    cfg['pts_backbone']['sa_cfg']['num_points'] = (256, 64, (32, 32))
    cfg['pts_backbone']['sa_cfg']['fps_sample_range_lists'] = ((-1), (-1),
                                                               (64, -1))
    model = build_in_scope(MODELS, cfg)
    model.init_weights()
    from mmengine.config import Config
    optim_cfg = Config.fromfile(
        str(CONFIGS / '_base_' / 'schedules' / 'simipu_hybrid.py'))
    optim_cfg = copy.deepcopy(optim_cfg.optim_wrapper)
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type=optim_cfg.pop('constructor'), optim_wrapper_cfg=optim_cfg))(
            model)
    w_img = model.img_backbone.conv1.weight.clone()
    w_pts = next(model.pts_backbone.parameters()).clone()
    logs = []
    for _ in range(2):
        data = model.data_preprocessor(batch, True)
        assert data['inputs']['rgb'].shape == (2, 3, 48, 160)
        losses = model(**data, mode='loss')
        loss, log = model.parse_losses(losses)
        wrapper.update_params(loss)
        logs.append(log)
        # points of view alpha do land in the image after the flip
        with torch.no_grad():
            xyz = model.pts_backbone(data['inputs']['points'])['xyz']
            l2i = torch.tensor(np.stack(
                [s.lidar2img for s in data['data_samples']]))
            _, valid = project_to_image(xyz.double(), l2i, (48, 160))
        assert valid.float().mean() > 0.9  # filtered to the image
    for log in logs:
        assert set(log) >= {'loss', 'loss_intra', 'loss_inter'}
        assert all(math.isfinite(float(v)) for v in log.values())
        assert float(log['loss_intra']) > 0 and float(log['loss_inter']) > 0
    assert not torch.equal(w_img, model.img_backbone.conv1.weight)
    assert not torch.equal(w_pts, next(model.pts_backbone.parameters()))
