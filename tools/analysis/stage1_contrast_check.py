"""Does a stage-1 checkpoint (M3 3D / Progressive) match RGB to depth by
content or by position?

Loads a stage-1 config and checkpoint, renders held-out SyntheticRGBDScenes
(a seed the demos do not train on) at the config's input size, and prints
the patch-InfoNCE loss of the trained model on

* the real RGB-D pairs,
* constant RGB + constant depth (only position is left to match on),
* RGB paired with another image's depth,

next to chance, ln(#candidates). A model that learned RGB-depth
correspondence has real < chance < other-depth and blank = chance; a model
that learned position has blank ~ real << chance.

Example::

    python tools/analysis/stage1_contrast_check.py \\
        configs/pretrain/m3mae_stage1_vit-tiny_synthetic-demo.py \\
        work_dirs/m3mae_stage1_vit-tiny_synthetic-demo/iter_1500.pth
"""
import argparse
import math

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint

from mmrgbd.registry import DATASETS, MODELS
from mmrgbd.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='stage-1 config')
    parser.add_argument('checkpoint', help='its checkpoint (your own run)')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--seed', type=int, default=777)
    return parser.parse_args(argv)


def stage1_losses(model, inputs) -> dict:
    """``real``, ``blank``, ``other_depth`` loss_patch_nce of a batch."""
    blank = dict(rgb=torch.full_like(inputs['rgb'], 0.3),
                 depth=torch.full_like(inputs['depth'], 0.5))
    other = dict(rgb=inputs['rgb'], depth=inputs['depth'].roll(1, dims=0))
    with torch.no_grad():
        return {
            name: model.loss(x)['loss_patch_nce'].item()
            for name, x in (('real', inputs), ('blank', blank),
                            ('other_depth', other))
        }


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    h, w = cfg.model.backbone.img_size
    norm = [t for t in cfg.train_dataloader.dataset.pipeline
            if t['type'] == 'NormalizeDepth']
    ds = DATASETS.build(
        dict(type='SyntheticRGBDScenes', num_samples=args.num_images,
             img_size=(h, w), seed=args.seed, test_mode=True,
             pipeline=norm + [dict(type='PackRGBDInputs')]))
    data = model.data_preprocessor(
        pseudo_collate([ds[i] for i in range(len(ds))]), False)
    grid = model.grid_sizes(data['inputs'])['rgb']
    num = math.prod(grid)
    negatives = model.head.loss_module.negatives
    cands = {'image': num, 'position': len(ds),
             'batch': num * len(ds)}[negatives]
    out = stage1_losses(model, data['inputs'])
    print(f'{len(ds)} held-out images, {num} patches, negatives='
          f'{negatives!r}, with_pos_embed={model.with_pos_embed}')
    print(f'chance ln({cands}) = {math.log(cands):.3f}')
    for name, value in out.items():
        print(f'{name:12s} {value:.3f}')
    return out


if __name__ == '__main__':
    main()
