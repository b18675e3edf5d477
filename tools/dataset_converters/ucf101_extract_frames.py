"""Extract RGB frames of UCF-101 (or any) videos, optionally with pseudo depth.

Writes the layout of :class:`mmrgbd.datasets.RGBDVideoClipDataset`::

    out_dir/<class>/<video>/rgb/000000.jpg ...     (frame index in the video)
    out_dir/<class>/<video>/depth/000000.png ...   uint16 mm (with a labeller)

``<class>`` is the video's parent folder relative to the input folder (UCF-101
keeps one folder per action); a single input file gets no class folder.

**Depth pseudo-labeller.** Any callable ``labeller(rgb) -> depth`` where
``rgb`` is a uint8 (H, W, 3) RGB frame and ``depth`` metric depth in metres,
shaped (H', W') or (1, H', W') or (1, 1, H', W') (numpy or torch); other
sizes are resized to (H, W) bilinearly. An ``nn.Module`` is wrapped by
:class:`TorchDepthLabeller`, which feeds it a float (1, 3, H, W) tensor in
[0, 1] (optionally normalised) under ``torch.no_grad()``. The tool never
downloads weights: give ``--labeller pkg.module:factory`` (an import path of
a callable returning the labeller, or of the labeller itself) and/or
``--labeller-config cfg.py --labeller-checkpoint weights.pth`` (built from
the mmrgbd MODELS registry, weights loaded with ``weights_only=True``).
The written depth has ``depth_unit='mm'`` and should be used with
``depth_source='pseudo'``; if the model gives relative (not metric) depth,
say so in your config.

Example::

    python tools/dataset_converters/ucf101_extract_frames.py data/UCF-101 \\
        data/ucf101_rgbd --frame-interval 2 \\
        --labeller my_pkg.depth:build_labeller
"""
import argparse
import importlib
import os
import os.path as osp
import sys
from typing import Callable, Iterator, Optional, Sequence, Tuple

import cv2
import numpy as np

VIDEO_EXTS = ('.avi', '.mp4', '.mkv', '.mov', '.webm')


class TorchDepthLabeller:
    """Wrap an ``nn.Module`` as a frame -> metres callable.

    Args:
        model (torch.nn.Module): Maps (1, 3, H, W) float to depth (1, 1, h, w)
            or (1, h, w) in metres.
        mean (Sequence[float], optional): Per-channel mean in [0, 1] units.
        std (Sequence[float], optional): Per-channel std in [0, 1] units.
        device (str): Where to run the model.
    """

    def __init__(self,
                 model,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 device: str = 'cpu'):
        self.model = model.to(device).eval()
        self.mean = mean
        self.std = std
        self.device = device

    def __call__(self, rgb: np.ndarray):
        """Predict the depth (metres) of one uint8 (H, W, 3) RGB frame."""
        import torch
        x = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device)
        x = x.permute(2, 0, 1)[None].float() / 255.  # (1, 3, H, W)
        if self.mean is not None:
            x = (x - x.new_tensor(self.mean)[:, None, None]) / x.new_tensor(
                self.std)[:, None, None]
        with torch.no_grad():
            return self.model(x)


def as_depth_map(pred, size: Tuple[int, int]) -> np.ndarray:
    """Convert a labeller output to float32 (H, W) metres at ``size``.

    Args:
        pred: numpy array or torch tensor, (h, w), (1, h, w) or (1, 1, h, w).
        size (tuple[int, int]): (H, W) of the frame.

    Raises:
        ValueError: If the output is not a single depth map.
    """
    if hasattr(pred, 'detach'):
        pred = pred.detach().cpu().numpy()
    pred = np.asarray(pred, dtype=np.float32)
    while pred.ndim > 2 and pred.shape[0] == 1:
        pred = pred[0]  # drop leading singleton axes
    if pred.ndim != 2:
        raise ValueError('the depth labeller must return one (h, w) map, got '
                         f'shape {pred.shape}')
    if pred.shape != tuple(size):
        pred = cv2.resize(pred, (size[1], size[0]),
                          interpolation=cv2.INTER_LINEAR)  # (H, W)
    return pred


