"""ImageNet-1K in mmpretrain's layout, from real photographs of the samples.

The layout of mmpretrain's ``ImageNet(split=...)``::

    root/train/<wnid>/<wnid>_<n>.JPEG       RGB JPEG
    root/val/ILSVRC2012_val_<8 digits>.JPEG
    root/meta/train.txt                     "<wnid>/<file> <class index>"
    root/meta/val.txt                       "<file> <class index>"

The photographs are real frames of the samples (NYUv2, SUN RGB-D, KITTI,
nuScenes, 7-Scenes) at their own sizes (ImageNet's sizes vary the same
way), saved as JPEG; class indices are those of the wnids in ImageNet's
sorted order (n01440764 = 0 tench, n01443537 = 1 goldfish).
"""
import os
import os.path as osp
from typing import Dict

import cv2

#: (sample file, relative to ../shared/samples)
PHOTOS = (
    'nyuv2_rcnn_depth_demo/demo-data/images.png',
    'mmdet3d_sunrgbd_demo/000017.jpg',
    'kitti_object_vis/training/image_2/000001.png',
    'mmdet3d_nuscenes_demo/n015-2018-07-24-11-22-45+0800__CAM_FRONT__'
    '1532402927612460.jpg',
    '7scenes_tsdf_fusion/rgbd-frames/frame-000150.color.png',
)
WNIDS = ('n01440764', 'n01443537')


def build_imagenet(root, samples_dir) -> Dict[str, str]:
    """Write 4 training images (2 per class) and 1 validation image.

    Returns:
        dict: ``data_root`` and the ``train`` / ``val`` list files.
    """
    root = str(root)
    images = []
    for rel in PHOTOS:
        img = cv2.imread(osp.join(str(samples_dir), rel), cv2.IMREAD_COLOR)
        assert img is not None, rel
        images.append(img)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    lines = []
    for n, img in enumerate(images[:4]):
        label = n % 2
        wnid = WNIDS[label]
        name = f'{wnid}_{1000 + n}.JPEG'
        os.makedirs(osp.join(root, 'train', wnid), exist_ok=True)
        assert cv2.imwrite(osp.join(root, 'train', wnid, name), img,
                           [cv2.IMWRITE_JPEG_QUALITY, 90])
        lines.append(f'{wnid}/{name} {label}\n')
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as f:
        f.writelines(lines)
    os.makedirs(osp.join(root, 'val'), exist_ok=True)
    val_name = 'ILSVRC2012_val_00000001.JPEG'
    assert cv2.imwrite(osp.join(root, 'val', val_name), images[4],
                       [cv2.IMWRITE_JPEG_QUALITY, 90])
    with open(osp.join(root, 'meta', 'val.txt'), 'w') as f:
        f.write(f'{val_name} 0\n')
    return dict(data_root=root,
                train=osp.join(root, 'meta', 'train.txt'),
                val=osp.join(root, 'meta', 'val.txt'))
