"""DepthEstimationMetric: hand computations, averaging modes, crops, and
agreement with mmseg's ``DepthMetric`` where that one works."""
import math

import numpy as np
import pytest
import torch

import mmrgbd  # noqa: F401
from mmrgbd.evaluation import DepthEstimationMetric
from mmrgbd.evaluation.depth_metric import crop_mask

LN2 = math.log(2.)


def sample(pred, gt):
    """A data sample as mmengine's Evaluator hands it over (to_dict())."""
    return dict(
        pred_depth_map=dict(data=torch.as_tensor(pred, dtype=torch.float32)
                            [None]),
        gt_depth_map=dict(data=torch.as_tensor(gt, dtype=torch.float32)[None]))


def evaluate(metric, samples):
    metric.results.clear()
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


# image A: 4 valid pixels gt = 1, 2, 4, 8 and pred = 2, 2, 2, 8, plus two
# invalid ones (a hole and a depth beyond max_depth_eval = 10)
GT_A = np.array([[1., 2., 4.], [8., 0., 12.]])
PRED_A = np.array([[2., 2., 2.], [8., 5., 5.]])
# image B: 2 valid pixels, exact
GT_B = np.array([[3., 3.]])
PRED_B = np.array([[3., 3.]])


def test_hand_computation_one_image():
    metric = DepthEstimationMetric(max_depth_eval=10.)
    out = evaluate(metric, [sample(PRED_A, GT_A)])
    # d = pred - gt = 1, 0, -2, 0; e = ln(pred / gt) = ln2, 0, -ln2, 0
    expected = dict(
        abs_rel=(1 / 1 + 0 + 2 / 4 + 0) / 4,
        sq_rel=(1 / 1 + 0 + 4 / 4 + 0) / 4,
        rmse=math.sqrt((1 + 0 + 4 + 0) / 4),
        rmse_log=math.sqrt(2 * LN2**2 / 4),
        log10=2 * math.log10(2.) / 4,
        d1=0.5,  # ratios 2, 1, 2, 1
        d2=0.5,  # 2 > 1.5625
        d3=0.5,  # 2 > 1.953125
        silog=100 * math.sqrt(2 * LN2**2 / 4 - 0.))  # mean(e) = 0
    assert set(out) == set(DepthEstimationMetric.METRICS)
    for k, v in expected.items():
        assert out[k] == pytest.approx(v, rel=1e-6), k


def test_silog_lambda_and_scale():
    gt = np.array([[1., 1.]])
    pred = np.array([[2., 4.]])  # e = ln2, 2 ln2: mean 1.5 ln2
    mean_sq = (LN2**2 + 4 * LN2**2) / 2
    out = evaluate(DepthEstimationMetric(), [sample(pred, gt)])
    assert out['silog'] == pytest.approx(
        100 * math.sqrt(mean_sq - (1.5 * LN2)**2))
    out = evaluate(DepthEstimationMetric(silog_lambda=0.5, silog_scale=1.),
                   [sample(pred, gt)])
    assert out['silog'] == pytest.approx(
        math.sqrt(mean_sq - 0.5 * (1.5 * LN2)**2))


def test_per_image_and_pooled_average():
    samples = [sample(PRED_A, GT_A), sample(PRED_B, GT_B)]
    per_image = evaluate(
        DepthEstimationMetric(max_depth_eval=10.), samples)
    pooled = evaluate(
        DepthEstimationMetric(max_depth_eval=10., average='pixel'), samples)
    assert per_image['abs_rel'] == pytest.approx((0.375 + 0.) / 2)
    assert pooled['abs_rel'] == pytest.approx(1.5 / 6)
    assert per_image['rmse'] == pytest.approx((math.sqrt(1.25) + 0.) / 2)
    assert pooled['rmse'] == pytest.approx(math.sqrt(5 / 6))
    assert per_image['d1'] == pytest.approx((0.5 + 1.) / 2)
    assert pooled['d1'] == pytest.approx(4 / 6)


