"""Depth-reconstruction metric of masked RGB-D pre-training (tools/test.py)."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmrgbd.datasets.transforms.depth import denormalize_depth
from mmrgbd.visualization.reconstruction import upsample_tokens
from .depth_metric import _SUMS, depth_error_sums
from mmrgbd.registry import METRICS


def _np(x):
    return x.detach().float().cpu().numpy() if torch.is_tensor(x) else \
        np.asarray(x, dtype=np.float64)


@METRICS.register_module()
class DepthReconstructionMetric(BaseMetric):
    """Error of reconstructed depth at hidden, valid pixels, in metres.

    Uses ``pred_depth``, ``gt_depth`` and ``visible_depth`` attached by
    ``BaseRGBDSelfSupervisor.predict`` and the batch's ``depth_valid``;
    predictions are mapped back to metres with the sample's ``depth_norm``
    (written by ``NormalizeDepth``) when present. Pixels are pooled over the
    whole set (not averaged per image). Reported keys: ``abs_rel`` (mean
    |pred-gt|/gt), ``rmse`` (metres), ``mae`` (metres) and ``delta1``
    (fraction with max(pred/gt, gt/pred) < 1.25), each over hidden pixels, and
    ``rmse_all`` over all valid pixels.

    Args:
        min_depth (float): Ground truth below this (metres) is ignored.
            Defaults to 1e-3.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'recon'``.
    """

    default_prefix = 'recon'

    def __init__(self,
                 min_depth: float = 1e-3,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.min_depth = min_depth

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        valids = data_batch['inputs'].get('depth_valid')
        for i, ds in enumerate(data_samples):
            ds = ds.to_dict() if hasattr(ds, 'to_dict') else ds
            if 'pred_depth' not in ds or 'gt_depth' not in ds:
                raise KeyError('DepthReconstructionMetric needs pred_depth '
                               'and gt_depth from the model\'s predict()')
            pred, gt = _np(ds['pred_depth'])[0], _np(ds['gt_depth'])[0]
            valid = np.ones_like(gt, bool) if valids is None else \
                _np(valids[i])[0].astype(bool)  # (H, W)
            if ds.get('depth_norm') is not None:
                pred = denormalize_depth(pred, ds['depth_norm'])
                gt = denormalize_depth(gt, ds['depth_norm'])
            valid &= np.isfinite(gt) & (gt > self.min_depth)
            hidden = np.ones_like(valid)
            if 'visible_depth' in ds:
                hidden = ~upsample_tokens(_np(ds['visible_depth']), gt.shape)
            sel = valid & hidden
            p, g = np.maximum(pred[sel], self.min_depth), gt[sel]
            self.results.append(
                dict(
                    sums=depth_error_sums(p, g),  # (10,) see depth_metric
                    ae=float(np.abs(p - g).sum()),
                    n_all=int(valid.sum()),
                    sq_all=float(((pred[valid] - gt[valid])**2).sum())))

    def compute_metrics(self, results: list) -> dict:
        sums = dict(zip(_SUMS, sum((r['sums'] for r in results),
                                   np.zeros(len(_SUMS)))))
        n = max(sums['n'], 1)
        n_all = max(sum(r['n_all'] for r in results), 1)
        return dict(
            abs_rel=sums['abs_rel'] / n,
            rmse=float(np.sqrt(sums['sq'] / n)),
            mae=sum(r['ae'] for r in results) / n,
            delta1=sums['d1'] / n,
            rmse_all=float(np.sqrt(sum(r['sq_all'] for r in results) / n_all)))
