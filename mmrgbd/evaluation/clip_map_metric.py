"""Clip-level multi-label mAP over whole videos (OR-AR temporal model)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmrgbd.registry import METRICS


@METRICS.register_module()
class ClipMultiLabelMAP(BaseMetric):
    """Mean average precision over every clip of every video.

    Each sample is a video with ``pred_score`` and ``gt_score`` of shape
    (T, K); the clips of all videos are pooled and the average precision of
    each class is computed with mmaction2's ``mean_average_precision`` (the
    function behind ``AccMetric(metric_list='mean_average_precision')``,
    which scores the clip-level stage), so both OR-AR stages are measured
    the same way. A class without any positive clip has no AP and is left
    out of the mean (as in mmaction2). Reports ``mAP`` as a fraction, like
    mmaction2's ``AccMetric`` (the paper's 80.90 is 0.8090).

    Args:
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix.
    """
    default_prefix: Optional[str] = None

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep every video's (T, K) scores and labels."""
        for sample in data_samples:  # dicts (or BaseDataElement)
            pred = np.asarray(sample.get('pred_score').cpu(),
                              dtype=np.float64)  # (T, K)
            gt = np.asarray(sample.get('gt_score').cpu(),
                            dtype=np.float64)  # (T, K)
            if pred.shape != gt.shape or pred.ndim != 2:
                raise ValueError(f'pred_score {pred.shape} and gt_score '
                                 f'{gt.shape} must both be (T, K)')
            self.results.append((pred, gt))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        """``mAP`` (fraction) of the pooled clips."""
        from mmaction.evaluation import mean_average_precision
        scores = [row for pred, _ in results for row in pred]
        labels = [row for _, gt in results for row in gt]
        value = mean_average_precision(scores, labels)
        return dict(mAP=float(value))
