"""Pseudo-labellers: user-supplied models that label RGB frames.

MultiMAE-style pre-training on RGB-only data (ImageNet, UCF-101, ...) uses
*pseudo labels* for the missing modalities: metric depth from a depth
estimator and semantic classes from a segmentor. This module is the one
interface through which mmrgbd's tools (``tools/misc/pseudo_label.py``,
``tools/dataset_converters/ucf101_extract_frames.py``) run such a model.
**Nothing is ever downloaded**: the model is given by the user.

Protocol
--------
A labeller has a *kind*:

* ``'depth'``: ``rgb -> depth``; the result is float32 (H, W) **metres**,
  0 where invalid (non-finite or <= 0 outputs become 0).
* ``'semseg'``: ``rgb -> class ids``; the result is int64 (H, W) ids in
  ``0 .. num_classes - 1``, with 255 (``IGNORE_INDEX``) for "no label".

``rgb`` is always one uint8 (H, W, 3) frame in **RGB** order.
:func:`load_labeller` builds the labeller from one of:

1. **An import path** ``package.module:name``. ``name`` is the labeller
   itself (any callable, or an ``nn.Module``) or a zero-argument factory
   returning it (a plain function, or a class that is called without
   arguments). Weights can be added with ``checkpoint`` for a module.
2. **An mmengine config + checkpoint.** The config's ``model`` is built
   through :func:`mmrgbd.registry.build_in_scope` in the config's scope
   (``model._scope_``, else ``default_scope``, else the ``scope.`` prefix of
   ``model.type``, else ``mmrgbd``), so ``type='mmseg.EncoderDecoder'`` or an
   mmseg config with ``default_scope='mmseg'`` both work. Weights are read
   with :func:`mmrgbd.utils.load_weights` (``torch.load(weights_only=True)``;
   a ``state_dict`` entry is unwrapped) and loaded strictly.
   ``model.init_weights()`` is never called, so ``init_cfg`` / ``pretrained``
   entries of the config never fetch anything.

The model is then run in one of two ways:

* **An mm* model** (an :class:`mmengine.model.BaseModel`, e.g. an mmseg
  ``EncoderDecoder`` or ``DepthEstimator``) is run as its own test loop
  would: the frame is packed by the config's ``test_pipeline`` (if the
  config has one) or into a minimal dict, and passed to ``model.test_step``,
  i.e. through the model's own data preprocessor and ``predict``. The packed
  sample is what mmcv's loaders would produce: the pipeline's ``Load*``
  steps (image and annotation loading) are removed and it starts from
  ``dict(img=bgr, img_shape=(H, W), ori_shape=(H, W))`` with the image in
  **BGR** order like ``LoadImageFromFile`` (mmseg configs turn it to RGB
  with ``bgr_to_rgb=True`` in their data preprocessor). The minimal dict is
  ``dict(inputs=[bgr uint8 (3, H, W)], data_samples=[SegDataSample])`` with
  ``img_shape`` / ``ori_shape`` metainfo. The prediction is read from the
  output data sample: ``pred_depth_map`` (depth) or ``pred_sem_seg``
  (semseg), which mmseg already resizes to ``ori_shape``.
* **A plain ``nn.Module``** is called on a float (1, 3, H, W) tensor of the
  RGB frame in [0, 1] (optionally normalised with ``mean`` / ``std`` in
  [0, 1] units) under ``torch.no_grad()``; see :class:`TorchLabeller`.
* Any other callable is called on the uint8 frame as it is.

Raw outputs (numpy arrays or tensors) are converted by :func:`as_depth_map`
and :func:`as_semseg_map`:

* depth: (h, w), (1, h, w) or (1, 1, h, w) metres, resized bilinearly to
  (H, W) if needed;
* semseg: integer ids (h, w), (1, h, w) or (1, 1, h, w), or floating logits
  (K, h, w) or (1, K, h, w) with K >= 2 (argmax over K); ids are resized
  with nearest-neighbour sampling to (H, W).

Anything else raises a ``ValueError`` that shows the shape.

Storing pseudo depth
--------------------
Depth networks used for pseudo labels (e.g. MultiMAE's Omnidata DPT) often
predict *relative* depth, a few units or less (e.g. [0, 1]). Stored as
uint16 millimetres such a map would keep ~1000 levels and values below
0.5e-3 would become 0 (invalid). :func:`encode_pseudo_depth` offers
(:data:`DEPTH_FORMATS`):

* ``'uint16'`` (default of ``tools/misc/pseudo_label.py``): a 16-bit PNG
  that uses the **full range**: ``v = round(d * 65534 / max(d))``, valid
  depths at least 1; 65534 levels per image whatever the unit (like the
  official MultiMAE files, which store 16-bit values). Read it with
  ``depth_unit='mm'``: the loaded values are ``d`` times a per-image
  factor (not metres). MultiMAE / Progressive robust-standardise depth per
  image (``NormalizeDepth(mode='robust')``), which removes that factor.
* ``'mm'``: uint16 millimetres (``depth_unit='mm'``, metric values): for a
  metric depth network, 1 mm steps up to 65.534 m.
* ``'float'``: float32 ``.npy`` (``depth_unit='m'``), lossless.
"""
import copy
import importlib
import inspect
from typing import Any, Callable, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

