"""BerHuLoss and ScaleInvariantLogLoss: hand computations, the official
definitions they follow, learning, and the global batch under DDP."""
import math
import os
import socket

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from mmrgbd.models.losses import BerHuLoss, ScaleInvariantLogLoss
from mmrgbd.registry import MODELS


def _toy():
    """(1, 1, 2, 2) prediction and target with one invalid (0) pixel."""
    pred = torch.tensor([[[[1., 2.], [3., 4.]]]])
    target = torch.tensor([[[[1.5, 0.], [1., 4.2]]]])
    return pred, target


# ---------------------------------------------------------------- berHu
def test_berhu_by_hand():
    pred, target = _toy()
    # valid d = -0.5, 2, -0.2; c = 0.2 * 2 = 0.4
    # |d| >= c: (d^2 + c^2) / 2c for -0.5 and 2; |d| for -0.2
    expected = ((0.25 + 0.16) / 0.8 + (4 + 0.16) / 0.8 + 0.2) / 3
    loss = BerHuLoss()
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-6)
    assert loss.loss_name == 'loss_berhu'
    # loss_weight, an extra mask (drops the pixel with d = 2: c = 0.1)
    assert BerHuLoss(loss_weight=3.)(pred, target).item() == pytest.approx(
        3 * expected, rel=1e-6)
    keep = torch.tensor([[[[True, True], [False, True]]]])
    masked = ((0.25 + 0.01) / 0.2 + (0.04 + 0.01) / 0.2) / 2
    assert loss(pred, target, keep).item() == pytest.approx(masked, rel=1e-6)
    # min_depth: targets at or below it are invalid (1.0 and 0 here)
    only_two = ((0.25 + 0.01) / 0.2 + (0.04 + 0.01) / 0.2) / 2
    assert BerHuLoss(min_depth=1.)(pred, target).item() == pytest.approx(
        only_two, rel=1e-6)


def _official_berhu(preds, target, mask_valid):
    """MultiMAE's masked_berhu_loss as published (run_finetuning_depth.py),
    restated from its definition."""
    diff = preds - target
    diff[~mask_valid] = 0
    c = max(torch.abs(diff).max().item() * 0.2, 1e-5)
    l1 = torch.abs(diff)
    l2 = (diff**2 + c**2) / 2. / c
    total = l1[torch.abs(diff) < c].sum() + l2[torch.abs(diff) >= c].sum()
    return total / mask_valid.sum()


def test_berhu_is_multimae_official_and_scale_homogeneous():
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(3, 1, 8, 8, generator=g) * 6
    target = torch.rand(3, 1, 8, 8, generator=g) * 6 + 0.5
    target[0, 0, :3] = 0  # invalid
    loss = BerHuLoss()
    # the official zeroes the invalid differences (0 < c: they add 0) and
    # divides by the number of valid pixels
    ref = _official_berhu(pred.clone(), target, target > 0)
    assert loss(pred, target).item() == pytest.approx(ref.item(), rel=1e-6)
    # B(s d) = s B(d): the official loss on depth standardised by a std s
    # equals this loss on metres / s (loss_weight = 1 / s)
    mean, std = 2.0707764, 0.7775723
    standardised = _official_berhu((pred - mean) / std, (target - mean) / std,
                                   target > 0)
    assert BerHuLoss(loss_weight=1 / std)(pred, target).item() == \
        pytest.approx(standardised.item(), rel=1e-5)


def test_berhu_continuity_gradient_and_empty():
    # at |d| = c both branches give c
    target = torch.tensor([[[[2., 2.]]]])
    pred = torch.tensor([[[[2.5, 4.5]]]], requires_grad=True)  # d = .5, 2.5
    value = BerHuLoss(threshold=0.2)(pred, target)  # c = 0.5: |d| = c
    assert value.item() == pytest.approx((0.5 + (6.25 + 0.25) / 1.0) / 2)
    value.backward()
    # d/dd: |d| < c -> sign(d); else d / c; c gets no gradient
    assert pred.grad.flatten().tolist() == pytest.approx(
        [0.5 / 0.5 / 2, 2.5 / 0.5 / 2])
    empty = BerHuLoss()(pred, torch.zeros_like(target))
    empty.backward()
    assert empty.item() == 0 and torch.isfinite(pred.grad).all()


