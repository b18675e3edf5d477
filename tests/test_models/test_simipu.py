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
from mmrgbd.registry import MODELS, build_in_scope  # noqa: E402
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
        sa_cfg=dict(type='PointSAModuleMSG', pool_mod='max', use_xyz=False,
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


def test_matching_uses_the_mirrored_transform(monkeypatch):
    """View beta mirrored (det T < 0, as with a flipped image): the cost is
    |T(l_a) - l_b| with the reflection, so an unshuffled beta = T(alpha)
    (whose encoder picks the same points: use_xyz=False features and both
    FPS variants ignore isometries) is matched point to point at cost 0; the
    same T without the mirror is far off."""
    captured = []
    orig = simipu_mod.match_points

    def spy(cost, matcher='hungarian', **kwargs):
        captured.append(cost.detach().clone())
        return orig(cost, matcher, **kwargs)

    monkeypatch.setattr(simipu_mod, 'match_points', spy)
    inputs, samples = make_batch()
    mirror = np.diag([1., -1., 1., 1.])
    for b, ds in enumerate(samples):
        rot = random_similarity(np.random.default_rng(b))
        rot[:3, :3] /= np.cbrt(np.linalg.det(rot[:3, :3]))  # scale 1
        mat = mirror @ rot
        assert np.linalg.det(mat[:3, :3]) < 0
        p = inputs['points'][b].double().numpy()
        q = p.copy()
        q[:, :3] = p[:, :3] @ mat[:3, :3].T + mat[:3, 3]
        inputs['points_beta'][b] = torch.tensor(q, dtype=torch.float32)
        ds.set_metainfo(dict(beta_transform=mat))
    model = build(inter_weight=0.)
    model.loss(inputs, samples)
    cost = captured[0]  # (B, 32, 32)
    rows, cols = orig(cost)
    assert torch.equal(cols, rows)  # each location with its own image
    assert cost.diagonal(dim1=1, dim2=2).max() < 0.01  # cdist round-off
    for ds in samples:  # control: the rotation alone
        ds.set_metainfo(dict(beta_transform=mirror @ ds.beta_transform))
    model.loss(inputs, samples)
    assert captured[1].diagonal(dim1=1, dim2=2).mean() > 1.


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


def test_inter_loss_detaches_the_point_branch_after_its_head():
    """Official: mm(img, mlp_cross_points(f).detach().T): neither the point
    encoder nor the point head gets a gradient (the head is frozen)."""
    model = build(intra_weight=0.)
    inputs, samples = make_batch()
    loss = model.loss(inputs, samples)['loss_inter']
    loss.backward()
    for name, p in model.pts_backbone.named_parameters():
        assert p.grad is None or not p.grad.any(), name
    for name, p in model.inter_pts_proj.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    img_grads = [p.grad for p in model.img_backbone.parameters()]
    assert all(g is not None for g in img_grads)
    assert sum(float(g.abs().sum()) for g in img_grads) > 0
    assert model.inter_img_proj.fc0.weight.grad.abs().sum() > 0


def _intra_pairs(model, inputs, samples):
    """Encoded views, Hungarian pairs on T(l_a) vs l_b, by hand."""
    fa = model.pts_backbone(inputs['points'])
    fb = model.pts_backbone(inputs['points_beta'])
    qs, ks = [], []
    for b, ds in enumerate(samples):
        mat = ds.beta_transform
        la = fa['xyz'][b].detach().double().numpy() @ mat[:3, :3].T + \
            mat[:3, 3]
        lb = fb['xyz'][b].detach().double().numpy()
        r, c = linear_sum_assignment(
            np.linalg.norm(la[:, None] - lb[None], axis=-1))
        qs.append(fa['features'][b][r])
        ks.append(fb['features'][b][c])
    return torch.cat(qs), torch.cat(ks)


def test_intra_key_of_view_beta_is_detached():
    """Official: mm(q, g(f_beta).detach().T): the gradients equal those of
    the hand-computed loss with a detached key, not of the symmetric one."""
    model = build(inter_weight=0.)
    inputs, samples = make_batch()
    model.loss(inputs, samples)['loss_intra'].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    assert any(n.startswith('pts_backbone.') for n in grads)
    assert any(n.startswith('intra_proj.') for n in grads)

    def hand_grads(detach):
        model.zero_grad()
        q, k = _intra_pairs(model, inputs, samples)
        zq = model.intra_proj((q, ))[0]
        zk = model.intra_proj((k, ))[0]
        info_nce(zq, zk.detach() if detach else zk, 0.07).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()
                if p.grad is not None}

    def flat(g):
        return torch.cat([g[n].flatten() for n in sorted(g)]).double()

    ref = hand_grads(detach=True)
    assert grads.keys() == ref.keys()
    err = (flat(grads) - flat(ref)).norm() / flat(ref).norm()
    assert err < 1e-4
    # the symmetric reading (gradients through view beta too) differs
    sym = hand_grads(detach=False)
    assert (flat(sym) - flat(ref)).norm() / flat(ref).norm() > 0.05


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