__all__ = [
    'IGNORE_INDEX', 'LABELLER_KINDS', 'PseudoLabeller', 'TorchLabeller',
    'MMModelLabeller', 'as_depth_map', 'as_semseg_map', 'metres_to_mm',
    'depth_to_uint16_full_range', 'encode_pseudo_depth', 'DEPTH_FORMATS',
    'load_labeller'
]

#: Value of "no label" in semseg pseudo labels (mmseg's ignore index).
IGNORE_INDEX = 255
#: The kinds of labellers.
LABELLER_KINDS = ('depth', 'semseg')
#: Largest depth a uint16 mm PNG stores (65535 means invalid in ``'mm'``).
MAX_MM = 65534
#: Storage formats of pseudo depth: format -> (file suffix, ``depth_unit``
#: to read it with).
DEPTH_FORMATS = {
    'uint16': ('.png', 'mm'),
    'mm': ('.png', 'mm'),
    'float': ('.npy', 'm'),
}


def _check_kind(kind: str) -> None:
    if kind not in LABELLER_KINDS:
        raise ValueError(
            f'labeller kind must be one of {LABELLER_KINDS}, got {kind!r}')


def _to_numpy(pred) -> np.ndarray:
    if isinstance(pred, torch.Tensor):
        pred = pred.detach().cpu().numpy()
    return np.asarray(pred)


def _squeeze_leading(arr: np.ndarray, ndim: int) -> np.ndarray:
    """Drop leading singleton axes until ``arr`` has ``ndim`` axes."""
    while arr.ndim > ndim and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def as_depth_map(pred, size: Tuple[int, int]) -> np.ndarray:
    """Convert a depth labeller output to float32 (H, W) metres at ``size``.

    Args:
        pred (np.ndarray | torch.Tensor): (h, w), (1, h, w) or (1, 1, h, w).
        size (tuple[int, int]): (H, W) of the frame.

    Returns:
        np.ndarray: float32 (H, W) metres; non-finite and <= 0 values are 0.

    Raises:
        ValueError: If the output is not a single depth map.
    """
    arr = _to_numpy(pred)
    shape = arr.shape
    arr = _squeeze_leading(arr, 2)
    if arr.ndim != 2 or 0 in arr.shape or not (
            np.issubdtype(arr.dtype, np.number)):
        raise ValueError('the depth labeller must return one (h, w) map, got '
                         f'shape {tuple(shape)} ({arr.dtype})')
    arr = arr.astype(np.float32)
    if arr.shape != tuple(size):
        arr = cv2.resize(arr, (size[1], size[0]),
                         interpolation=cv2.INTER_LINEAR)  # (H, W)
    return np.where(np.isfinite(arr) & (arr > 0), arr, 0).astype(np.float32)


