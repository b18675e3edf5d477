"""Reconstruction panels: one image per sample showing what the model saw and made."""
from typing import Optional

import numpy as np
import torch

from .draw import INVALID_COLOR, colorize_depth, colorize_semseg, make_panel


def _np(x):
    return x.detach().float().cpu().numpy() if torch.is_tensor(x) else x


def denormalize_rgb(rgb: torch.Tensor, mean=None, std=None) -> np.ndarray:
    """(3, H, W) normalised RGB -> (H, W, 3) uint8."""
    rgb = rgb.detach().float().cpu()
    if mean is not None and std is not None:
        mean = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
        rgb = rgb * std + mean
    return rgb.clamp(0, 255).permute(1, 2, 0).byte().numpy()


def upsample_tokens(mask: np.ndarray, shape) -> np.ndarray:
    """Nearest-neighbour upsampling of an (h, w) token mask to (H, W)."""
    mask = np.asarray(mask, bool)
    ry, rx = shape[0] // mask.shape[0], shape[1] // mask.shape[1]
    return np.repeat(np.repeat(mask, ry, axis=0), rx, axis=1)


def first_frame(inputs: dict, sample, index: int):
    """The first frame of a clip batch, as an image batch of one sample.

    Video inputs are (B, C, T, H, W) and predictions (C, T, H, W) with
    (t, h, w) token masks (the first tubelet covers the first frame); image
    inputs are returned unchanged.

    Returns:
        tuple: ``(inputs, sample, index)`` for :func:`reconstruction_panel`.
    """
    rgb = inputs.get('rgb', inputs.get('depth'))
    if rgb is None or rgb.dim() != 5:
        return inputs, sample, index
    frame_inputs = {
        k: v[index:index + 1, :, 0]  # (1, C, H, W)
        for k, v in inputs.items() if torch.is_tensor(v) and v.dim() == 5
    }
    fields = {}
    for key in sample.keys():
        value = sample.get(key)
        if not torch.is_tensor(value):
            continue
        if key.startswith('visible_') and value.dim() == 3:
            fields[key] = value[0]  # (h, w) of the first tubelet
        elif value.dim() == 4:
            fields[key] = value[:, 0]  # (C, H, W)
        else:
            fields[key] = value
    return frame_inputs, type(sample)(**fields), 0


def reconstruction_panel(inputs: dict,
                         sample,
                         index: int,
                         mean=None,
                         std=None,
                         palette=None) -> np.ndarray:
    """Build the panel of one sample from ``model.predict`` output.

    For clips the first frame is drawn. Tiles: RGB with the hidden patches
    greyed out; the depth given to the
    encoder (hidden patches marked invalid); predicted and ground-truth depth
    with one colour range; the absolute error on valid pixels; MultiMAE's
    predicted semseg when present.

    Args:
        inputs (dict): Preprocessed batch inputs (``rgb``, ``depth``,
            ``depth_valid``...).
        sample (RGBDDataSample): The predicted data sample of ``index``
            (``pred_depth``, ``gt_depth``, ``visible_<modality>``...).
        index (int): Index of the sample in the batch.
        mean, std: RGB normalisation of the data preprocessor.
        palette: Semseg palette.

    Returns:
        np.ndarray: (H, W', 3) uint8 panel.
    """
    inputs, sample, index = first_frame(inputs, sample, index)
    tiles, titles = [], []
    valid = None
    if 'depth_valid' in inputs:
        valid = _np(inputs['depth_valid'][index])[0].astype(bool)  # (H, W)
    if 'rgb' in inputs:
        rgb = denormalize_rgb(inputs['rgb'][index], mean, std)
        if 'visible_rgb' in sample:
            vis = upsample_tokens(_np(sample.visible_rgb), rgb.shape[:2])
            shown = rgb.copy()
            shown[~vis] = (0.3 * shown[~vis] + 0.7 * 128).astype(np.uint8)
            tiles.append(shown)
            titles.append(f'rgb ({vis.mean():.0%} given)')
        else:
            tiles.append(rgb)
            titles.append('rgb')
    gt = pred = None
    if 'gt_depth' in sample:
        gt = _np(sample.gt_depth)[0]
        gt_valid = valid if valid is not None else np.isfinite(gt)
        values = gt[gt_valid]
        vmin, vmax = (np.percentile(values, [2, 98]) if values.size else
                      (0., 1.))
        if 'visible_depth' in sample:
            vis = upsample_tokens(_np(sample.visible_depth), gt.shape)
            tiles.append(colorize_depth(gt, gt_valid & vis, vmin, vmax))
            titles.append(f'given depth ({vis.mean():.0%})')
        tiles.append(colorize_depth(gt, gt_valid, vmin, vmax))
        titles.append('gt depth')
        if 'pred_depth' in sample:
            pred = _np(sample.pred_depth)[0]
            tiles.append(
                colorize_depth(pred, np.ones_like(gt_valid), vmin, vmax))
            titles.append('pred depth')
            err = np.abs(pred - gt)
            err_img = colorize_depth(err, gt_valid, 0.,
                                     float(vmax - vmin) / 2, cmap='magma')
            err_img[~gt_valid] = INVALID_COLOR
            tiles.append(err_img)
            titles.append(f'|err| mean {err[gt_valid].mean():.3f}'
                          if gt_valid.any() else '|err|')
    if 'pred_rgb' in sample:
        tiles.append(denormalize_rgb(sample.pred_rgb, mean, std))
        titles.append('pred rgb')
    if 'pred_semseg' in sample:
        seg = _np(sample.pred_semseg)
        if seg.ndim == 3 and seg.shape[0] > 1:  # logits (K, H, W)
            seg = seg.argmax(0)
        tiles.append(colorize_semseg(np.squeeze(seg), palette))
        titles.append('pred semseg')
    return make_panel(tiles, titles)
