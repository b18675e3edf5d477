# Write images of dataset samples after the pipeline: RGB, colour-mapped depth
# (invalid pixels magenta), semantics, and LiDAR points projected onto the image.
import argparse
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmrgbd.registry import DATASETS
from mmrgbd.visualization import (colorize_depth, colorize_semseg,
                                  draw_points_on_image, make_panel)


def parse_args():
    parser = argparse.ArgumentParser(description='Browse a dataset')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--output-dir', default='work_dirs/browse', help='output folder')
    parser.add_argument(
        '--phase',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader to browse')
    parser.add_argument('--num', type=int, default=5, help='samples to draw')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config')
    return parser.parse_args()


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def unpack(item):
    """Turn a pipeline output (packed or not) into numpy arrays + metainfo."""
    if 'inputs' in item:
        inputs, sample = item['inputs'], item['data_samples']
        meta = dict(sample.metainfo)
        out = {}
        for key, value in inputs.items():
            value = _np(value)
            if key == 'rgb':
                value = np.moveaxis(value, 0, -1)  # (H, W, 3) | (T, H, W, 3)
            elif key in ('depth', 'depth_valid', 'semseg'):
                value = value[0]  # (H, W) | (T, H, W)
            out[key] = value
        out.update({k: v for k, v in meta.items() if k not in out})
        return out
    return item


def draw_sample(sample, palette=None, ignore_index=255):
    """Build the panel for one sample (first frame of a clip)."""
    rgb = sample['rgb']
    depth = sample.get('depth')
    valid = sample.get('depth_valid')
    if rgb.ndim == 4:  # clip: (T, H, W, 3) or (H, W, 3) per frame
        rgb = rgb[0]
        depth = depth[0] if depth is not None else None
        valid = valid[0] if valid is not None else None
    if rgb.dtype != np.uint8:
        rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    images, titles = [rgb], ['rgb']
    if depth is not None:
        if valid is None:
            valid = depth > 0
        images.append(colorize_depth(depth, valid))
        titles.append(f'depth ({(~valid.astype(bool)).mean():.0%} invalid)')
    if sample.get('semseg') is not None:
        images.append(colorize_semseg(sample['semseg'], palette, ignore_index))
        titles.append('semseg')
    if sample.get('points') is not None and sample.get('lidar2img') is not None:
        images.append(
            draw_points_on_image(rgb, sample['points'], sample['lidar2img']))
        titles.append('points')
    return make_panel(images, titles)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmrgbd'))
    dataset_cfg = cfg.get(f'{args.phase}_dataloader')['dataset']
    dataset = DATASETS.build(dataset_cfg)
    palette = dataset.metainfo.get('palette') if hasattr(
        dataset, 'metainfo') else None
    os.makedirs(args.output_dir, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        panel = draw_sample(unpack(dataset[i]), palette)
        path = osp.join(args.output_dir, f'sample_{i:04d}.png')
        cv2.imwrite(path, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
        print(path)


if __name__ == '__main__':
    main()
