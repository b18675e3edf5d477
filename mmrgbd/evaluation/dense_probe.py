"""Dense linear probes of a frozen RGB encoder on synthetic RGB-D scenes.

One implementation shared by ``tools/analysis/probe_encoder.py`` (a
pre-trained encoder against its random-init twin) and
:class:`mmrgbd.engine.hooks.DenseProbeHook` (the same figures during
pre-training). The protocol is the one of the review
``probe_pretraining.md``:

* **Data**: held-out :class:`~mmrgbd.datasets.SyntheticRGBDScenes` (a seed
  the pre-training did not use), rendered at the pre-training size and, if
  the encoder expects another aspect ratio (MultiMAE's square crops),
  centre-cropped to that ratio and resized to the encoder's input size
  (``rgb`` bilinear, labels and depth nearest).
* **Targets per p x p patch** (:func:`patch_targets`): the majority class of
  the labelled pixels (ties go to the lower class id) and the mean depth of
  the valid pixels in metres; patches without a valid depth pixel are left
  out of the depth metrics.
* **Features** (:func:`rgb_patch_features`): the frozen RGB encoder with
  every RGB patch visible and no other modality, one feature per patch.
* **Probes** (:func:`fit_dense_probes`), identical for every feature set:
  features standardised with the train mean / std; multinomial logistic
  regression with an L2 penalty (:func:`fit_logistic_regression`) for the
  class, ridge regression (:func:`fit_ridge`) for the depth.
* **Scores**: patch accuracy and mIoU (classes with a non-empty union),
  depth RMSE (m) and delta1 (share of patches with ``max(p/g, g/p) < 1.25``),
  predictions clipped to ``>= min_depth`` (0.05 m) first.
* **References**: the position-only features (one-hot patch index,
  :func:`position_features`) and the trivial baseline (train-majority class,
  train-mean depth; :func:`trivial_baseline`).

Everything is deterministic: rendering is a pure function of ``(seed,
index)``, the encoder runs in eval mode, and both probes are solved in
float64 without randomness (full-batch L-BFGS from zeros; a linear solve).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import is_model_wrapper

from mmrgbd.datasets.synthetic import SYNTHETIC_CLASSES, SyntheticRGBDScenes
from mmrgbd.datasets.transforms import RGBDCenterCrop, RGBDResize
from mmrgbd.datasets.transforms.geometry import _as_hw
from mmrgbd.models.backbones import MultiModalViT
from .depth_metric import depth_error_sums, metrics_from_sums

__all__ = [
    'PROBE_METRICS', 'ProbeSplit', 'patch_targets', 'render_probe_split',
    'probe_input_spec', 'rgb_patch_features', 'extract_patch_features',
    'standardize', 'fit_logistic_regression', 'fit_ridge',
    'classification_scores', 'depth_scores', 'fit_dense_probes',
    'position_features', 'trivial_baseline', 'dense_probe'
]

#: Keys of every result dict, in table order.
PROBE_METRICS = ('acc', 'miou', 'rmse', 'delta1')

SizeHW = Tuple[int, int]


# ---------------------------------------------------------------------------
# data and targets
# ---------------------------------------------------------------------------
@dataclass
class ProbeSplit:
    """Images and per-patch targets of a probe split.

    Attributes:
        rgb (Tensor): uint8 (M, 3, H, W) images.
        labels (Tensor): long (M, N) majority class per patch, -1 for a patch
            without a labelled pixel.
        depth (Tensor): float64 (M, N) mean valid depth per patch (metres; 0
            where ``depth_valid`` is False).
        depth_valid (Tensor): bool (M, N), True where the patch has at least
            one valid depth pixel.
        grid_size (tuple[int, int]): Patch grid (h, w), N = h * w.
        patch_size (int): Patch size p in pixels.
    """

    rgb: torch.Tensor
    labels: torch.Tensor
    depth: torch.Tensor
    depth_valid: torch.Tensor
    grid_size: SizeHW
    patch_size: int

    def __len__(self) -> int:
        return self.rgb.shape[0]


def patch_targets(semseg: torch.Tensor,
                  depth: torch.Tensor,
                  depth_valid: torch.Tensor,
                  patch_size: int,
                  num_classes: int
                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Majority class and mean valid depth of every p x p patch.

    Args:
        semseg (Tensor): (B, H, W) class ids; values outside ``[0,
            num_classes)`` (e.g. the ignore index 255) are unlabelled.
        depth (Tensor): (B, H, W) depth in metres.
        depth_valid (Tensor): (B, H, W) bool valid-depth mask.
        patch_size (int): Patch size p; H and W must be multiples of p.
        num_classes (int): Number of classes K.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``labels`` long (B, N) (row-major
        patch order; ties go to the lower class id; -1 where no pixel is
        labelled), ``mean_depth`` float64 (B, N) (0 where invalid) and
        ``has_depth`` bool (B, N).
    """
    if semseg.dim() != 3 or depth.shape != semseg.shape or \
            depth_valid.shape != semseg.shape:
        raise ValueError(f'semseg, depth and depth_valid must all be (B, H, '
                         f'W), got {tuple(semseg.shape)}, {tuple(depth.shape)}'
                         f' and {tuple(depth_valid.shape)}')
    H, W = semseg.shape[-2:]
    p = int(patch_size)
    if H % p or W % p:
        raise ValueError(f'maps of size {H}x{W} are not divisible into '
                         f'{p}x{p} patches')
    semseg = semseg.long()
    labelled = (semseg >= 0) & (semseg < num_classes)  # (B, H, W)
    onehot = F.one_hot(semseg.clamp(0, num_classes - 1), num_classes)
    onehot = onehot * labelled[..., None]  # (B, H, W, K)
    counts = F.avg_pool2d(
        onehot.permute(0, 3, 1, 2).double(), p) * (p * p)  # (B, K, h, w)
    counts = counts.flatten(2).transpose(1, 2)  # (B, N, K)
    labels = counts.argmax(-1)  # (B, N): first maximum = lower id on ties
    labels[counts.sum(-1) == 0] = -1
    valid = depth_valid.bool() & torch.isfinite(depth)  # (B, H, W)
    d = torch.where(valid, depth.double(), depth.new_zeros(()).double())
    d_sum = F.avg_pool2d(d[:, None], p).flatten(1)  # (B, N)
    n_valid = F.avg_pool2d(valid[:, None].double(), p).flatten(1)  # (B, N)
    has_depth = n_valid > 0
    mean_depth = torch.where(has_depth, d_sum / n_valid.clamp(min=1e-12),
                             torch.zeros_like(d_sum))  # (B, N)
    return labels, mean_depth, has_depth