# ---------------------------------------------------------------- SiLog
def test_silog_by_hand():
    pred, target = _toy()
    g = [math.log(1 / 1.5), math.log(3 / 1), math.log(4 / 4.2)]  # valid
    mean = sum(g) / 3
    mean_sq = sum(v * v for v in g) / 3
    # SimIPU App. C / AdaBins: alpha sqrt(mean g^2 - lambda mean(g)^2)
    expected = 10 * math.sqrt(mean_sq - 0.85 * mean**2)
    loss = ScaleInvariantLogLoss(eps=0.)
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-6)
    assert loss.loss_name == 'loss_silog'
    # eps inside both logs (SimIPU's released code: 1e-3)
    ge = [math.log((p + 1e-3) / (t + 1e-3))
          for p, t in ((1, 1.5), (3, 1), (4, 4.2))]
    with_eps = 10 * math.sqrt(
        sum(v * v for v in ge) / 3 - 0.85 * (sum(ge) / 3)**2)
    assert ScaleInvariantLogLoss()(pred, target).item() == pytest.approx(
        with_eps, rel=1e-6)
    # lambda = 1: exactly invariant to a global scale of the prediction
    inv = ScaleInvariantLogLoss(lambda_=1., eps=0.)
    assert inv(3.7 * pred, target).item() == pytest.approx(
        inv(pred, target).item(), rel=1e-5)
    assert loss(3.7 * pred, target).item() != pytest.approx(
        loss(pred, target).item(), rel=1e-3)


def test_silog_batch_pooling_vs_per_image_and_mmseg():
    from mmseg.models.losses import SiLogLoss
    g = torch.Generator().manual_seed(1)
    pred = torch.rand(2, 1, 4, 4, generator=g) * 5 + 0.5
    target = torch.rand(2, 1, 4, 4, generator=g) * 5 + 0.5
    target[1, 0, 0] = 0  # 4 invalid pixels in image 1
    e = (pred.log() - target.log())
    valid = target > 0
    pooled = e[valid]
    batch = 10 * math.sqrt((pooled**2).mean() - 0.85 * pooled.mean()**2)
    per_image = [e[i][valid[i]] for i in range(2)]
    image = sum(10 * math.sqrt((v**2).mean() - 0.85 * v.mean()**2)
                for v in per_image) / 2
    assert ScaleInvariantLogLoss(eps=0.)(pred, target).item() == \
        pytest.approx(float(batch), rel=1e-5)
    assert ScaleInvariantLogLoss(eps=0., reduction='image')(
        pred, target).item() == pytest.approx(float(image), rel=1e-5)
    # mmseg's SiLogLoss is the per-image loss with lambda 0.5 and alpha 1:
    # not SimIPU's (lambda 0.85, alpha 10, pooled)
    ours = ScaleInvariantLogLoss(lambda_=0.5, alpha=1., eps=0.,
                                 reduction='image')
    assert ours(pred, target).item() == pytest.approx(
        SiLogLoss()(pred, target).item(), rel=1e-5)
    assert SiLogLoss()(pred, target).item() != pytest.approx(
        ScaleInvariantLogLoss()(pred, target).item(), rel=0.1)