@pytest.fixture
def pairs_seen(monkeypatch):
    """The number of pairs of every InfoNCE call of the model."""
    seen = []
    orig = simipu_mod.info_nce

    def spy(q, k, *args, **kwargs):
        seen.append(q.shape[0])
        return orig(q, k, *args, **kwargs)

    monkeypatch.setattr(simipu_mod, 'info_nce', spy)
    return seen


def test_inter_term_drops_points_in_the_padding(pairs_seen):
    """A padded batch: each sample's points count only inside its own
    (unpadded) image, given by its img_shape metainfo."""
    model = build(intra_weight=0.)
    inputs, samples = make_batch()  # images 32 x 48
    samples[0].set_metainfo(dict(img_shape=(32, 24)))  # the rest: padding
    samples[1].set_metainfo(dict(img_shape=(32, 48)))
    model.loss(inputs, samples)
    with torch.no_grad():
        xyz = model.pts_backbone(inputs['points'])['xyz'].double().numpy()
    expected = 0
    for b, w in ((0, 24), (1, 48)):
        uv, depth = project_points(xyz[b], samples[b].lidar2img)
        expected += int(((depth > 1e-3) & (uv[:, 0] >= -0.5) &
                         (uv[:, 0] <= w - 0.5) & (uv[:, 1] >= -0.5) &
                         (uv[:, 1] <= 31.5)).sum())
    with_padding_counted = expected + int(
        ((project_points(xyz[0], samples[0].lidar2img)[0][:, 0] > 23.5) &
         (project_points(xyz[0], samples[0].lidar2img)[0][:, 0] <= 47.5)
         ).sum())
    assert pairs_seen == [expected] and with_padding_counted > expected


def test_no_point_in_image_gives_a_zero_connected_loss():
    model = build(intra_weight=0.)
    inputs, samples = make_batch()
    for p in inputs['points']:
        p[:, 0] = -p[:, 0]  # everything behind the camera
    loss = model.loss(inputs, samples)['loss_inter']
    assert float(loss) == 0.
    loss.backward()  # still on the image graph


@pytest.mark.parametrize('matcher', ['auction', 'greedy'])
def test_matcher_switch_and_pair_cap(matcher, pairs_seen):
    model = build(inter_weight=0., matcher=matcher, max_intra_pairs=20)
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    assert pairs_seen == [20] and torch.isfinite(losses['loss_intra'])
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
def test_r50_config_as_official():
    """The shipped model: ResNet-50 C5, PointNet++ with use_xyz=False (the
    first SA layer groups the intensity only), frozen inter point head."""
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
    for sa in model.pts_backbone.sa.SA_modules:
        assert all(not g.use_xyz for g in sa.groupers)
    # layer 1 sees the intensity only: 1 input channel, not 1 + 3 (xyz)
    first = model.pts_backbone.sa.SA_modules[0].mlps[0][0].conv
    assert first.in_channels == 1
    assert not any(p.requires_grad
                   for p in model.inter_pts_proj.parameters())


