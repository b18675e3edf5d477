# Reconstruct one RGB-D frame with a trained masked model and save the panel:
#   python tools/misc/visualize_reconstruction.py CONFIG CKPT --rgb X --depth Y --depth-unit mm
# The panel goes to work_dirs/visualize_reconstruction/ unless --out is given.
# CKPT is loaded without running code from it (mmrgbd.utils.checkpoint).
import argparse
import os
import os.path as osp

import cv2
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmrgbd.registry import MODELS
from mmrgbd.utils import unsafe_checkpoint_loading
from mmrgbd.visualization.reconstruction import reconstruction_panel


def parse_args():
    parser = argparse.ArgumentParser(description='Visualise a reconstruction')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint written by training')
    parser.add_argument('--rgb', required=True, help='RGB image file')
    parser.add_argument('--depth', required=True, help='depth image file')
    parser.add_argument(
        '--depth-unit',
        required=True,
        help='depth encoding of --depth (mm, tum, sunrgbd, kinect_disparity, '
        '0.1mm, m)')
    parser.add_argument(
        '--out',
        default=None,
        help='output PNG (default: work_dirs/visualize_reconstruction/'
        '<config>_<rgb file>.png)')
    parser.add_argument('--seed', type=int, default=0, help='mask seed')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='unpickle a legacy CKPT fully: RUNS ANY CODE STORED IN THE '
        'FILE; only for files you trust completely')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='overrides')
    args = parser.parse_args()
    if args.out is None:
        name = (f'{osp.splitext(osp.basename(args.config))[0]}_'
                f'{osp.splitext(osp.basename(args.rgb))[0]}.png')
        args.out = osp.join('work_dirs', 'visualize_reconstruction', name)
    return args


def build_pipeline(cfg, depth_unit):
    """Loading from files + the config's ``test_pipeline`` (minus loading)."""
    if 'test_pipeline' not in cfg:
        raise SystemExit('the config defines no test_pipeline (the '
                         'deterministic resize/crop, depth normalisation and '
                         'packing applied to one frame)')
    steps = [dict(type='LoadRGBDFromFiles', depth_unit=depth_unit)]
    steps += [t for t in cfg.test_pipeline if not t['type'].startswith('Load')]
    return Compose([dict(t, _scope_='mmrgbd') for t in steps])


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmrgbd'))
    model = MODELS.build(cfg.model)
    try:
        with unsafe_checkpoint_loading(args.unsafe_load):
            load_checkpoint(model, args.checkpoint, map_location='cpu')
    except (RuntimeError, FileNotFoundError) as e:  # names the file
        raise SystemExit(f'ERROR: cannot load {args.checkpoint}: {e}')
    model.eval()
    pipeline = build_pipeline(cfg, args.depth_unit)
    data = pipeline(dict(rgb_path=args.rgb, depth_path=args.depth))
    batch = model.data_preprocessor(pseudo_collate([data]), False)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        sample = model.predict(batch['inputs'], batch['data_samples'])[0]
    pre = model.data_preprocessor
    panel = reconstruction_panel(batch['inputs'], sample, 0,
                                 getattr(pre, 'mean', None),
                                 getattr(pre, 'std', None))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
    print(args.out)


if __name__ == '__main__':
    main()
