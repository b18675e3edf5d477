"""nuScenes as mmdet3d 1.4 prepares it (``create_data.py nuscenes``), the
layout ``configs/downstream/fcos3d_simipu-r50_nus.py`` reads::

    data/nuscenes/samples/CAM_FRONT/<token>.jpg    1600x900 (6 cameras)
    data/nuscenes/samples/LIDAR_TOP/<token>.pcd.bin
    data/nuscenes/nuscenes_infos_{train,val}.pkl   v2 infos with
                                                   cam_instances

from mmdet3d's real nuScenes demo sample (``mmdet3d_nuscenes_demo``: six
camera images, the LiDAR sweep and its v2 info with 69 boxes and the
per-camera 2D/3D instances); files are linked. Monocular 3D detection
(``load_type='mv_image_based'``) makes one sample per camera image: the
train info lists two cameras of the sample (CAM_FRONT, CAM_BACK: two
training images), the val info one (CAM_FRONT).
"""
import copy
import os.path as osp
import pickle
from typing import Dict

from .files import link

SOURCE = 'mmdet3d_nuscenes_demo'
INFO = 'n015-2018-07-24-11-22-45+0800.pkl'
CAMERAS = {'train': ('CAM_FRONT', 'CAM_BACK'), 'val': ('CAM_FRONT', )}


def build_nuscenes(data_dir, samples_dir) -> Dict[str, str]:
    """Write ``data_dir/nuscenes``.

    Returns:
        dict: ``data_root``.
    """
    root = osp.join(str(data_dir), 'nuscenes')
    src = osp.join(str(samples_dir), SOURCE)
    with open(osp.join(src, INFO), 'rb') as f:
        infos = pickle.load(f)
    (item, ) = infos['data_list']
    for cam, cam_info in item['images'].items():
        link(osp.join(src, cam_info['img_path']),
             osp.join(root, 'samples', cam, cam_info['img_path']))
    lidar = item['lidar_points']['lidar_path']
    link(osp.join(src, lidar), osp.join(root, 'samples', 'LIDAR_TOP', lidar))
    for split, cams in CAMERAS.items():
        frame = copy.deepcopy(item)
        frame['images'] = {c: frame['images'][c] for c in cams}
        frame['cam_instances'] = {c: frame['cam_instances'][c] for c in cams}
        out = dict(metainfo=infos['metainfo'], data_list=[frame])
        with open(osp.join(root, f'nuscenes_infos_{split}.pkl'), 'wb') as f:
            pickle.dump(out, f)
    return dict(data_root=root)