def test_shipped_optimiser_and_schedule_as_official():
    """Every projection head in an SGD group at lr 0.03 (the official 'mlp'
    group), the image encoder SGD 0.03, the point encoder AdamW 1e-3; lr
    x0.99 per epoch from epoch 0 (no warm-up); no gradient clipping."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    cfg = Config.fromfile(str(CONFIGS / 'pretrain' / 'simipu_r50_kitti.py'))
    model = build_in_scope(MODELS, cfg.model)
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    opts = wrapper.optimizer.optimizers

    def members(opt):
        return {id(p) for g in opt.param_groups for p in g['params']}

    def params(*modules):
        return {id(p) for m in modules for p in m.parameters()}

    assert set(opts) == {'img', 'lidar', 'mlp'}
    assert members(opts['img']) == params(model.img_backbone)
    assert members(opts['lidar']) == params(model.pts_backbone)
    assert members(opts['mlp']) == params(
        model.intra_proj, model.inter_img_proj, model.inter_pts_proj)
    for name in ('img', 'mlp'):
        assert isinstance(opts[name], torch.optim.SGD)
        assert opts[name].defaults['lr'] == 0.03
        assert opts[name].defaults['momentum'] == 0.9
        assert opts[name].defaults['weight_decay'] == 1e-4
    assert isinstance(opts['lidar'], torch.optim.AdamW)
    assert opts['lidar'].defaults['lr'] == 1e-3
    assert opts['lidar'].defaults['betas'] == (0.95, 0.99)
    assert opts['lidar'].defaults['weight_decay'] == 0.01
    assert 'clip_grad' not in cfg.optim_wrapper
    assert not wrapper.clip_grad_kwargs

    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper))
        for s in copy.deepcopy(cfg.param_scheduler)
    ]
    assert all(s.by_epoch for s in schedulers)

    def lrs():
        return {name: [g['lr'] for g in opt.param_groups]
                for name, opt in opts.items()}

    base = dict(img=0.03, lidar=1e-3, mlp=0.03)
    for epoch in range(100):  # the lr each epoch runs with
        for name, values in lrs().items():
            assert values == pytest.approx(
                [base[name] * 0.99**epoch] * len(values)), (epoch, name)
        for s in schedulers:
            s.step()  # once per epoch
    # the last epoch (99) ran at 0.37x the base lr
    assert lrs()['img'][0] == pytest.approx(0.03 * 0.3697, rel=1e-3)


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


def test_inter_term_learns_where_the_points_are_predictable():
    """With the official gradients (key detached after the frozen point
    head, intra key detached) the inter-modal InfoNCE falls well below
    chance and its accuracy rises far above chance when the point features
    can be told from the image: a fixed set of 4 synthetic rooms (each
    object keeps its LiDAR reflectivity), the demo's pipeline, model and
    optimiser, 16 locations per view, batch 4 (64 candidates)."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from mmrgbd.registry import DATASETS
    demo = Config.fromfile(str(CONFIGS / 'pretrain' /
                               'simipu_r18-tiny_synthetic-demo.py'))
    pipeline = copy.deepcopy(demo.train_dataloader.dataset.pipeline)
    pipeline[2].num_points = 256
    dataset = DATASETS.build(dict(
        type='SyntheticRGBDScenes', num_samples=4, img_size=(48, 64),
        seed=0, with_points=True, pipeline=pipeline))
    cfg = copy.deepcopy(demo.model)
    cfg.pts_backbone.sa_cfg.update(num_points=(64, 32, (8, 8)),
                                   fps_sample_range_lists=((-1), (-1),
                                                           (16, -1)))
    torch.manual_seed(0)
    np.random.seed(0)
    model = build_in_scope(MODELS, cfg)
    model.init_weights()
    wrapper = build_optim_wrapper(model, copy.deepcopy(demo.optim_wrapper))
    chance = math.log(4 * 16)
    logs = []
    for _ in range(30):
        batch = pseudo_collate([dataset[i] for i in range(4)])
        logs.append({k: float(v) for k, v in
                     model.train_step(batch, wrapper).items()})
    first = logs[0]['loss_inter']
    last = np.mean([log['loss_inter'] for log in logs[-5:]])
    acc = np.mean([log['acc_inter'] for log in logs[-5:]])
    assert first > 0.95 * chance  # starts at (or above) chance
    assert last < 0.8 * chance, (first, last)
    assert acc > 5 / 64, acc  # chance: 1 / 64


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
    half = (1 + math.cos(math.pi / 2)) / 2
    assert optim.optimizers['img'].param_groups[0]['lr'] == pytest.approx(
        0.03 * half)
    assert optim.optimizers['lidar'].param_groups[0]['lr'] == \
        pytest.approx(1e-3 * half)
    assert optim.optimizers['mlp'].param_groups[0]['lr'] == pytest.approx(
        0.03 * half)

    resumed = _make_runner(tmp_path / 'r', 3, str(ckpt_path))
    resumed.load_or_resume()
    assert resumed.iter == 2
    new = resumed.optim_wrapper.optimizer
    assert [g['lr'] for g in new.param_groups] == pytest.approx(lrs)
    for branch in ('img', 'lidar', 'mlp'):
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
    """kitti_object_vis in the official layout: 000000 / 000001 as training
    frames (ImageSets/train.txt), 000002 as a testing frame (test.txt)."""
    src = SAMPLES / 'kitti_object_vis' / 'training'
    if not src.is_dir():
        pytest.skip(f'KITTI samples not found at {src.resolve()}')
    root = tmp_path / 'kitti'
    for split, ids in (('training', ('000000', '000001')),
                       ('testing', ('000002', ))):
        for sub, ext in (('calib', 'txt'), ('image_2', 'png'),
                         ('velodyne', 'bin')):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
            for idx in ids:
                os.symlink((src / sub / f'{idx}.{ext}').resolve(),
                           root / split / sub / f'{idx}.{ext}')
    (root / 'ImageSets').mkdir()
    (root / 'ImageSets' / 'train.txt').write_text('000000\n000001\n')
    (root / 'ImageSets' / 'test.txt').write_text('000002\n')
    return root


