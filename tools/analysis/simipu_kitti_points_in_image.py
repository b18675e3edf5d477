"""How many of SimIPU's last-layer point locations land in the image (KITTI).

Builds the dataset of ``configs/pretrain/simipu_r50_kitti.py`` with its own
pipeline on KITTI frames in the official layout (by default the real frames
of ``../shared/samples/kitti_object_vis``, linked into a temporary
``training/`` folder), encodes view alpha with the shipped PointNet++
(4096 / 1024 / 512 + 512 points) and counts the last-layer locations that
project into their (resized, flipped) image: the points the inter-modal term
can use. It also matches the two views as the model does and reports the
share of matched pairs closer than 0.5 m (in view beta).

``--former`` reproduces the setting before the fix (360-degree scans, no
range filter, fixed 1280x384 resize) for comparison.

Example::

    python tools/analysis/simipu_kitti_points_in_image.py
    python tools/analysis/simipu_kitti_points_in_image.py --former
"""
import argparse
import copy
import os
import os.path as osp
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmrgbd.models.algorithms.simipu import (match_points, project_to_image,
                                             transform_points)
from mmrgbd.registry import DATASETS, MODELS, build_in_scope
from mmrgbd.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--kitti',
        default=osp.join(REPO, '..', 'shared', 'samples', 'kitti_object_vis',
                         'training'),
        help='a KITTI training/ folder (calib, image_2, velodyne)')
    parser.add_argument('--former', action='store_true',
                        help='the former setting: full scans, 1280x384')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def link_layout(src: str, dst: str) -> list:
    """Link the frames of ``src`` into ``dst/training`` + ImageSets."""
    ids = sorted(osp.splitext(f)[0] for f in os.listdir(osp.join(
        src, 'velodyne')) if f.endswith('.bin'))
    for sub, ext in (('calib', 'txt'), ('image_2', 'png'),
                     ('velodyne', 'bin')):
        os.makedirs(osp.join(dst, 'training', sub))
        for idx in ids:
            os.symlink(osp.abspath(osp.join(src, sub, f'{idx}.{ext}')),
                       osp.join(dst, 'training', sub, f'{idx}.{ext}'))
    os.makedirs(osp.join(dst, 'ImageSets'))
    with open(osp.join(dst, 'ImageSets', 'train.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return ids


def main():
    args = parse_args()
    register_all_modules()
    init_default_scope('mmrgbd')
    torch.set_num_threads(1)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'pretrain', 'simipu_r50_kitti.py'))
    tmp = tempfile.mkdtemp()
    ids = link_layout(args.kitti, tmp)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset.datasets[0])
    ds_cfg.data_root = tmp
    if args.former:
        for t in ds_cfg.pipeline:
            if t.type == 'LoadLiDARPoints':
                t.filter_in_image = False
                t.point_cloud_range = None
            if t.type == 'RGBDRandomResize':
                t.update(type='RGBDResize', scale=(1280, 384),
                         keep_ratio=False)
                t.pop('scales')
    dataset = DATASETS.build(ds_cfg)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.img_backbone.norm_cfg = dict(type='BN')  # one process
    model = build_in_scope(MODELS, model_cfg)
    model.train()
    data = model.data_preprocessor(batch, True)
    start = time.time()
    with torch.no_grad():
        feat_a = model.pts_backbone(data['inputs']['points'])
        feat_b = model.pts_backbone(data['inputs']['points_beta'])
    elapsed = time.time() - start
    samples = data['data_samples']
    l2i = torch.tensor(np.stack([s.lidar2img for s in samples]))
    shapes = torch.tensor([tuple(s.img_shape) for s in samples])
    _, valid = project_to_image(feat_a['xyz'].double(), l2i, shapes)
    mats = torch.tensor(np.stack([s.beta_transform for s in samples]))
    cost = torch.cdist(transform_points(feat_a['xyz'].double(), mats),
                       feat_b['xyz'].double())
    rows, cols = match_points(cost, 'hungarian')
    dist = cost[torch.arange(len(ids))[:, None], rows, cols]
    print(f'setting: {"former" if args.former else "shipped"} '
          f'(point encoder, 2 views of {len(ids)} frames: {elapsed:.1f} s)')
    for i, idx in enumerate(ids):
        n_in = int(batch['inputs']['points'][i].shape[0])
        print(f'frame {idx}: image {tuple(samples[i].img_shape)}, '
              f'flip {bool(samples[i].flip)}, {n_in} input points, '
              f'last layer in the image: {int(valid[i].sum())} / '
              f'{valid.shape[1]}, matched pairs < 0.5 m: '
              f'{float((dist[i] < 0.5).float().mean()):.0%} (median '
              f'{float(dist[i].median()):.2f} m)')
    print(f'inter-modal pairs in the batch of {len(ids)}: '
          f'{int(valid.sum())} of {valid.numel()}')


if __name__ == '__main__':
    main()
