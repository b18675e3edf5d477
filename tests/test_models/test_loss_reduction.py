"""Loss reductions: MultiMAE's per-sample averaging, Mask3D's literal
"normalise the output patches too", and the cross-rank normalisation by the
global count (a real 2-process gloo group against one process)."""
import math
import os
import socket

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from mmrgbd.models.losses import MaskedReconstructionLoss, MaskedSemsegLoss
from mmrgbd.models.losses.utils import global_count_mean


def _toy_budgets():
    """The review's toy: sample 0 has 98 hidden tokens with error 1, sample
    1 has 190 hidden tokens with error 0 (196 tokens of 4 values each)."""
    n, d = 196, 4
    target = torch.zeros(2, n, d)
    pred = torch.zeros(2, n, d)
    visible = torch.zeros(2, n, dtype=torch.bool)
    visible[0, :98] = True  # 98 hidden
    visible[1, :6] = True  # 190 hidden
    pred[0, 98:] = 1.0  # error 1 on every hidden value of sample 0
    return pred, target, visible


def test_per_sample_reduction_is_the_official_average():
    pred, target, visible = _toy_budgets()
    glob = MaskedReconstructionLoss(loss_type='mse')(pred, target, visible)
    per = MaskedReconstructionLoss(
        loss_type='mse', reduction='per_sample')(pred, target, visible)
    assert glob.item() == pytest.approx(98 / (98 + 190))  # 0.340
    assert per.item() == pytest.approx(0.5)  # (1 + 0) / 2
    # l1 the same way; a sample without any counted value is left out of
    # the batch mean (official: nanmean)
    l1 = MaskedReconstructionLoss(loss_type='l1', reduction='per_sample')
    all_visible = visible.clone()
    all_visible[1] = True
    assert l1(pred, target, all_visible).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match='reduction'):
        MaskedReconstructionLoss(reduction='mean')


def test_per_sample_semseg_cross_entropy_by_hand():
    # 2 samples, grid 1x2 tokens of 2x2 pixels, K = 3 classes
    num_classes, q = 3, 2
    logits = torch.zeros(2, 2, q * q * num_classes)
    logits[0, :, 0::num_classes] = 2.0  # sample 0 prefers class 0
    target = torch.zeros(2, 1, 2, 4, dtype=torch.long)
    target[0, 0, 0, 2] = 255  # one ignored pixel in sample 0, token 1
    target[1] = 2
    visible = torch.tensor([[False, False], [True, False]])
    loss = MaskedSemsegLoss(num_classes, reduction='per_sample')
    ce0 = -math.log(math.exp(2) / (math.exp(2) + 2))  # class 0, logit 2
    ce1 = math.log(3)  # uniform logits
    # sample 0: 7 counted pixels of CE ce0; sample 1: token 1, 4 pixels
    expected = (ce0 + ce1) / 2
    assert loss(logits, target, visible, (1, 2)).item() == pytest.approx(
        expected, rel=1e-6)
    glob = MaskedSemsegLoss(num_classes)(logits, target, visible, (1, 2))
    assert glob.item() == pytest.approx((7 * ce0 + 4 * ce1) / 11, rel=1e-6)


def test_norm_pred_normalises_prediction_and_target_by_hand():
    pred = torch.tensor([[[1., 2., 4., 9.], [3., 3., 3., 5.]]])
    target = torch.tensor([[[0., 1., 0., 5.], [2., 4., 6., 8.]]])

    def norm(v):
        mean = sum(v) / len(v)
        std = math.sqrt(sum((x - mean)**2 for x in v) / len(v) + 1e-6)
        return [(x - mean) / std for x in v]

    expected = []
    for n in range(2):
        expected += [(a - b)**2 for a, b in zip(
            norm(pred[0, n].tolist()), norm(target[0, n].tolist()))]
    loss = MaskedReconstructionLoss(
        loss_type='mse', norm_pix=True, norm_pred=True, on='all')
    assert loss(pred, target).item() == pytest.approx(
        sum(expected) / 8, rel=1e-5)
    # invariant to a per-patch affine change of the prediction
    assert loss(3 * pred + 7, target).item() == pytest.approx(
        loss(pred, target).item(), rel=1e-4)
    # target-only norm-pix is not
    plain = MaskedReconstructionLoss(loss_type='mse', norm_pix=True, on='all')
    assert plain(3 * pred + 7, target).item() != pytest.approx(
        plain(pred, target).item(), rel=1e-2)
    # display: the normalised prediction gets the target's statistics
    shown = loss.denormalize_pred(pred, target)
    t_mean = target.mean(-1, keepdim=True)
    t_std = (target.var(-1, unbiased=False, keepdim=True) + 1e-6).sqrt()
    p_norm = (pred - pred.mean(-1, keepdim=True)) / (
        pred.var(-1, unbiased=False, keepdim=True) + 1e-6).sqrt()
    assert torch.allclose(shown, p_norm * t_std + t_mean, atol=1e-5)