def _aspect_crop(render_hw: SizeHW, input_hw: SizeHW) -> Optional[SizeHW]:
    """Largest centred (h, w) crop of ``render_hw`` with the aspect ratio of
    ``input_hw`` (None when the ratios already agree)."""
    rh, rw = render_hw
    ih, iw = input_hw
    if rh * iw == rw * ih:
        return None
    if rh * iw > rw * ih:  # the render is taller: keep the width
        return int(round(rw * ih / iw)), rw
    return rh, int(round(rh * iw / ih))


def render_probe_split(seed: int,
                       start: int,
                       num_images: int,
                       input_size: Union[int, Sequence[int]],
                       render_size: Optional[Union[int,
                                                   Sequence[int]]] = None,
                       patch_size: int = 16,
                       cache_dir: Optional[str] = None) -> ProbeSplit:
    """Render images ``start .. start + num_images - 1`` of a synthetic seed.

    Images are rendered at ``render_size``; if its aspect ratio differs from
    ``input_size`` the largest centred crop with the input's ratio is taken
    (:class:`RGBDCenterCrop`); then everything is resized to ``input_size``
    (:class:`RGBDResize`: ``rgb`` bilinear, depth / labels nearest). E.g. the
    MultiMAE demo (trained on 96x96 crops of 120x160 renders): render
    120x160, crop 120x120, resize 96x96.

    Args:
        seed (int): Dataset seed; use one the pre-training did not see.
        start (int): First sample index.
        num_images (int): Number of images M.
        input_size (int | tuple[int, int]): Encoder input (H, W), multiples
            of ``patch_size``.
        render_size (int | tuple[int, int], optional): Render (H, W).
            Defaults to ``input_size``.
        patch_size (int): Patch size of the targets. Defaults to 16.
        cache_dir (str, optional): ``SyntheticRGBDScenes`` render cache.

    Returns:
        ProbeSplit: Images and targets.
    """
    input_hw = _as_hw(input_size, 'input_size')
    render_hw = input_hw if render_size is None else _as_hw(
        render_size, 'render_size')
    if input_hw[0] % patch_size or input_hw[1] % patch_size:
        raise ValueError(f'input size {input_hw} is not a multiple of the '
                         f'patch size {patch_size}')
    if num_images < 1 or start < 0:
        raise ValueError(f'need start >= 0 and num_images >= 1, got {start} '
                         f'and {num_images}')
    pipeline = []
    crop = _aspect_crop(render_hw, input_hw)
    if crop is not None:
        pipeline.append(RGBDCenterCrop(crop))
    if (crop or render_hw) != input_hw:
        pipeline.append(RGBDResize(scale=(input_hw[1], input_hw[0])))
    dataset = SyntheticRGBDScenes(
        num_samples=start + num_images,
        img_size=render_hw,
        seed=seed,
        test_mode=True,
        cache_dir=cache_dir,
        pipeline=pipeline)
    samples = [dataset[i] for i in range(start, start + num_images)]
    rgb = torch.from_numpy(np.stack([s['rgb'] for s in samples]))
    rgb = rgb.permute(0, 3, 1, 2).contiguous()  # (M, 3, H, W) uint8
    semseg = torch.from_numpy(np.stack([s['semseg']
                                        for s in samples]))  # (M, H, W)
    depth = torch.from_numpy(np.stack([s['depth'] for s in samples]))
    valid = torch.from_numpy(np.stack([s['depth_valid'] for s in samples]))
    labels, mean_depth, has_depth = patch_targets(
        semseg, depth, valid, patch_size, dataset.num_classes)
    grid = (input_hw[0] // patch_size, input_hw[1] // patch_size)
    return ProbeSplit(rgb, labels, mean_depth, has_depth, grid, patch_size)


def probe_input_spec(cfg) -> Dict[str, object]:
    """Probe image sizes matching what a pre-training config's model sees.

    ``input_size``: the backbone's configured ``img_size`` (ViT methods),
    else the render size. ``render_size``: ``img_size`` of the config's
    training dataset (the synthetic render size of the demos), else the
    input size. ``patch_size``: the backbone's ``patch_size`` (default 16).

    Args:
        cfg (Config | dict): A pre-training config with ``model``.

    Returns:
        dict: ``input_size`` (H, W), ``render_size`` (H, W), ``patch_size``.
    """
    model = cfg['model']
    backbone = model.get('backbone') or {}
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    render = dataset.get('img_size')
    size = backbone.get('img_size')
    if size is None and render is None:
        raise ValueError('cannot tell the probe image size from the config: '
                         'neither model.backbone.img_size nor '
                         'train_dataloader.dataset.img_size is set; pass the '
                         'sizes explicitly')
    input_size = _as_hw(size if size is not None else render, 'img_size')
    render_size = _as_hw(render, 'img_size') if render is not None \
        else input_size
    return dict(
        input_size=input_size,
        render_size=render_size,
        patch_size=int(backbone.get('patch_size', 16)))


# ---------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------
def rgb_patch_features(model: nn.Module, rgb: torch.Tensor,
                       patch_size: int) -> torch.Tensor:
    """Per-patch features of the RGB encoder of a pre-training algorithm.

    Dispatch by capability:

    * a :class:`MultiModalViT` ``backbone`` with an ``rgb`` modality (Mask3D,
      MultiMAE, M3 3D, Progressive; Progressive's ``backbone`` is the
      student): the RGB tokens with every RGB patch visible and no other
      modality. Modality-specific layouts use the RGB encoder (final norm as
      configured); the shared layout uses the RGB stem and the shared
      encoder; global tokens are excluded.
    * an ``extract_img_feat(rgb)`` method (SimIPU): the image feature map,
      average-pooled to the patch grid.

    Args:
        model (nn.Module): The algorithm (eval mode is the caller's job).
        rgb (Tensor): (B, 3, H, W) RGB normalised by the model's data
            preprocessor.
        patch_size (int): Patch size p of the grid (H / p, W / p).

    Returns:
        Tensor: (B, N, C) features in row-major patch order.
    """
    h, w = rgb.shape[-2] // patch_size, rgb.shape[-1] // patch_size
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, MultiModalViT) and 'rgb' in backbone.modalities:
        if hasattr(backbone.stem('rgb').patch_embed, 'tubelet_size'):
            raise ValueError('the RGB encoder embeds video tubelets; the '
                             'dense probe takes single frames')
        if backbone.patch_size != patch_size:
            raise ValueError(f'the encoder has {backbone.patch_size}-pixel '
                             f'patches, the probe targets {patch_size}')
        tokens = backbone({'rgb': rgb})['tokens']['rgb']  # (B, N, C)
    elif callable(getattr(model, 'extract_img_feat', None)):
        fmap = model.extract_img_feat(rgb)  # (B, C, h', w')
        fmap = F.adaptive_avg_pool2d(fmap, (h, w))  # (B, C, h, w)
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, N, C)
    else:
        raise TypeError(
            f'{type(model).__name__} has neither a MultiModalViT backbone '
            'with an rgb modality nor an extract_img_feat(rgb) method: no '
            'RGB encoder to probe')
    if tokens.shape[1] != h * w:
        raise ValueError(f'the encoder gave {tokens.shape[1]} RGB tokens for '
                         f'a {h}x{w} patch grid')
    return tokens