def _resize_nearest(ids: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize (pixel-centre sampling) of an (h, w) map."""
    h, w = ids.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(int),
                      h - 1)  # (H,)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(int),
                      w - 1)  # (W,)
    return ids[rows[:, None], cols[None, :]]  # (H, W)


def as_semseg_map(pred,
                  size: Tuple[int, int],
                  num_classes: Optional[int] = None) -> np.ndarray:
    """Convert a semseg labeller output to int64 (H, W) class ids.

    Args:
        pred (np.ndarray | torch.Tensor): Integer ids (h, w), (1, h, w) or
            (1, 1, h, w), or floating logits (K, h, w) / (1, K, h, w) with
            K >= 2.
        size (tuple[int, int]): (H, W) of the frame.
        num_classes (int, optional): If given, logits must have K ==
            num_classes and ids must lie in ``0 .. num_classes - 1`` (or be
            :data:`IGNORE_INDEX`).

    Returns:
        np.ndarray: int64 (H, W) ids; :data:`IGNORE_INDEX` = no label.

    Raises:
        ValueError: On another shape, a wrong number of classes or ids that
            do not fit a uint8 label map with 255 = ignore.
    """
    arr = _to_numpy(pred)
    shape = arr.shape
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        arr = _squeeze_leading(arr, 2)
        if arr.ndim != 2 or 0 in arr.shape:
            raise ValueError(
                'the semseg labeller must return integer ids (h, w) or '
                f'logits (K, h, w), got integer shape {tuple(shape)}')
        ids = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.floating):
        arr = _squeeze_leading(arr, 3)
        if arr.ndim != 3 or arr.shape[0] < 2 or 0 in arr.shape:
            raise ValueError(
                'the semseg labeller must return logits (K, h, w) with K >= '
                f'2 or integer ids (h, w), got float shape {tuple(shape)}')
        if num_classes is not None and arr.shape[0] != num_classes:
            raise ValueError(
                f'the semseg labeller returned {arr.shape[0]} class scores, '
                f'expected num_classes={num_classes}')
        ids = arr.argmax(axis=0).astype(np.int64)  # (h, w)
    else:
        raise ValueError(f'the semseg labeller returned {arr.dtype} data')
    limit = IGNORE_INDEX if num_classes is None else num_classes
    bad = ((ids < 0) | (ids >= limit)) & (ids != IGNORE_INDEX)
    if bad.any():
        raise ValueError(
            f'the semseg labeller returned class ids '
            f'{np.unique(ids[bad])[:5].tolist()}'
            f' outside 0..{limit - 1} (255 = ignore)')
    if ids.shape != tuple(size):
        ids = _resize_nearest(ids, size)  # (H, W)
    return ids


def metres_to_mm(depth: np.ndarray) -> np.ndarray:
    """Float metres -> uint16 millimetres for an ``'mm'`` depth PNG.

    Values are rounded; non-finite and <= 0 values become 0 (invalid) and
    depths beyond 65.534 m are clipped to 65534 (65535 means invalid).
    """
    depth = np.asarray(depth, dtype=np.float64)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0)
    return np.clip(np.round(depth * 1000), 0, MAX_MM).astype(np.uint16)


def depth_to_uint16_full_range(depth: np.ndarray
                               ) -> Tuple[np.ndarray, float]:
    """Depth (any unit) -> uint16 using the full range, and its scale.

    ``v = round(d * scale)`` with ``scale = 65534 / max(valid d)``; valid
    depths (finite, > 0) map to ``1 .. 65534`` (never to 0, which means
    invalid), invalid ones to 0. The relative step is ``1 / 65534`` of the
    image's largest depth for any unit.

    Args:
        depth (np.ndarray): (H, W) depth, invalid pixels non-finite or <= 0.

    Returns:
        tuple[np.ndarray, float]: uint16 (H, W) and ``scale`` (stored value
        per depth unit; 0 for an all-invalid map).
    """
    depth = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    if not valid.any():
        return np.zeros(depth.shape, np.uint16), 0.
    scale = MAX_MM / float(depth[valid].max())
    v = np.clip(np.round(np.where(valid, depth, 0) * scale), 1, MAX_MM)
    return np.where(valid, v, 0).astype(np.uint16), scale


def encode_pseudo_depth(depth: np.ndarray, fmt: str = 'uint16'):
    """Encode a pseudo depth map for storage (see the module doc).

    Args:
        depth (np.ndarray): float (H, W), 0 where invalid.
        fmt (str): One of :data:`DEPTH_FORMATS`.

    Returns:
        tuple[np.ndarray, str, str]: the array to write, the file suffix and
        the ``depth_unit`` to read it with.
    """
    if fmt not in DEPTH_FORMATS:
        raise ValueError(f'depth format must be one of '
                         f'{sorted(DEPTH_FORMATS)}, got {fmt!r}')
    suffix, unit = DEPTH_FORMATS[fmt]
    if fmt == 'uint16':
        arr = depth_to_uint16_full_range(depth)[0]
    elif fmt == 'mm':
        arr = metres_to_mm(depth)
    else:
        arr = np.where(np.isfinite(depth) & (depth > 0), depth,
                       0).astype(np.float32)
    return arr, suffix, unit


class TorchLabeller:
    """Run a plain ``nn.Module`` on one frame.

    Args:
        model (torch.nn.Module): Maps float (1, 3, H, W) to the raw output
            (depth or semseg, see :func:`as_depth_map` /
            :func:`as_semseg_map`).
        mean (Sequence[float], optional): Per-channel mean in [0, 1] units.
        std (Sequence[float], optional): Per-channel std in [0, 1] units.
        device (str): Where to run the model.
    """

    def __init__(self,
                 model: torch.nn.Module,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 device: str = 'cpu'):
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        self.model = model.to(device).eval()
        self.mean = mean
        self.std = std
        self.device = device

    def __call__(self, rgb: np.ndarray):
        """Raw model output for one uint8 (H, W, 3) RGB frame."""
        x = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device)
        x = x.permute(2, 0, 1)[None].float() / 255.  # (1, 3, H, W)
        if self.mean is not None:
            x = (x - x.new_tensor(self.mean)[:, None, None]) / x.new_tensor(
                self.std)[:, None, None]
        with torch.no_grad():
            return self.model(x)


class MMModelLabeller:
    """Run an mm* model (``BaseModel``) through ``test_step`` on one frame.

    Args:
        model (mmengine.model.BaseModel): E.g. an mmseg ``EncoderDecoder``
            (semseg) or ``DepthEstimator`` (depth).
        kind (str): ``'depth'`` reads ``pred_depth_map``, ``'semseg'`` reads
            ``pred_sem_seg`` from the output data sample.
        test_pipeline (Sequence[dict], optional): The config's test pipeline;
            its ``Load*`` steps are dropped (see the module docstring).
        scope (str, optional): Registry scope the pipeline is built in.
        device (str): Where to run the model.
    """

    def __init__(self,
                 model,
                 kind: str,
                 test_pipeline: Optional[Sequence[dict]] = None,
                 scope: Optional[str] = None,
                 device: str = 'cpu'):
        _check_kind(kind)
        self.model = model.to(device).eval()
        self.kind = kind
        self.pred_key = 'pred_depth_map' if kind == 'depth' else \
            'pred_sem_seg'
        self.pipeline = None
        if test_pipeline:
            from mmengine.dataset import Compose
            from mmengine.registry import DefaultScope
            steps = [
                dict(t) for t in test_pipeline
                if not str(t.get('type', '')).split('.')[-1].startswith('Load')
            ]
            with DefaultScope.overwrite_default_scope(scope):
                self.pipeline = Compose(steps)

    def pack(self, rgb: np.ndarray) -> dict:
        """The ``test_step`` batch (of one sample) for an RGB frame."""
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # (H, W, 3) BGR
        shape = tuple(rgb.shape[:2])
        if self.pipeline is not None:
            packed = self.pipeline(
                dict(img=bgr, img_shape=shape, ori_shape=shape,
                     img_path=None))
            return dict(
                inputs=[packed['inputs']],
                data_samples=[packed['data_samples']])
        from mmseg.structures import SegDataSample
        sample = SegDataSample(
            metainfo=dict(img_shape=shape, ori_shape=shape))
        inputs = torch.from_numpy(bgr).permute(2, 0, 1).contiguous()
        return dict(inputs=[inputs], data_samples=[sample])  # (3, H, W)

    def __call__(self, rgb: np.ndarray):
        """The predicted map (a tensor) for one uint8 (H, W, 3) RGB frame."""
        with torch.no_grad():
            out = self.model.test_step(self.pack(rgb))[0]
        if self.pred_key not in out:
            raise ValueError(
                f'{type(self.model).__name__}.test_step gave no '
                f'{self.pred_key} for a {self.kind} labeller (the data '
                f'sample holds {sorted(out.keys())})')
        pred = getattr(out, self.pred_key).data  # (1, H, W)
        # pred_sem_seg holds ids; mmseg's binary (1-logit) models store them
        # as float 0 / 1
        return pred.long() if self.kind == 'semseg' else pred


class PseudoLabeller:
    """A labeller of one kind: ``rgb uint8 (H, W, 3) -> (H, W) map``.

    Wraps the raw labeller (a :class:`TorchLabeller`,
    :class:`MMModelLabeller` or any callable) and converts its output with
    :func:`as_depth_map` (float32 metres) or :func:`as_semseg_map` (int64
    ids, 255 = ignore) at the frame size.

    Args:
        fn (Callable): ``rgb -> raw output``.
        kind (str): ``'depth'`` or ``'semseg'``.
        num_classes (int, optional): Checked for semseg outputs.
    """

    def __init__(self, fn: Callable, kind: str,
                 num_classes: Optional[int] = None):
        _check_kind(kind)
        if num_classes is not None and not 1 <= num_classes <= IGNORE_INDEX:
            raise ValueError('num_classes must be in 1..255 for uint8 label '
                             f'maps with 255 = ignore, got {num_classes}')
        self.fn = fn
        self.kind = kind
        self.num_classes = num_classes

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Label one uint8 (H, W, 3) RGB frame."""
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError('a labeller takes one uint8 (H, W, 3) RGB frame,'
                             f' got {rgb.dtype} {rgb.shape}')
        raw = self.fn(rgb)
        if self.kind == 'depth':
            return as_depth_map(raw, rgb.shape[:2])
        return as_semseg_map(raw, rgb.shape[:2], self.num_classes)


def _is_factory(fn) -> bool:
    """A plain function taking no required argument is a factory."""
    if not inspect.isfunction(fn):
        return False
    params = inspect.signature(fn).parameters.values()
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL,
                                                      p.VAR_KEYWORD)
               for p in params)