def test_global_count_mean_single_process():
    s = torch.tensor(6., requires_grad=True)
    assert global_count_mean(s, torch.tensor(4)).item() == 1.5
    zero = global_count_mean(s * 0, 0)
    zero.backward()
    assert zero.item() == 0 and torch.isfinite(s.grad).all()


# ------------------------------------------------------- 2 gloo processes
def _batch():
    """A global batch of 8 with per-sample varying hidden counts and
    invalid values, and a linear model that predicts it."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 6, 5, generator=g)  # (B, N, C_in)
    target = torch.randn(8, 6, 4, generator=g)  # (B, N, D)
    visible = torch.rand(8, 6, generator=g) < torch.linspace(
        0.1, 0.9, 8)[:, None]
    valid = torch.rand(8, 6, 4, generator=g) > 0.3
    labels = torch.randint(0, 3, (8, 1, 2, 12), generator=g)
    labels[:, :, 0, :3] = 255
    return x, target, visible, valid, labels


#: (loss, reduction) pairs checked across ranks
CASES = [(kind, red) for red in ('global', 'per_sample')
         for kind in ('reconstruction', 'semseg')]


def _loss(case, model, x, target, visible, valid, labels):
    kind, reduction = case
    pred = model(x)  # (b, N, 4)
    if kind == 'reconstruction':
        rec = MaskedReconstructionLoss(loss_type='mse', reduction=reduction)
        return rec(pred, target, visible, valid)
    sem = pred.repeat(1, 1, 3)  # (b, N, 2*2*3) logits
    return MaskedSemsegLoss(3, reduction=reduction)(sem, labels, visible,
                                                    (1, 6))


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
        model = torch.nn.Linear(5, 4)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        part = slice(rank * 4, rank * 4 + 4)
        data = [t[part] for t in _batch()]
        values = []
        for case in CASES:  # one forward and backward per loss (DDP)
            ddp.zero_grad()
            loss = _loss(case, ddp, *data)
            loss.backward()
            values.append((loss.detach().clone(),
                           [p.grad.clone() for p in model.parameters()]))
        torch.save(values, os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_global_count_normalisation_across_two_gloo_ranks(tmp_path):
    """2 processes x batch 4 under DDP give the gradients (and, averaged over
    the ranks, the losses) of 1 process x batch 8, for both reductions of
    both losses, with per-rank different counts of counted elements."""
    # fork: the children start with the parent's imports (seconds, not the
    # tens of seconds of re-importing mmrgbd in spawned interpreters)
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)),
                       nprocs=2, join=True, start_method='fork')
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 4)
    data = _batch()
    # the two ranks really count different numbers of elements
    vis = data[2]
    assert (~vis[:4]).sum() != (~vis[4:]).sum()
    for i, case in enumerate(CASES):
        model.zero_grad()
        loss = _loss(case, model, *data)
        loss.backward()
        mean_value = (ranks[0][i][0] + ranks[1][i][0]) / 2
        assert torch.allclose(mean_value, loss.detach(), atol=1e-6), i
        for r in range(2):  # DDP averaged the gradients on both ranks
            for got, ref in zip(ranks[r][i][1], model.parameters()):
                assert torch.allclose(got, ref.grad, atol=1e-6), (i, r)
    # what a per-rank (local count) normalisation gives instead: the mean
    # of the two local means differs from the global mean
    rec = MaskedReconstructionLoss(loss_type='mse')
    pred = model(data[0]).detach()
    halves = [
        rec(pred[s], data[1][s], data[2][s], data[3][s])
        for s in (slice(0, 4), slice(4, 8))
    ]
    assert not torch.allclose((halves[0] + halves[1]) / 2,
                              rec(pred, *data[1:4]), atol=1e-4)