@torch.no_grad()
def extract_patch_features(model: nn.Module,
                           rgb: torch.Tensor,
                           patch_size: int,
                           batch_size: int = 32) -> torch.Tensor:
    """Frozen per-patch RGB features of uint8 images.

    The model is switched to eval mode (and back), the images go through its
    own ``data_preprocessor`` and :func:`rgb_patch_features`.

    Args:
        model (nn.Module): The algorithm (a model wrapper is unwrapped).
        rgb (Tensor): uint8 (M, 3, H, W).
        patch_size (int): Patch size.
        batch_size (int): Images per forward pass.

    Returns:
        Tensor: float32 (M, N, C) on the CPU.
    """
    if is_model_wrapper(model):
        model = model.module
    was_training = model.training
    model.eval()
    out = []
    try:
        for chunk in rgb.split(batch_size):
            data = model.data_preprocessor({'inputs': {'rgb': chunk}}, False)
            feats = rgb_patch_features(model, data['inputs']['rgb'],
                                       patch_size)  # (b, N, C)
            out.append(feats.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)  # (M, N, C)


def position_features(num_images: int, num_patches: int) -> torch.Tensor:
    """The position-only reference: a one-hot of the patch index.

    Returns:
        Tensor: float32 (num_images, N, N).
    """
    eye = torch.eye(num_patches)  # (N, N)
    return eye.expand(num_images, -1, -1).clone()  # (M, N, N)