def test_errors_and_registry():
    with pytest.raises(ValueError, match='differ in shape'):
        BerHuLoss()(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 3))
    with pytest.raises(ValueError, match='differ in shape'):
        ScaleInvariantLogLoss()(torch.ones(2, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match='lambda_'):
        ScaleInvariantLogLoss(lambda_=1.5)
    with pytest.raises(ValueError, match='reduction'):
        ScaleInvariantLogLoss(reduction='mean')
    with pytest.raises(ValueError, match='threshold'):
        BerHuLoss(threshold=0.)
    with pytest.raises(ValueError, match='loss_'):
        BerHuLoss(loss_name='berhu')
    assert isinstance(MODELS.build(dict(type='BerHuLoss')), BerHuLoss)
    # from an mmseg config
    from mmseg.registry import MODELS as MMSEG_MODELS
    built = MMSEG_MODELS.build(
        dict(type='mmrgbd.ScaleInvariantLogLoss', lambda_=0.85))
    assert isinstance(built, ScaleInvariantLogLoss)


# ------------------------------------------------------------ learning
def _regression_task(n=4, hw=16, seed=0):
    """Depth that a per-pixel model can explain: log depth linear in two
    input channels (invalid pixels holding 0)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, hw, hw, generator=g)
    depth = torch.exp(0.6 * x[:, :1] - 0.4 * x[:, 1:] + 1.0)  # (n, 1, ...)
    depth[torch.rand(depth.shape, generator=g) < 0.2] = 0.
    return x, depth


@pytest.mark.parametrize('kind', ['berhu', 'silog'])
def test_losses_learn(kind):
    """A 1x1 conv trained with each loss ends far below the best constant
    prediction (the chance level of depth regression)."""
    torch.manual_seed(0)
    x, depth = _regression_task()
    valid = depth > 0
    if kind == 'berhu':
        loss_fn = BerHuLoss()
        net = torch.nn.Sequential(torch.nn.Conv2d(2, 16, 1), torch.nn.ReLU(),
                                  torch.nn.Conv2d(16, 1, 1))

        def predict(inp):
            return net(inp)

        constant = depth[valid].median()  # berHu ~ L1: the median
        chance = loss_fn(torch.full_like(depth, constant.item()), depth)
    else:
        loss_fn = ScaleInvariantLogLoss()
        net = torch.nn.Conv2d(2, 1, 1)

        def predict(inp):
            return torch.exp(net(inp))

        # a constant cannot remove the variance of log depth
        chance = loss_fn(torch.full_like(depth, 3.), depth)
    optim = torch.optim.Adam(net.parameters(), lr=0.05)
    first = None
    for _ in range(150):
        loss = loss_fn(predict(x), depth)
        first = loss.item() if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    final = loss_fn(predict(x), depth).item()
    assert final < 0.1 * chance.item(), (kind, first, final, chance)


# ------------------------------------------------ 2 gloo processes (DDP)
def _batch():
    """A global batch of 4 with per-image different invalid counts."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, 6, 6, generator=g)
    depth = torch.rand(4, 1, 6, 6, generator=g) * 4 + 0.5
    depth[0, 0, :4] = 0  # rank 0 has far fewer valid pixels
    depth[1, 0, :5] = 0
    depth[3, 0, 0, :2] = 0
    return x, depth


CASES = ['berhu', 'silog_batch', 'silog_image']


def _loss(case, model, x, depth):
    pred = torch.exp(model(x))  # (b, 1, 6, 6), positive
    if case == 'berhu':
        return BerHuLoss()(pred, depth)
    reduction = case.split('_')[1]
    return ScaleInvariantLogLoss(reduction=reduction)(pred, depth)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        torch.manual_seed(0)
        model = torch.nn.Conv2d(2, 1, 1)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        part = slice(rank * 2, rank * 2 + 2)
        x, depth = (t[part] for t in _batch())
        values = []
        for case in CASES:
            ddp.zero_grad()
            loss = _loss(case, ddp, x, depth)
            loss.backward()
            values.append((loss.detach().clone(),
                           [p.grad.clone() for p in model.parameters()]))
        torch.save(values, os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_global_batch_across_two_gloo_ranks(tmp_path):
    """2 processes x batch 2 under DDP give the gradients (and, averaged
    over the ranks, the values) of 1 process x batch 4: berHu's threshold
    is the global max error, the pooled SiLog is the loss of the global
    batch, the per-image one averages over all images."""
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)),
                       nprocs=2, join=True, start_method='fork')
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    torch.manual_seed(0)
    model = torch.nn.Conv2d(2, 1, 1)
    x, depth = _batch()
    for i, case in enumerate(CASES):
        model.zero_grad()
        loss = _loss(case, model, x, depth)
        loss.backward()
        mean_value = (ranks[0][i][0] + ranks[1][i][0]) / 2
        assert torch.allclose(mean_value, loss.detach(), atol=1e-5), case
        for r in range(2):
            for got, ref in zip(ranks[r][i][1], model.parameters()):
                assert torch.allclose(got, ref.grad, atol=1e-5), (case, r)
    # a per-rank pooled SiLog (what one process per half computes) differs
    pred = torch.exp(model(x)).detach()
    silog = ScaleInvariantLogLoss()
    halves = [silog(pred[s], depth[s]) for s in (slice(0, 2), slice(2, 4))]
    assert not torch.allclose((halves[0] + halves[1]) / 2,
                              silog(pred, depth), atol=1e-3)
