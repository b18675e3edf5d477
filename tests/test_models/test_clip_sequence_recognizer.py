"""The OR-AR temporal model: Bi-GRU over clip features + multi-label head.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from mmrgbd.models import (BiGRUTemporalNeck, ClipSequenceDataPreprocessor,
                           ClipSequenceRecognizer, MultiLabelSequenceHead)
from mmrgbd.registry import MODELS


def sample(gt):
    s = BaseDataElement(metainfo=dict(video='v', num_clips=gt.shape[0]))
    s.gt_score = gt
    return s


def build(C=6, H=8, K=3):
    return MODELS.build(dict(
        type='ClipSequenceRecognizer',
        neck=dict(type='BiGRUTemporalNeck', in_channels=C,
                  hidden_channels=H),
        head=dict(type='MultiLabelSequenceHead', in_channels=2 * H,
                  num_classes=K)))


def test_preprocessor_pads_and_rejects():
    pre = ClipSequenceDataPreprocessor()
    a, b = torch.randn(3, 4), torch.randn(5, 4)
    out = pre(dict(inputs=[a, b], data_samples=[None, None]))
    feats, lengths = out['inputs']['features'], out['inputs']['lengths']
    assert feats.shape == (2, 5, 4) and lengths.tolist() == [3, 5]
    assert torch.equal(feats[0, :3], a) and not feats[0, 3:].any()
    with pytest.raises(ValueError, match='one width'):
        pre(dict(inputs=[a, torch.randn(2, 5)]))
    with pytest.raises(ValueError, match='no clips'):
        pre(dict(inputs=[torch.randn(0, 4)]))


def test_bigru_shapes_and_padding_invariance():
    """(B, T, C) -> (B, T, 2H); a video's outputs do not depend on the
    padding added for a longer video in the batch (packed sequences), and
    padded steps are zero."""
    torch.manual_seed(0)
    neck = BiGRUTemporalNeck(in_channels=6, hidden_channels=8).eval()
    a, b = torch.randn(3, 6), torch.randn(7, 6)
    pre = ClipSequenceDataPreprocessor()
    batch = pre(dict(inputs=[a, b]))['inputs']
    out = neck(batch['features'], batch['lengths'])
    assert out.shape == (2, 7, 16)
    alone = neck(a[None], torch.tensor([3]))  # (1, 3, 16)
    torch.testing.assert_close(out[0, :3], alone[0], rtol=1e-6, atol=1e-6)
    assert not out[0, 3:].any()
    # the backward direction sees the future: changing the last clip
    # changes the first step's backward half only
    b2 = b.clone()
    b2[-1] += 1.
    out2 = neck(b2[None], torch.tensor([7]))
    ref = neck(b[None], torch.tensor([7]))
    torch.testing.assert_close(out2[0, 0, :8], ref[0, 0, :8])  # forward
    assert not torch.allclose(out2[0, 0, 8:], ref[0, 0, 8:])  # backward


def test_head_loss_is_masked_mean_bce():
    """loss_cls = mean BCE over the valid (step, class) pairs only, checked
    against a hand computation."""
    head = MultiLabelSequenceHead(in_channels=4, num_classes=2)
    with torch.no_grad():
        head.fc_cls.weight.copy_(torch.tensor([[1., 0, 0, 0], [0, 1, 0, 0]]))
        head.fc_cls.bias.zero_()
    x = torch.zeros(2, 3, 4)
    x[0, :2, :2] = torch.tensor([[2., -1.], [0., 3.]])
    x[1, :3, :2] = torch.tensor([[1., 1.], [-2., 0.], [0.5, 0.5]])
    x[0, 2] = 100.  # padding: must not count
    gts = [torch.tensor([[1., 0.], [0., 1.]]),
           torch.tensor([[1., 1.], [0., 0.], [1., 0.]])]
    loss = head.loss(x, torch.tensor([2, 3]), [sample(g) for g in gts])
    terms = []
    for logits, gt in ((x[0, :2, :2], gts[0]), (x[1, :3, :2], gts[1])):
        for z, y in zip(logits.flatten().tolist(), gt.flatten().tolist()):
            p = 1. / (1. + math.exp(-z))
            terms.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
    assert loss['loss_cls'].item() == pytest.approx(sum(terms) / len(terms),
                                                    rel=1e-6)
    with pytest.raises(ValueError, match='2 labels for 3 clips'):
        head.loss(x, torch.tensor([3, 3]), [sample(g) for g in gts])


def test_predict_sets_per_video_scores():
    model = build().eval()
    pre = model.data_preprocessor
    data = pre(dict(inputs=[torch.randn(2, 6), torch.randn(4, 6)],
                    data_samples=[sample(torch.zeros(2, 3)),
                                  sample(torch.zeros(4, 3))]))
    out = model(**data, mode='predict')
    assert [s.pred_score.shape for s in out] == [(2, 3), (4, 3)]
    assert all(((s.pred_score > 0) & (s.pred_score < 1)).all() for s in out)
    logits = model(data['inputs'], mode='tensor')
    torch.testing.assert_close(out[1].pred_score, logits[1].sigmoid())
    with pytest.raises(ValueError, match='mode'):
        model(data['inputs'], mode='features')


def test_bigru_learns_a_task_that_needs_both_directions():
    """Clip t is labelled class 0 when an event (a spike in feature 0)
    happens within the next 3 clips, class 1 when one happened within the
    previous 3. A per-clip classifier cannot do this; the Bi-GRU drives the
    BCE far below its chance value (ln 2 = 0.693 for a constant 0.5 and
    ~0.56 for the best constant)."""
    torch.manual_seed(0)
    C, T = 4, 24

    def video():
        x = torch.randn(T, C) * 0.1
        events = torch.randperm(T)[:2]
        x[events, 0] = 3.
        gt = torch.zeros(T, 2)
        for e in events.tolist():
            gt[max(e - 3, 0):e, 0] = 1.
            gt[e + 1:e + 4, 1] = 1.
        return x, gt

    model = build(C=C, H=16, K=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data_list = [video() for _ in range(32)]
    for step in range(60):
        batch = data_list[(step * 8) % 32:(step * 8) % 32 + 8]
        data = model.data_preprocessor(dict(
            inputs=[x for x, _ in batch],
            data_samples=[sample(g) for _, g in batch]), True)
        loss = model(**data, mode='loss')['loss_cls']
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = [video() for _ in range(8)]
    data = model.data_preprocessor(dict(
        inputs=[x for x, _ in test],
        data_samples=[sample(g) for _, g in test]))
    with torch.no_grad():
        final = model(**data, mode='loss')['loss_cls'].item()
    base = torch.cat([g for _, g in test]).mean(0)  # best constant rates
    const = F.binary_cross_entropy(
        base.expand(len(test) * T, 2), torch.cat([g for _, g in test]))
    assert final < 0.1 < const.item() - 0.3
    assert isinstance(model, ClipSequenceRecognizer)
