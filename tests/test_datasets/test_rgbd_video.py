"""RGBDVideoClipDataset: one clip per video and epoch at a random start
(VideoMAE), a fixed centre clip in test mode, enumerated clips on request."""
import cv2
import numpy as np
import pytest

from mmrgbd.datasets import LoadRGBDClip, RGBDVideoClipDataset


def _write_videos(root, lengths):
    """Videos with frames 000..n-1; pixel value = frame index."""
    for v, n in lengths.items():
        for sub in ('rgb', 'depth'):
            (root / v / sub).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(root / v / 'rgb' / f'{i:03d}.png'),
                        np.full((4, 6, 3), i, np.uint8))
            cv2.imwrite(str(root / v / 'depth' / f'{i:03d}.png'),
                        np.full((4, 6), 1000 + i, np.uint16))


def test_one_randomly_placed_clip_per_video(tmp_path):
    _write_videos(tmp_path, dict(a=20, b=12, short=4))
    ds = RGBDVideoClipDataset(
        data_root=str(tmp_path), num_frames=3, frame_interval=2,
        pipeline=[LoadRGBDClip()])
    # span 5: one entry per video that fits (an epoch = one clip each)
    assert len(ds) == 2 and ds.num_short_videos == 1
    np.random.seed(0)
    starts = {'a': set(), 'b': set()}
    for _ in range(200):
        for i in range(2):
            info = ds.get_data_info(i)
            first = int(info['frame_stems'][0])
            stems = [int(s) for s in info['frame_stems']]
            assert stems == [first, first + 2, first + 4]
            assert [p.endswith(f'{s:03d}.png') for p, s in
                    zip(info['depth_paths'], stems)] == [True] * 3
            assert info['rgb_path'] == info['rgb_paths'][0]
            starts[info['video']].add(first)
    # every start where the clip fits is drawn, and no other
    assert starts == {'a': set(range(16)), 'b': set(range(8))}
    clip = ds[0]
    assert clip['rgb'].shape == (3, 4, 6, 3)
    first = int(clip['frame_stems'][0])
    np.testing.assert_array_equal(clip['rgb'][:, 0, 0, 0],
                                  [first, first + 2, first + 4])


def test_test_mode_uses_the_fixed_centre_clip(tmp_path):
    _write_videos(tmp_path, dict(a=20, b=12))
    ds = RGBDVideoClipDataset(
        data_root=str(tmp_path), num_frames=3, frame_interval=2,
        test_mode=True)
    np.random.seed(1)
    for _ in range(5):
        # a: starts 0..15 -> 7; b: starts 0..7 -> 3
        assert ds.get_data_info(0)['frame_stems'] == ['007', '009', '011']
        assert ds.get_data_info(1)['frame_stems'] == ['003', '005', '007']


def test_clip_stride_enumerates_fixed_clips(tmp_path):
    _write_videos(tmp_path, dict(a=12))
    ds = RGBDVideoClipDataset(
        data_root=str(tmp_path), num_frames=3, frame_interval=2,
        clip_stride=3)
    assert len(ds) == 3  # starts 0, 3, 6 (span 5 of 12 frames)
    assert [ds.get_data_info(i)['frame_stems'][0] for i in range(3)] == [
        '000', '003', '006']
    with pytest.raises(ValueError, match='clip_stride'):
        RGBDVideoClipDataset(data_root=str(tmp_path), clip_stride=0)