def _import_object(import_path: str) -> Any:
    if ':' not in import_path:
        raise ValueError(f'a labeller import path must be "module:name", got '
                         f'{import_path!r}')
    mod_name, attr = import_path.split(':', 1)
    obj = importlib.import_module(mod_name)
    for part in attr.split('.'):
        obj = getattr(obj, part)
    if isinstance(obj, type) or _is_factory(obj):
        obj = obj()  # a class or a zero-argument factory
    return obj


def _model_scope(cfg) -> str:
    """The registry scope the config's model is built in."""
    model_cfg = cfg.model
    if model_cfg.get('_scope_'):
        return model_cfg['_scope_']
    if cfg.get('default_scope'):
        return cfg.default_scope
    type_name = model_cfg.get('type')
    if isinstance(type_name, str) and '.' in type_name:
        return type_name.split('.', 1)[0]
    return 'mmrgbd'


def _load_checkpoint(model, checkpoint: str) -> None:
    from mmrgbd.utils import load_weights
    state = load_weights(checkpoint)
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f'{checkpoint}: the weights do not fit the '
                           f'labeller model: {e}') from None


def load_labeller(kind: str,
                  import_path: Optional[str] = None,
                  config: Optional[str] = None,
                  checkpoint: Optional[str] = None,
                  device: str = 'cpu',
                  num_classes: Optional[int] = None
                  ) -> Optional[PseudoLabeller]:
    """Build the user's pseudo-labeller; never downloads anything.

    Args:
        kind (str): ``'depth'`` or ``'semseg'``.
        import_path (str, optional): ``package.module:name`` of the labeller
            or of a zero-argument factory / class returning it.
        config (str | mmengine.Config, optional): An mmengine config with a
            ``model`` (and optionally ``test_pipeline``); exclusive with
            ``import_path``.
        checkpoint (str, optional): Weights-only file loaded strictly into
            the model (needs an ``nn.Module``).
        device (str): Device of a torch model.
        num_classes (int, optional): See :class:`PseudoLabeller`.

    Returns:
        PseudoLabeller | None: ``rgb -> (H, W) map``, or None when neither
        an import path nor a config is given.

    Raises:
        ValueError: Both or a malformed import path, or a checkpoint without
            a torch model.
        TypeError: The imported object is not callable.
    """
    _check_kind(kind)
    if import_path and config:
        raise ValueError(f'give the {kind} labeller as an import path or as '
                         'a config, not both')
    test_pipeline, scope = None, None
    if import_path:
        model = _import_object(import_path)
    elif config is not None:
        from mmengine.config import Config

        from mmrgbd.registry import MODELS, build_in_scope
        cfg = config if isinstance(config, Config) else Config.fromfile(
            config)
        scope = _model_scope(cfg)
        model_cfg = copy.deepcopy(cfg.model)  # nested ConfigDicts kept
        model_cfg['_scope_'] = scope
        if 'pretrained' in model_cfg:
            model_cfg['pretrained'] = None  # weights come from `checkpoint`
        model = build_in_scope(MODELS, model_cfg)
        test_pipeline = cfg.get('test_pipeline')
    else:
        if checkpoint:
            raise ValueError(f'a {kind} checkpoint needs a model (an import '
                             'path or a config)')
        return None
    if checkpoint:
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f'{checkpoint}: weights need a torch model, the '
                             f'{kind} labeller is {type(model).__name__}')
        _load_checkpoint(model, checkpoint)
    from mmengine.model import BaseModel
    if isinstance(model, BaseModel):
        fn = MMModelLabeller(model, kind, test_pipeline, scope, device)
    elif isinstance(model, torch.nn.Module):
        fn = TorchLabeller(model, device=device)
    elif callable(model):
        fn = model
    else:
        raise TypeError(f'the {kind} labeller {model!r} is not callable')
    return PseudoLabeller(fn, kind, num_classes)