def build_shipped_kitti(root):
    """The shipped KITTI config and its dataset (own pipeline) on ``root``."""
    from mmengine.config import Config

    from mmrgbd.registry import DATASETS
    cfg = Config.fromfile(str(CONFIGS / 'pretrain' / 'simipu_r50_kitti.py'))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    for sub in ds_cfg.datasets:
        sub.data_root = str(root)
    return DATASETS.build(ds_cfg), cfg


def test_shipped_kitti_pipeline_keeps_camera_view_points(kitti_root):
    """Every input point of the shipped pipeline lies in the official point
    range and projects into its resized (and maybe flipped) image; view beta
    is T(alpha) with T mirrored exactly when the image is flipped."""
    from scipy.spatial import cKDTree

    from mmrgbd.datasets.transforms.lidar import points_in_range_mask
    dataset, _ = build_shipped_kitti(kitti_root)
    assert len(dataset) == 3  # train 000000, 000001 + test 000002
    np.random.seed(0)
    shapes, flips = set(), set()
    for i in (0, 1, 2, 0, 1, 2):
        sample = dataset[i]
        meta = sample['data_samples']
        pts = sample['inputs']['points'].numpy()
        assert pts.shape == (16384, 4)
        h, w = meta.img_shape
        shapes.add((h, w))
        flips.add(bool(meta.flip))
        assert sample['inputs']['rgb'].shape == (3, h, w)
        # the image area [-0.5, W - 0.5] x [-0.5, H - 0.5], as the model
        uv, depth = project_points(pts, meta.lidar2img)
        assert (depth > 1e-3).all()
        assert ((uv >= -0.5) & (uv <= np.array([w, h]) - 0.5)).all()
        assert points_in_range_mask(pts, (0, -40, -3, 70.4, 40, 1)).all()
        beta = sample['inputs']['points_beta'].numpy()
        mat = meta.beta_transform
        assert bool(np.linalg.det(mat[:3, :3]) < 0) == bool(meta.flip)
        # each beta point is T of an alpha point (view beta is shuffled)
        t_alpha = pts[:, :3].astype(np.float64) @ mat[:3, :3].T + mat[:3, 3]
        dist, _ = cKDTree(t_alpha).query(beta[:, :3].astype(np.float64))
        assert dist.max() < 1e-3
    assert len(shapes) == 6 and flips == {True, False}


def shrunk_kitti_model(cfg):
    """The shipped model, narrower and with fewer sampled points (the
    guard's :func:`real_layouts.registry.shrink_simipu`; the shipped 4096 /
    1024 / 512 + 512 points take ~20 s per forward on a CPU, see
    tools/analysis/simipu_kitti_points_in_image.py for those). SyncBN -> BN
    for a single process."""
    from real_layouts.registry import shrink_simipu
    model = copy.deepcopy(cfg.model)
    shrink_simipu(model)
    model.img_backbone.norm_cfg = dict(type='BN', requires_grad=True)
    return model


