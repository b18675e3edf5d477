"""ScanNet frames as Mask3D reads them: all 1513 train + val scans (several
scene lists), every 25th frame by recording index (also from an export made
with --frame-skip 25), no filtering of frames with an invalid pose."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmrgbd.datasets import BadSampleError, ScanNetFrames
from mmrgbd.registry import DATASETS
from mmrgbd.utils import register_all_modules

register_all_modules()

REPO = Path(__file__).resolve().parents[2]
SEVEN_IDS = [150, 155, 160, 165, 170, 175, 180, 185, 190, 195]
K = np.array([[585., 0., 320.], [0., 585., 240.], [0., 0., 1.]])


def export_scene(samples_dir, root, scene, frame_ids, bad_pose_ids=()):
    """7-Scenes frames written as a ScanNet export with the given recording
    indices (e.g. 0, 25, 50: what ``--frame-skip 25`` writes)."""
    src = samples_dir / '7scenes_tsdf_fusion' / 'rgbd-frames'
    d = root / scene
    for sub in ('color', 'depth', 'pose', 'intrinsic'):
        (d / sub).mkdir(parents=True)
    for i, n in zip(frame_ids, SEVEN_IDS):
        stem = src / f'frame-{n:06d}'
        cv2.imwrite(str(d / 'color' / f'{i}.jpg'),
                    cv2.imread(f'{stem}.color.png'))
        os.symlink(f'{stem}.depth.png', d / 'depth' / f'{i}.png')
        pose = np.loadtxt(f'{stem}.pose.txt')
        if i in bad_pose_ids:
            pose[:] = -np.inf  # ScanNet's mark of a lost track
        np.savetxt(d / 'pose' / f'{i}.txt', pose)
    k4 = np.eye(4)
    k4[:3, :3] = K
    for name in ('intrinsic_depth.txt', 'intrinsic_color.txt'):
        np.savetxt(d / 'intrinsic' / name, k4)


def test_frames_selected_by_recording_index(samples_dir, tmp_path):
    """frame_skip=25 on an export written with --frame-skip 25 uses every
    exported frame (before: every 25th of them, i.e. every 625th frame);
    on a full export it uses indices 0, 25, 50, ..."""
    export_scene(samples_dir, tmp_path, 'scene0000_00',
                 [25 * i for i in range(10)])
    ds = ScanNetFrames(data_root=str(tmp_path), frame_skip=25)
    assert [d['frame_idx'] for d in ds] == [25 * i for i in range(10)]
    full = tmp_path / 'full'
    export_scene(samples_dir, full, 'scene0000_00', list(range(0, 60, 6)))
    ds = ScanNetFrames(data_root=str(full), frame_skip=12, frame_offset=6)
    assert [d['frame_idx'] for d in ds] == [6, 18, 30, 42, 54]


def test_several_scene_lists_and_duplicates(samples_dir, tmp_path):
    for scene in ('scene0000_00', 'scene0001_00', 'scene0002_00'):
        export_scene(samples_dir, tmp_path, scene, range(10))
    (tmp_path / 'train.txt').write_text('scene0002_00\nscene0000_00\n')
    (tmp_path / 'val.txt').write_text('scene0001_00\n')
    ds = ScanNetFrames(data_root=str(tmp_path),
                       scene_list=['train.txt', 'val.txt'], frame_skip=5)
    assert [(d['scene'], d['frame_idx']) for d in ds] == [
        ('scene0002_00', 0), ('scene0002_00', 5), ('scene0000_00', 0),
        ('scene0000_00', 5), ('scene0001_00', 0), ('scene0001_00', 5)]
    (tmp_path / 'val.txt').write_text('scene0001_00\nscene0000_00\n')
    with pytest.raises(BadSampleError, match=r'val\.txt.*scene0000_00 is '
                       r'also listed in .*train\.txt'):
        ScanNetFrames(data_root=str(tmp_path),
                      scene_list=['train.txt', 'val.txt'])


def test_mask3d_config_reads_train_and_val_without_pose_filter(
        samples_dir, tmp_path):
    """The shipped Mask3D dataset settings on the official layout
    (data/scannet/{scannetv2_train,val}.txt next to frames/): both lists are
    read, a frame whose pose is -inf is kept (cam2world None) and goes
    through the config's own unmodified pipeline."""
    cfg = Config.fromfile(
        str(REPO / 'configs' / 'pretrain' / 'mask3d_vit-b_scannet.py'))
    root = tmp_path / 'data' / 'scannet'
    frames = root / 'frames'
    export_scene(samples_dir, frames, 'scene0000_00',
                 [25 * i for i in range(10)], bad_pose_ids=(50, ))
    export_scene(samples_dir, frames, 'scene0707_00',
                 [25 * i for i in range(10)])
    (root / 'scannetv2_train.txt').write_text('scene0000_00\n')
    (root / 'scannetv2_val.txt').write_text('scene0707_00\n')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(frames) + '/'
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 20 and ds.num_invalid_poses == 1
    scenes = {ds.get_data_info(i)['scene'] for i in range(len(ds))}
    assert scenes == {'scene0000_00', 'scene0707_00'}
    bad = next(i for i in range(len(ds))
               if ds.get_data_info(i)['frame_idx'] == 50)
    assert ds.get_data_info(bad)['cam2world'] is None
    assert ds.get_data_info(bad)['pose_valid'] is False
    sample = ds[bad]
    assert tuple(sample['inputs']['rgb'].shape) == (3, 240, 320)
    assert tuple(sample['inputs']['depth'].shape) == (1, 240, 320)
    # the default of other users is unchanged: the frame is dropped
    strict = ScanNetFrames(data_root=str(frames), frame_skip=25)
    assert len(strict) == 19
