"""KITTI monocular depth (Eigen split) in the BTS / AdaBins / SimIPU toolbox
layout, from the real KITTI frames of ``kitti_object_vis``.

The three object frames (real KITTI images, 1224x370 and 1242x375, with
their full Velodyne scans and calibration) stand in for raw-drive frames::

    root/input/2011_09_26/2011_09_26_drive_0001_sync/image_02/data/
        000000000N.png                     the real image
    root/gt_depth/2011_09_26_drive_0001_sync/proj_depth/groundtruth/
        image_02/000000000N.png            uint16, metres * 256, 0 = none
    root/kitti_eigen_train.txt, kitti_eigen_test.txt
        "<image> <depth or None> <focal>"

The ground truth is the real scan projected into ``image_2`` with the real
calibration (``P2 @ R0_rect @ Tr_velo_to_cam``), one point per pixel (the
nearest where several land on one pixel, pixel centres at integers), in the
official encoding of KITTI's depth PNGs. (KITTI's released depth-completion
ground truth accumulates 11 scans and removes outliers; one scan gives the
sparser raw-projection maps of Eigen et al.)
"""
import os
import os.path as osp
from typing import Dict, Sequence

import cv2
import numpy as np

from mmrgbd.datasets.transforms.lidar import (kitti_lidar2img,
                                              load_points_bin, project_points,
                                              read_kitti_calib)

FOLDER = 'kitti_object_vis/training'
DATE, DRIVE = '2011_09_26', '2011_09_26_drive_0001_sync'


def project_to_depth_png(points: np.ndarray, lidar2img: np.ndarray,
                         hw: Sequence[int]) -> np.ndarray:
    """Sparse depth map (uint16, metres * 256, 0 = no point) of a scan.

    Args:
        points (np.ndarray): (N, >= 3) LiDAR points.
        lidar2img (np.ndarray): (4, 4) projection into the image.
        hw (Sequence[int]): Image (H, W).

    Returns:
        np.ndarray: uint16 (H, W).
    """
    uv, depth = project_points(points, lidar2img)
    H, W = hw
    front = depth > 0
    cols = np.round(uv[front, 0]).astype(np.int64)
    rows = np.round(uv[front, 1]).astype(np.int64)
    depth = depth[front]
    inside = (cols >= 0) & (cols < W) & (rows >= 0) & (rows < H)
    cols, rows, depth = cols[inside], rows[inside], depth[inside]
    out = np.full((H, W), np.inf)
    np.minimum.at(out, (rows, cols), depth)  # nearest point per pixel
    png = np.zeros((H, W), dtype=np.uint16)
    hit = np.isfinite(out)
    png[hit] = np.clip(np.round(out[hit] * 256.), 1, 65535).astype(np.uint16)
    return png


def build_kitti_depth(root, samples_dir, train=(0, 1), test=(2, ),
                      test_without_gt=(1, )) -> Dict:
    """Write images, projected depth PNGs and both split files.

    Args:
        root: Output folder (the config's ``data_root``).
        samples_dir: ``../shared/samples``.
        train (Sequence[int]): Object frames listed in the train split.
        test (Sequence[int]): Frames listed in the test split.
        test_without_gt (Sequence[int]): Frames listed in the test split
            with ``None`` ground truth (skipped by the dataset).

    Returns:
        dict: ``data_root``, the split file names, and per frame ``gt`` (the
        uint16 PNG array) and ``hw``.
    """
    root = str(root)
    src = osp.join(str(samples_dir), FOLDER)
    img_dir = osp.join(root, 'input', DATE, DRIVE, 'image_02', 'data')
    gt_dir = osp.join(root, 'gt_depth', DRIVE, 'proj_depth', 'groundtruth',
                      'image_02')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    frames = {}
    for i in sorted(set(train) | set(test) | set(test_without_gt)):
        obj = f'{i:06d}'
        bgr = cv2.imread(osp.join(src, 'image_2', f'{obj}.png'),
                         cv2.IMREAD_COLOR)
        calib = read_kitti_calib(osp.join(src, 'calib', f'{obj}.txt'))
        points = load_points_bin(osp.join(src, 'velodyne', f'{obj}.bin'))
        gt = project_to_depth_png(points, kitti_lidar2img(calib),
                                  bgr.shape[:2])
        name = f'{i:010d}.png'
        assert cv2.imwrite(osp.join(img_dir, name), bgr)
        assert cv2.imwrite(osp.join(gt_dir, name), gt)
        frames[i] = dict(
            gt=gt, hw=bgr.shape[:2], focal=float(calib['P2'][0, 0]),
            img=f'{DATE}/{DRIVE}/image_02/data/{name}',
            depth=f'{DRIVE}/proj_depth/groundtruth/image_02/{name}')

    def line(i, with_gt=True):
        f = frames[i]
        return f'{f["img"]} {f["depth"] if with_gt else "None"} ' \
               f'{f["focal"]:.4f}\n'

    with open(osp.join(root, 'kitti_eigen_train.txt'), 'w') as fh:
        fh.writelines(line(i) for i in train)
    with open(osp.join(root, 'kitti_eigen_test.txt'), 'w') as fh:
        fh.writelines([line(i) for i in test] +
                      [line(i, False) for i in test_without_gt])
    return dict(data_root=root, train_split='kitti_eigen_train.txt',
                test_split='kitti_eigen_test.txt', frames=frames)