def load_labeller(import_path: Optional[str] = None,
                  config: Optional[str] = None,
                  checkpoint: Optional[str] = None,
                  device: str = 'cpu') -> Optional[Callable]:
    """Build the user's depth labeller; never downloads anything.

    Args:
        import_path (str, optional): ``package.module:name``; ``name`` is the
            labeller (callable / nn.Module) or a zero-argument factory
            returning it (a function, or a class that is not an nn.Module).
        config (str, optional): An mmengine config whose ``model`` is built
            from the mmrgbd MODELS registry.
        checkpoint (str, optional): Weights file loaded with
            ``weights_only=True`` into the model.
        device (str): Device of a torch model.

    Returns:
        Callable | None: ``rgb -> depth``, or None when nothing is given.
    """
    import torch
    model = None
    if import_path:
        if ':' not in import_path:
            raise ValueError(f'--labeller must be "module:name", got '
                             f'{import_path!r}')
        mod_name, attr = import_path.split(':', 1)
        obj = getattr(importlib.import_module(mod_name), attr)
        if isinstance(obj, type) or _is_factory(obj):
            obj = obj()  # a class or a zero-argument factory
        model = obj
    elif config:
        from mmengine.config import Config

        from mmrgbd.registry import MODELS, build_in_scope
        model = build_in_scope(MODELS, Config.fromfile(config).model)
    if checkpoint:
        if not isinstance(model, torch.nn.Module):
            raise ValueError('--labeller-checkpoint needs a torch model')
        from mmrgbd.utils.checkpoint import load_weights
        state = load_weights(checkpoint)
        state = state.get('state_dict', state) if isinstance(state,
                                                             dict) else state
        model.load_state_dict(state)
    if model is None:
        return None
    if isinstance(model, torch.nn.Module):
        return TorchDepthLabeller(model, device=device)
    if not callable(model):
        raise TypeError(f'the depth labeller {model!r} is not callable')
    return model


def _is_factory(fn) -> bool:
    """A plain function taking no required argument is a factory."""
    import inspect
    if not inspect.isfunction(fn):
        return False
    params = inspect.signature(fn).parameters.values()
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL,
                                                      p.VAR_KEYWORD)
               for p in params)


def iter_frames(video_path: str,
                frame_interval: int = 1,
                max_frames: Optional[int] = None
                ) -> Iterator[Tuple[int, np.ndarray]]:
    """Decode ``(index, rgb uint8 (H, W, 3))`` every ``frame_interval``.

    Raises:
        IOError: If OpenCV cannot open the video.
    """
    cap = cv2.VideoCapture(video_path)
    if not cap.isOpened():
        raise IOError(f'{video_path}: OpenCV cannot open the video')
    try:
        idx, written = 0, 0
        while max_frames is None or written < max_frames:
            if idx % frame_interval:
                ok = cap.grab()  # skip without decoding to an image
                if not ok:
                    break
            else:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield idx, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                written += 1
            idx += 1
    finally:
        cap.release()


def extract_video(video_path: str,
                  out_dir: str,
                  frame_interval: int = 1,
                  max_frames: Optional[int] = None,
                  labeller: Optional[Callable] = None,
                  jpeg_quality: int = 95) -> int:
    """Write the frames (and pseudo depth) of one video to ``out_dir``.

    Returns:
        int: Number of frames written.
    """
    os.makedirs(osp.join(out_dir, 'rgb'), exist_ok=True)
    if labeller is not None:
        os.makedirs(osp.join(out_dir, 'depth'), exist_ok=True)
    n = 0
    for idx, rgb in iter_frames(video_path, frame_interval, max_frames):
        name = f'{idx:06d}'
        cv2.imwrite(
            osp.join(out_dir, 'rgb', f'{name}.jpg'),
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if labeller is not None:
            depth = as_depth_map(labeller(rgb), rgb.shape[:2])  # (H, W)
            depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0)
            mm = np.clip(np.round(depth * 1000), 0, 65534).astype(np.uint16)
            cv2.imwrite(osp.join(out_dir, 'depth', f'{name}.png'), mm)
        n += 1
    return n


def find_videos(src: str) -> list:
    """``(video_path, relative output folder)`` of every video under src."""
    if osp.isfile(src):
        return [(src, osp.splitext(osp.basename(src))[0])]
    found = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            if osp.splitext(name)[1].lower() in VIDEO_EXTS:
                rel = osp.relpath(osp.join(dirpath, name), src)
                found.append((osp.join(dirpath, name), osp.splitext(rel)[0]))
    return found


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='a video file or a folder of videos')
    parser.add_argument('out_dir')
    parser.add_argument('--frame-interval', type=int, default=1)
    parser.add_argument('--max-frames', type=int, default=None)
    parser.add_argument('--labeller', help='import path module:name')
    parser.add_argument('--labeller-config')
    parser.add_argument('--labeller-checkpoint')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    labeller = load_labeller(args.labeller, args.labeller_config,
                             args.labeller_checkpoint, args.device)
    total = 0
    for video, rel in find_videos(args.src):
        n = extract_video(video, osp.join(args.out_dir, rel),
                          args.frame_interval, args.max_frames, labeller)
        total += n
        print(f'{rel}: {n} frames', file=sys.stderr)
    return total


if __name__ == '__main__':
    main()