def test_selected_metrics_where_mmseg_raises():
    from mmseg.evaluation import DepthMetric
    with pytest.raises(TypeError):  # isinstance(x, [tuple, list])
        DepthMetric(depth_metrics=['rmse', 'd1'])
    out = evaluate(DepthEstimationMetric(depth_metrics=['rmse', 'd1'],
                                         max_depth_eval=10.),
                   [sample(PRED_A, GT_A)])
    assert list(out) == ['rmse', 'd1']
    assert out['rmse'] == pytest.approx(math.sqrt(1.25))
    with pytest.raises(ValueError, match='unknown depth metrics'):
        DepthEstimationMetric(depth_metrics=['delta1'])


@pytest.mark.parametrize('crop', [None, 'nyu_crop'])
def test_agrees_with_mmseg_default_path(crop):
    from mmseg.evaluation import DepthMetric
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(3):
        gt = rng.uniform(0.3, 12., (480, 640))
        gt[rng.random((480, 640)) < 0.2] = 0.  # holes
        pred = gt * np.exp(rng.normal(0., 0.2, gt.shape)) + 0.05
        samples.append(sample(pred, gt))
    kwargs = dict(min_depth_eval=1e-3, max_depth_eval=10., crop_type=crop)
    theirs = evaluate(DepthMetric(**kwargs), samples)
    ours = evaluate(
        DepthEstimationMetric(silog_lambda=0.5, silog_scale=1.,
                              clip_pred=False, **kwargs), samples)
    assert set(ours) == set(theirs)
    for k in theirs:
        assert ours[k] == pytest.approx(theirs[k], rel=1e-4), k


def test_crop_scales_with_the_image():
    ref = np.zeros((480, 640), bool)
    ref[45:471, 41:601] = True  # mmseg's fixed nyu_crop
    assert (crop_mask((480, 640), 'nyu_crop') == ref).all()
    half = crop_mask((240, 320), 'nyu_crop')
    rows, cols = np.nonzero(half.any(1))[0], np.nonzero(half.any(0))[0]
    span = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    assert span == (22, 235, 20, 300)
    kitti = crop_mask((375, 1242), 'garg_kitti')
    rows, cols = np.nonzero(kitti.any(1))[0], np.nonzero(kitti.any(0))[0]
    assert (rows[0], rows[-1] + 1) == (int(0.40810811 * 375),
                                       int(0.99189189 * 375))
    assert (cols[0], cols[-1] + 1) == (int(0.03594771 * 1242),
                                       int(0.96405229 * 1242))
    with pytest.raises(ValueError, match='crop_type'):
        DepthEstimationMetric(crop_type='nyu')


def test_multimae_centre_crop_and_separate_delta_thresholds():
    """MultiMAE's NYUv2 test region: the central 256x256 of the 341x256
    resize = columns 80:560 of 480x640, all rows; delta_1/2/3 by hand with
    ratios that fall between the thresholds."""
    mask = crop_mask((480, 640), 'multimae_nyu')
    ref = np.zeros((480, 640), bool)
    ref[:, 80:560] = True
    assert (mask == ref).all()
    gt = np.full((480, 640), 2.)
    pred = gt.copy()
    pred[:, :80] = 100.  # outside the region: ignored
    # inside: ratios 1.2 (< 1.25), 1.5 (< 1.5625), 1.9 (< 1.953), 2.5
    pred[:, 80:200] = 2. * 1.2
    pred[:, 200:320] = 2. / 1.5
    pred[:, 320:440] = 2. * 1.9
    pred[:, 440:560] = 2. / 2.5
    out = evaluate(DepthEstimationMetric(crop_type='multimae_nyu',
                                         average='pixel'),
                   [sample(pred, gt)])
    assert (out['d1'], out['d2'], out['d3']) == pytest.approx(
        (0.25, 0.5, 0.75))
    rel = (0.2 + 0.5 / 1.5 + 0.9 + 1.5 / 2.5) / 4
    assert out['abs_rel'] == pytest.approx(rel)
    sq = [(2 * 1.2 - 2)**2, (2 / 1.5 - 2)**2, (2 * 1.9 - 2)**2,
          (2 / 2.5 - 2)**2]
    assert out['rmse'] == pytest.approx(math.sqrt(sum(sq) / 4))
    e = [math.log(1.2), -math.log(1.5), math.log(1.9), -math.log(2.5)]
    var = sum(v * v for v in e) / 4 - (sum(e) / 4)**2
    assert out['silog'] == pytest.approx(100 * math.sqrt(var))


