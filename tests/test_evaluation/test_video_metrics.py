"""The video metrics our configs use, against hand computations on toy
predictions: UCF-101 top-1 (mmaction2's AccMetric as configured), OR-AR
clip mAP (stage 1: AccMetric('mean_average_precision'); stage 2:
ClipMultiLabelMAP over the clips of whole videos)."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from mmrgbd.evaluation import ClipMultiLabelMAP

# 4 clips, 3 classes. Class 0: ranking P N P N -> AP = 1/2 * 1 + 1/2 * 2/3.
# Class 1: ranking N N P P -> AP = 1/2 * 1/3 + 1/2 * 2/4. Class 2 has no
# positive clip: no AP, left out of the mean.
SCORES = torch.tensor([[0.9, 0.2, 0.5], [0.8, 0.7, 0.1], [0.3, 0.6, 0.3],
                       [0.1, 0.4, 0.2]])
LABELS = torch.tensor([[1., 1., 0.], [0., 0., 0.], [1., 0., 0.],
                       [0., 1., 0.]])
AP0 = 0.5 * 1 + 0.5 * 2 / 3
AP1 = 0.5 * 1 / 3 + 0.5 * 2 / 4
MAP = (AP0 + AP1) / 2  # 0.625


def test_clip_map_pools_the_clips_of_all_videos():
    metric = ClipMultiLabelMAP()
    videos = []
    for rows in (slice(0, 3), slice(3, 4)):  # videos of 3 and 1 clips
        s = BaseDataElement()
        s.pred_score, s.gt_score = SCORES[rows], LABELS[rows]
        videos.append(s)
    metric.process(None, videos)
    assert metric.compute_metrics(metric.results) == pytest.approx(
        dict(mAP=MAP))
    assert MAP == pytest.approx(0.625)
    with pytest.raises(ValueError, match=r'must both be \(T, K\)'):
        bad = BaseDataElement()
        bad.pred_score, bad.gt_score = SCORES, LABELS[:2]
        metric.process(None, [bad])


def test_stage1_map_is_the_same_number():
    """The clip-level config's evaluator gives the same mAP on the same
    clips, each a sample with a multi-hot gt_label."""
    from mmengine.config import Config
    from mmaction.registry import METRICS
    from pathlib import Path
    cfg = Config.fromfile(str(
        Path(__file__).resolve().parents[2] / 'configs' / 'downstream' /
        'vit-b-p16_m3mae-pre_8xb8-16x4x1-75e_or-ar-clip.py'))
    metric = METRICS.build(dict(cfg.val_evaluator, _scope_='mmaction'))
    metric.process(None, [dict(pred_score=p, gt_label=g)
                          for p, g in zip(SCORES, LABELS)])
    out = metric.compute_metrics(metric.results)
    assert out == pytest.approx(dict(mean_average_precision=MAP))


def test_ucf101_top1_and_mean_class_accuracy():
    """UCF-101 config's AccMetric: top-1 2/3 (samples 1 and 3 right),
    top-5 1 (3 classes). mmaction2's mean class accuracy averages over the
    classes that occur as label *or prediction*, a class only predicted
    counting 0: (0 + 1/2 + 1) / 3 here (class 0 is predicted, never true).
    On the UCF-101 test lists every class occurs, so it is the usual mean
    over the 101 classes."""
    from mmengine.config import Config
    from mmaction.registry import METRICS
    from pathlib import Path
    cfg = Config.fromfile(str(
        Path(__file__).resolve().parents[2] / 'configs' / 'downstream' /
        'vit-b-p16_m3mae-pre_8xb8-16x4x1-100e_ucf101.py'))
    metric = METRICS.build(dict(cfg.test_evaluator, _scope_='mmaction'))
    preds = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2],
                          [0.2, 0.3, 0.5]])
    labels = [1, 1, 2]
    metric.process(None, [dict(pred_score=p, gt_label=torch.tensor([y]))
                          for p, y in zip(preds, labels)])
    out = metric.compute_metrics(metric.results)
    assert out['top1'] == pytest.approx(2 / 3)
    assert out['top5'] == pytest.approx(1.)
    assert out['mean1'] == pytest.approx(0.5)
