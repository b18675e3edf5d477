"""Per-clip encoder features of a fine-tuned video recogniser (OR-AR stage 2).
"""
import copy
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import numpy as np
import torch


def _mean_over_views(feats: torch.Tensor, batch: int) -> torch.Tensor:
    """(B * V, C) features of V views per sample -> (B, C)."""
    if feats.dim() != 2 or feats.shape[0] % batch:
        raise ValueError(f'expected pooled (B * views, C) backbone features '
                         f'for {batch} samples, got {tuple(feats.shape)}; '
                         'the backbone must pool its tokens '
                         '(use_mean_pooling=True)')
    return feats.view(batch, -1, feats.shape[-1]).mean(dim=1)  # (B, C)


def extract_clip_features(config: str,
                          checkpoint: str,
                          ann_files: Sequence[str],
                          out_dir: str,
                          data_root: Optional[str] = None,
                          batch_size: int = 1,
                          device: str = 'cpu',
                          cfg_options: Optional[dict] = None
                          ) -> Dict[str, str]:
    """Write ``<out_dir>/<video>.npy`` clip features of a video recogniser.

    The recogniser of ``config`` (e.g. mmaction2's ``Recognizer3D`` of the
    OR-AR clip-level fine-tuning) is built, ``checkpoint`` loaded
    weights-only, and every clip of every annotation file (the clip format of
    :mod:`mmrgbd.datasets.clip_sequence`) run through the config's **test**
    dataset and pipeline with only ``ann_file`` (and ``data_prefix.img`` if
    ``data_root`` is given) replaced. A clip's feature is the backbone's
    pooled output averaged over the clip's test views. Each video's rows are
    stored in order of increasing clip offset (float32, (num_clips, C)).

    Args:
        config (str): Clip-level fine-tuning config.
        checkpoint (str): Its trained checkpoint.
        ann_files (Sequence[str]): Clip annotation files (e.g. train, val,
            test).
        out_dir (str): Output folder (created).
        data_root (str, optional): Frame root replacing the config's.
        batch_size (int): Clips per forward pass. Defaults to 1.
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Merged into the config first.

    Returns:
        dict: ``video -> written .npy path``.

    Raises:
        ValueError: A video in several annotation files, or the dataset's
            samples do not carry the clip offset.
    """
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    import mmrgbd  # noqa: F401  (weights-only checkpoint loader)
    from mmrgbd.datasets.label_ratio import video_name

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.to(device).eval()

    rows: Dict[str, Dict[int, np.ndarray]] = OrderedDict()
    seen_in: Dict[str, str] = {}
    for ann in ann_files:
        ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
        ds_cfg['ann_file'] = ann
        if data_root is not None:
            ds_cfg['data_prefix'] = dict(
                ds_cfg.get('data_prefix', {}), img=data_root)
        dataset = DATASETS.build(ds_cfg)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        for start in range(0, len(dataset), batch_size):
            idx = list(range(start, min(start + batch_size, len(dataset))))
            batch = pseudo_collate([dataset[i] for i in idx])
            with torch.no_grad():
                data = model.data_preprocessor(batch, False)
                feats, _ = model.extract_feat(
                    data['inputs'], test_mode=True)  # (B * views, C)
                feats = _mean_over_views(feats, len(idx))  # (B, C)
            for i, feat in zip(idx, feats.cpu().numpy()):
                info = infos[i]
                if 'offset' not in info:
                    raise ValueError(f'{ann}: samples carry no clip offset; '
                                     'the test dataset needs '
                                     'with_offset=True')
                video = video_name(info, dataset)
                if seen_in.setdefault(video, ann) != ann:
                    raise ValueError(f'video {video!r} is in both '
                                     f'{seen_in[video]} and {ann}')
                rows.setdefault(video, {})[int(info['offset'])] = feat
    written = OrderedDict()
    for video, by_offset in rows.items():
        path = osp.join(out_dir, video + '.npy')
        os.makedirs(osp.dirname(path), exist_ok=True)
        array = np.stack([by_offset[o] for o in sorted(by_offset)]).astype(
            np.float32)  # (num_clips, C)
        tmp = path + '.tmp.npy'
        np.save(tmp, array)
        os.replace(tmp, path)
        written[video] = path
    return written