def test_empty_images_clipping_and_errors():
    empty = sample(np.ones((2, 2)), np.zeros((2, 2)))
    metric = DepthEstimationMetric(max_depth_eval=10.)
    # an image without valid pixel is skipped instead of making NaN
    out = evaluate(metric, [sample(PRED_A, GT_A), empty])
    assert out['abs_rel'] == pytest.approx(0.375)
    with pytest.raises(ValueError, match='no valid ground-truth'):
        evaluate(metric, [empty])
    # a non-positive prediction is clipped to min_depth_eval (or raises)
    gt, pred = np.array([[2., 2.]]), np.array([[-1., 2.]])
    out = evaluate(DepthEstimationMetric(min_depth_eval=0.5),
                   [sample(pred, gt)])
    assert out['abs_rel'] == pytest.approx((1.5 / 2) / 2)
    with pytest.raises(ValueError, match='predictions <= 0'):
        evaluate(DepthEstimationMetric(clip_pred=False), [sample(pred, gt)])
    with pytest.raises(ValueError, match='differ in shape'):
        evaluate(metric, [sample(np.ones((2, 3)), np.ones((3, 2)))])
    with pytest.raises(KeyError, match='pred_depth_map'):
        metric.process({}, [dict(gt_depth_map=dict(data=torch.ones(1, 2)))])


def test_built_from_an_mmseg_scope():
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope
    from mmseg.registry import METRICS
    metric = METRICS.build(
        dict(type='mmrgbd.DepthEstimationMetric', max_depth_eval=10.,
             crop_type='nyu_crop', depth_metrics=['abs_rel']))
    assert isinstance(metric, DepthEstimationMetric)
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator(
            dict(type='mmrgbd.DepthEstimationMetric', max_depth_eval=10.))
    evaluator.process([sample(PRED_A, GT_A)], {})
    out = evaluator.evaluate(1)
    assert out['abs_rel'] == pytest.approx(0.375)


def test_real_nyu_depth_through_mmseg_pipeline(samples_dir):
    """mmseg's own NYU loading (uint16 mm -> metres) feeds the metric."""
    from mmengine.dataset import Compose
    from mmseg.evaluation import DepthMetric
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from mmengine.registry import DefaultScope
    root = samples_dir / 'mmseg_pseudo_nyu'
    name = 'bookstore_0001d_00001'
    with DefaultScope.overwrite_default_scope('mmseg'):
        pipeline = Compose([
            dict(type='LoadImageFromFile'),
            dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
            dict(type='PackSegInputs'),
        ])
    data = pipeline(
        dict(img_path=str(root / 'images' / f'{name}.jpg'),
             depth_map_path=str(root / 'annotations' / f'{name}.png'),
             seg_fields=[], reduce_zero_label=False))
    gt = data['data_samples'].gt_depth_map.data[0].numpy()  # (120, 160) m
    assert gt.shape == (120, 160) and 0.5 < float(gt.max()) <= 10.
    assert 0.2 < (gt == 0).mean() < 0.5  # real holes
    rng = np.random.default_rng(1)
    pred = gt * 1.1 + rng.normal(0, 0.01, gt.shape)
    pred = np.where(gt > 0, pred, 0.)
    samples = [sample(pred, gt)]
    # mmseg does not clip predictions (gt * 1.1 exceeds 10 m here)
    ours = evaluate(DepthEstimationMetric(max_depth_eval=10., clip_pred=False,
                                          silog_lambda=0.5, silog_scale=1.),
                    samples)
    theirs = evaluate(DepthMetric(min_depth_eval=1e-3, max_depth_eval=10.),
                      samples)
    assert ours['abs_rel'] == pytest.approx(0.1, abs=0.01)
    assert ours['d1'] == 1.
    for k in theirs:
        assert ours[k] == pytest.approx(theirs[k], rel=1e-4, abs=1e-7), k