# ---------------------------------------------------------------------------
# probes
# ---------------------------------------------------------------------------
def standardize(train: torch.Tensor, test: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Standardise both with the train mean and (population) std.

    Constant train columns get std 1 (as scikit-learn's ``StandardScaler``).

    Args:
        train (Tensor): (n, D).
        test (Tensor): (m, D).

    Returns:
        tuple[Tensor, Tensor]: float64 (n, D), (m, D).
    """
    train, test = train.double(), test.double()
    mean = train.mean(0)  # (D,)
    std = train.std(0, unbiased=False)  # (D,)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return (train - mean) / std, (test - mean) / std


def fit_logistic_regression(x: torch.Tensor,
                            y: torch.Tensor,
                            num_classes: int,
                            C: float = 1.0,
                            max_iter: int = 1000,
                            tol: float = 1e-5
                            ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression with an L2 penalty (full-batch LBFGS).

    Minimises ``mean_i CE(x_i W + b, y_i) + ||W||^2 / (2 C n)``, i.e.
    scikit-learn's ``LogisticRegression(C=C)`` objective ``C sum_i CE +
    ||W||^2 / 2`` divided by ``C n`` (the bias is not penalised), in
    float64 from zeros with L-BFGS (history 10, strong-Wolfe line search,
    stopping when the largest gradient entry is below ``tol``):
    deterministic.

    Args:
        x (Tensor): (n, D) features.
        y (Tensor): (n,) class ids in ``[0, num_classes)``.
        num_classes (int): K (classes absent from ``y`` get no prediction
            mass to speak of, as their logits only ever decrease).
        C (float): Inverse regularisation strength. Defaults to 1.
        max_iter (int): L-BFGS iterations. Defaults to 1000.
        tol (float): Gradient tolerance. Defaults to 1e-5.

    Returns:
        tuple[Tensor, Tensor]: ``weight`` (D, K) and ``bias`` (K,), float64.
    """
    if C <= 0:
        raise ValueError(f'C must be > 0, got {C}')
    x = x.double()
    y = y.long()
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f'need as many labels as feature rows (> 0), got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}')
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f'labels must be in [0, {num_classes})')
    n, d = x.shape
    weight = torch.zeros(d, num_classes, dtype=torch.float64,
                         requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    l2 = 1.0 / (2.0 * C * n)
    opt = torch.optim.LBFGS([weight, bias],
                            lr=1,
                            max_iter=max_iter,
                            max_eval=max_iter * 2,
                            tolerance_grad=tol,
                            tolerance_change=1e-12,
                            history_size=10,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        logits = x @ weight + bias  # (n, K)
        loss = F.cross_entropy(logits, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return weight.detach(), bias.detach()


def fit_ridge(x: torch.Tensor, y: torch.Tensor,
              alpha: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Ridge regression in closed form (bias not penalised).

    Minimises ``||y - x w - b||^2 + alpha ||w||^2``: with centred ``x_c``,
    ``y_c``, ``w = (x_c^T x_c + alpha I)^-1 x_c^T y_c`` and ``b = mean(y) -
    mean(x) w`` (scikit-learn's ``Ridge(alpha)``), in float64.

    Args:
        x (Tensor): (n, D) features.
        y (Tensor): (n,) targets.
        alpha (float): L2 strength (> 0). Defaults to 1.

    Returns:
        tuple[Tensor, Tensor]: ``weight`` (D,) and ``bias`` (), float64.
    """
    if alpha <= 0:
        raise ValueError(f'alpha must be > 0, got {alpha}')
    x, y = x.double(), y.double()
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f'need as many targets as feature rows (> 0), got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}')
    x_mean, y_mean = x.mean(0), y.mean()
    xc, yc = x - x_mean, y - y_mean  # (n, D), (n,)
    gram = xc.T @ xc + alpha * torch.eye(x.shape[1], dtype=x.dtype)  # (D, D)
    weight = torch.linalg.solve(gram, xc.T @ yc)  # (D,)
    return weight, y_mean - x_mean @ weight


def classification_scores(pred: torch.Tensor, gt: torch.Tensor,
                          num_classes: int) -> Dict[str, float]:
    """Patch accuracy and mIoU over the classes with a non-empty union.

    Intersections and unions come from mmseg's
    ``IoUMetric.intersect_and_union``.

    Args:
        pred (Tensor): (n,) predicted class ids.
        gt (Tensor): (n,) true class ids.
        num_classes (int): K.

    Returns:
        dict: ``acc`` and ``miou``.
    """
    from mmseg.evaluation.metrics import IoUMetric
    pred, gt = pred.long().flatten(), gt.long().flatten()
    if pred.shape != gt.shape or pred.numel() == 0:
        raise ValueError('pred and gt must be non-empty and of one shape, got '
                         f'{tuple(pred.shape)} and {tuple(gt.shape)}')
    inter, union, _, _ = IoUMetric.intersect_and_union(
        pred, gt, num_classes, ignore_index=-1)  # (K,) each
    present = union > 0
    miou = (inter[present] / union[present]).mean()
    return dict(acc=float((pred == gt).double().mean()), miou=float(miou))


def depth_scores(pred: torch.Tensor, gt: torch.Tensor,
                 min_depth: float = 0.05) -> Dict[str, float]:
    """Depth RMSE (m) and delta1 of per-patch predictions.

    Predictions are clipped to ``>= min_depth`` (no real depth is nearer;
    keeps the ratio defined), then :func:`depth_error_sums` /
    :func:`metrics_from_sums` of :mod:`mmrgbd.evaluation.depth_metric` give
    ``rmse = sqrt(mean((p - g)^2))`` and ``delta1 = mean(max(p/g, g/p) <
    1.25)``.

    Args:
        pred (Tensor): (n,) predicted depth in metres.
        gt (Tensor): (n,) true depth in metres (> 0).
        min_depth (float): Lower clip of the predictions.

    Returns:
        dict: ``rmse`` and ``delta1``.
    """
    pred = pred.double().flatten().clamp(min=min_depth).numpy()
    gt = gt.double().flatten().numpy()
    if pred.shape != gt.shape or pred.size == 0:
        raise ValueError('pred and gt must be non-empty and of one shape, got '
                         f'{pred.shape} and {gt.shape}')
    if (gt <= 0).any():
        raise ValueError('ground-truth depth must be > 0')
    m = metrics_from_sums(depth_error_sums(pred, gt))
    return dict(rmse=m['rmse'], delta1=m['d1'])


def fit_dense_probes(train_feats: torch.Tensor,
                     train: ProbeSplit,
                     test_feats: torch.Tensor,
                     test: ProbeSplit,
                     num_classes: int = len(SYNTHETIC_CLASSES),
                     C: float = 1.0,
                     alpha: float = 1.0,
                     max_iter: int = 1000,
                     min_depth: float = 0.05) -> Dict[str, float]:
    """Fit both linear probes on train features and score them on test.

    Args:
        train_feats (Tensor): (M_train, N, C) features.
        train (ProbeSplit): Train targets.
        test_feats (Tensor): (M_test, N, C) features.
        test (ProbeSplit): Test targets.
        num_classes (int): K. Defaults to the 10 synthetic classes.
        C (float): Logistic-regression inverse L2 strength.
        alpha (float): Ridge L2 strength.
        max_iter (int): L-BFGS iterations.
        min_depth (float): Lower clip of the depth predictions (m).

    Returns:
        dict: ``acc``, ``miou``, ``rmse``, ``delta1``.
    """
    for feats, split in ((train_feats, train), (test_feats, test)):
        if feats.shape[:2] != split.labels.shape:
            raise ValueError(f'features {tuple(feats.shape)} do not match '
                             f'the {tuple(split.labels.shape)} patch targets')
    x_tr = train_feats.flatten(0, 1)  # (M_tr * N, C)
    x_te = test_feats.flatten(0, 1)  # (M_te * N, C)
    x_tr, x_te = standardize(x_tr, x_te)
    y_tr, y_te = train.labels.flatten(), test.labels.flatten()
    cls_tr, cls_te = y_tr >= 0, y_te >= 0
    weight, bias = fit_logistic_regression(x_tr[cls_tr], y_tr[cls_tr],
                                           num_classes, C, max_iter)
    pred = (x_te[cls_te] @ weight + bias).argmax(-1)  # (n_te,)
    out = classification_scores(pred, y_te[cls_te], num_classes)
    d_tr, d_te = train.depth_valid.flatten(), test.depth_valid.flatten()
    w, b = fit_ridge(x_tr[d_tr], train.depth.flatten()[d_tr], alpha)
    out.update(depth_scores(x_te[d_te] @ w + b, test.depth.flatten()[d_te],
                            min_depth))
    return {k: out[k] for k in PROBE_METRICS}


def trivial_baseline(train: ProbeSplit,
                     test: ProbeSplit,
                     num_classes: int = len(SYNTHETIC_CLASSES),
                     min_depth: float = 0.05) -> Dict[str, float]:
    """Scores of predicting the train-majority class and train-mean depth.

    Args:
        train (ProbeSplit): Train targets.
        test (ProbeSplit): Test targets.
        num_classes (int): K.
        min_depth (float): Lower clip of the depth prediction.

    Returns:
        dict: ``acc``, ``miou``, ``rmse``, ``delta1``.
    """
    y_tr = train.labels[train.labels >= 0]
    majority = torch.bincount(y_tr, minlength=num_classes).argmax()
    y_te = test.labels[test.labels >= 0]
    out = classification_scores(torch.full_like(y_te, int(majority)), y_te,
                                num_classes)
    mean = train.depth[train.depth_valid].mean()
    gt = test.depth[test.depth_valid]
    out.update(depth_scores(torch.full_like(gt, float(mean)), gt, min_depth))
    return {k: out[k] for k in PROBE_METRICS}


def dense_probe(model: nn.Module,
                train: ProbeSplit,
                test: ProbeSplit,
                num_classes: int = len(SYNTHETIC_CLASSES),
                batch_size: int = 32,
                **probe_kwargs) -> Dict[str, float]:
    """Probe a model's frozen RGB encoder: features, then both probes.

    Args:
        model (nn.Module): A pre-training algorithm (see
            :func:`rgb_patch_features`).
        train (ProbeSplit): Probe-train split.
        test (ProbeSplit): Probe-test split.
        num_classes (int): K.
        batch_size (int): Images per forward pass.
        **probe_kwargs: ``C``, ``alpha``, ``max_iter``, ``min_depth`` of
            :func:`fit_dense_probes`.

    Returns:
        dict: ``acc``, ``miou``, ``rmse``, ``delta1``.
    """
    p = train.patch_size
    f_tr = extract_patch_features(model, train.rgb, p, batch_size)
    f_te = extract_patch_features(model, test.rgb, p, batch_size)
    return fit_dense_probes(f_tr, train, f_te, test, num_classes,
                            **probe_kwargs)
