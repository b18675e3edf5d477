"""Which input modalities does a trained MultiMAE predict each task from?

Loads a MultiMAE config and checkpoint, renders held-out SyntheticRGBDScenes
(a seed the demo does not train on) with the config's semantic source
(``semseg_source``), centre-crops and resizes them to the encoder's input
as ``tools/analysis/probe_encoder.py`` does, and prints every decoder's loss
on the hidden tokens for hand-set visible tokens: RGB only, RGB + depth +
semseg, depth + semseg, semseg only. The same random positions (fixed
generator) are used for every checkpoint, so a trained model and an
untrained one (no checkpoint) are comparable. The class-prior entropy of the
rendered semantic maps is printed as the reference of a semseg loss that
uses no input at all, and the depth L1 of the best constant per image (its
median of the standardised depth) as the reference of a depth loss that
uses no input.

A model whose RGB encoder learned semantics has a semseg loss from RGB
alone well below the class prior; one that propagates visible labels has
RGB-only ~ prior and semseg-visible << prior.

Example::

    python tools/analysis/multimae_input_ablation.py \\
        configs/pretrain/multimae_vit-tiny_synthetic-demo.py \\
        work_dirs/multimae_vit-tiny_synthetic-demo/iter_600.pth
"""
import argparse
import math
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint

from mmrgbd.registry import DATASETS, MODELS
from mmrgbd.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='MultiMAE config (rgb/depth/semseg)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='its checkpoint; omitted: the untrained model')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--seed', type=int, default=777)
    parser.add_argument('--render-size', type=int, nargs=2,
                        default=(120, 160), metavar=('H', 'W'))
    return parser.parse_args(argv)


def visible_sets(batch: int, num: int, seed: int = 0
                 ) -> Dict[str, Dict[str, torch.Tensor]]:
    """``{case: {modality: (B, N) bool}}`` of the ablation cases."""
    gen = torch.Generator().manual_seed(seed)

    def pick(k):
        vis = torch.zeros(batch, num, dtype=torch.bool)  # (B, N)
        for b in range(batch):
            vis[b, torch.randperm(num, generator=gen)[:k]] = True
        return vis

    none = torch.zeros(batch, num, dtype=torch.bool)  # (B, N)
    third, half = num // 6, num // 4
    return {
        f'{num // 2} rgb': dict(rgb=pick(num // 2), depth=none, semseg=none),
        f'all {num} rgb': dict(rgb=~none, depth=none, semseg=none),
        f'{third} rgb + {third} depth + {third} semseg':
        dict(rgb=pick(third), depth=pick(third), semseg=pick(third)),
        f'{half} depth + {half} semseg':
        dict(rgb=none, depth=pick(half), semseg=pick(half)),
        f'{num // 2} semseg': dict(rgb=none, depth=none,
                                   semseg=pick(num // 2)),
    }


def class_prior_entropy(semseg: torch.Tensor, num_classes: int,
                        ignore_index: int = 255) -> float:
    """Entropy (nats) of the class frequencies of label maps."""
    labels = semseg[semseg != ignore_index].long()
    p = torch.bincount(labels, minlength=num_classes).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def constant_depth_l1(depth: torch.Tensor,
                      valid: torch.Tensor) -> float:
    """L1 of predicting each image's median depth at its valid pixels.

    The best constant prediction per image under L1: a depth decoder whose
    loss is not below it has learnt nothing about depth from its input.

    Args:
        depth (Tensor): (B, 1, H, W) depth as the loss sees it.
        valid (Tensor): (B, 1, H, W) bool validity.

    Returns:
        float: Mean absolute deviation from the per-image median over all
        valid pixels.
    """
    errs = []
    for d, v in zip(depth, valid):
        vals = d[v]  # (n_valid,)
        if vals.numel():
            errs.append((vals - vals.median()).abs())
    return float(torch.cat(errs).mean())


def task_losses(model, inputs: dict,
                visible: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Every decoder's loss on its hidden tokens for the given visible
    tokens (no masker involved)."""
    with torch.no_grad():
        feats = model.extract_feat(inputs, visible)
        return {
            name: float(model._task_loss(inputs, feats, name, dec(feats)))
            for name, dec in model.decoders.items()
        }


def main(argv=None) -> Dict[str, Dict[str, float]]:
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu',
                        strict=True)
    model.eval()
    size = cfg.model.backbone.img_size
    h, w = (size, size) if isinstance(size, int) else size
    rh, rw = args.render_size
    crop = min(rh, rw * h // w), min(rw, rh * w // h)
    norm = [t for t in cfg.train_dataloader.dataset.pipeline
            if t['type'] == 'NormalizeDepth']
    source = cfg.train_dataloader.dataset.get('semseg_source', 'gt')
    ds = DATASETS.build(
        dict(type='SyntheticRGBDScenes', num_samples=args.num_images,
             img_size=(rh, rw), seed=args.seed, test_mode=True,
             semseg_source=source,
             pipeline=[dict(type='RGBDCenterCrop', crop_size=crop),
                       dict(type='RGBDResize', scale=(w, h))] + norm +
             [dict(type='PackRGBDInputs')]))
    data = model.data_preprocessor(
        pseudo_collate([ds[i] for i in range(len(ds))]), False)
    inputs = data['inputs']
    num = math.prod(model.grid_sizes(inputs)['rgb'])
    prior = class_prior_entropy(inputs['semseg'], len(ds.metainfo['classes']))
    print(f'{len(ds)} held-out rooms (seed {args.seed}, semseg_source='
          f'{source!r}), {num} patches per modality; checkpoint: '
          f'{args.checkpoint or "none (untrained)"}')
    print(f'class-prior entropy of the semantic maps: {prior:.3f}')
    const = constant_depth_l1(inputs['depth'], inputs['depth_valid'])
    print(f'depth L1 of the best constant per image (median): {const:.3f}')
    out: Dict[str, Dict[str, float]] = {}
    for case, vis in visible_sets(len(ds), num).items():
        out[case] = task_losses(model, inputs, vis)
        print(f'{case:34s} ' + '  '.join(
            f'{k} {v:.3f}' for k, v in out[case].items()))
    return out


if __name__ == '__main__':
    main()