def test_shipped_kitti_recipe_on_real_frames(kitti_root):
    """The shipped KITTI config, its unmodified pipeline on the real frames
    in the official layout, a narrow model: every last-layer point of view
    alpha projects into its image (the official velodyne_reduced input;
    230-365 of 1024 did with the former 360-degree scans), and one training
    step with the shipped optimiser updates both encoders but not the
    frozen inter point head."""
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    dataset, cfg = build_shipped_kitti(kitti_root)
    np.random.seed(0)
    batch = pseudo_collate([dataset[0], dataset[2]])
    sizes = [tuple(s.img_shape) for s in batch['data_samples']]
    assert sizes[0] != sizes[1]  # the multi-scale resize
    assert [p.shape for p in batch['inputs']['points']] == [(16384, 4)] * 2

    torch.manual_seed(0)
    model = build_in_scope(MODELS, shrunk_kitti_model(cfg))
    model.init_weights()
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    data = model.data_preprocessor(batch, True)
    rgb = data['inputs']['rgb']
    assert rgb.shape[-2] == -(-max(h for h, _ in sizes) // 32) * 32
    assert rgb.shape[-1] == -(-max(w for _, w in sizes) // 32) * 32

    encoded = []
    model.pts_backbone.register_forward_hook(
        lambda mod, args, out: encoded.append(out['xyz'].detach()))
    w_img = model.img_backbone.conv1.weight.clone()
    w_pts = next(model.pts_backbone.parameters()).clone()
    w_head = model.inter_pts_proj.fc0.weight.clone()
    log = model.train_step(batch, wrapper)

    xyz = encoded[0]  # view alpha (view beta is encoded second)
    assert xyz.shape == (2, 256, 3)
    l2i = torch.tensor(np.stack([s.lidar2img for s in batch['data_samples']]))
    _, valid = project_to_image(xyz.double(), l2i, torch.tensor(sizes))
    assert valid.sum(1).tolist() == [256, 256]
    assert set(log) == {'loss', 'loss_intra', 'loss_inter', 'acc_intra',
                        'acc_inter'}
    assert all(math.isfinite(float(v)) for v in log.values())
    assert float(log['loss_intra']) > 0 and float(log['loss_inter']) > 0
    assert not torch.equal(w_img, model.img_backbone.conv1.weight)
    assert not torch.equal(w_pts, next(model.pts_backbone.parameters()))
    assert torch.equal(w_head, model.inter_pts_proj.fc0.weight)


# --------------------------------------------------------------------- #
# matching off the critical path (issue 12)
# --------------------------------------------------------------------- #
def test_background_matching_gives_the_same_losses(monkeypatch):
    """The matching solved in a background thread while the image encoder
    runs gives the losses and gradients of the in-line solve (same RNG
    order: the intra pairs are drawn before the inter ones)."""
    inputs, samples = make_batch()
    results = []
    for background in (True, False):
        model = build()
        if not background:
            monkeypatch.setattr(
                type(model), 'start_matching',
                lambda self, *a, background=True, _orig=type(
                    model).start_matching: _orig(self, *a, background=False))
        torch.manual_seed(3)
        losses = model.loss(copy.deepcopy(inputs), samples)
        (losses['loss_intra'] + losses['loss_inter']).backward()
        grads = [p.grad.clone() for p in model.parameters()
                 if p.grad is not None]
        results.append((losses, grads))
        monkeypatch.undo()
    (la, ga), (lb, gb) = results
    assert set(la) == set(lb) == {'loss_intra', 'acc_intra', 'loss_inter',
                                  'acc_inter'}
    for key in la:
        assert torch.equal(la[key], lb[key]), key
    assert len(ga) == len(gb) and all(torch.equal(a, b)
                                      for a, b in zip(ga, gb))


def test_match_tol_selects_the_solver(monkeypatch):
    """match_tol > 0 (default 1e-4) passes the bound to the Hungarian
    solver; 0 solves scipy's problem on the full matrix; < 0 is refused."""
    seen = []
    orig = simipu_mod.match_points

    def spy(cost, matcher='hungarian', **kwargs):
        seen.append(kwargs.get('metric_tol'))
        return orig(cost, matcher, **kwargs)

    monkeypatch.setattr(simipu_mod, 'match_points', spy)
    inputs, samples = make_batch()
    build().loss(copy.deepcopy(inputs), samples)
    build(match_tol=0.).loss(copy.deepcopy(inputs), samples)
    build(matcher='greedy').loss(copy.deepcopy(inputs), samples)
    assert seen == [1e-4, 0., None]
    with pytest.raises(ValueError, match='match_tol'):
        build(match_tol=-1.)


def test_match_points_threads_equal_one_by_one():
    """Several clouds solved in parallel threads give the per-cloud
    results."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 5, (3, 40, 3))
    b = a[:, rng.permutation(40)] + rng.normal(0, 1e-3, (3, 40, 3))
    cost = torch.cdist(torch.tensor(a), torch.tensor(b))  # (3, 40, 40)
    rows, cols = match_points(cost, 'hungarian', metric_tol=1e-4)
    for i in range(3):
        r, c = linear_sum_assignment(cost[i].numpy())
        assert torch.equal(rows[i], torch.as_tensor(r))
        assert torch.equal(cols[i], torch.as_tensor(c))
