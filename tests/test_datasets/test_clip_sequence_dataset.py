"""OR-AR clip annotations, the clip-feature sequence dataset and the fixed,
seeded label-ratio subsets."""
import numpy as np
import pytest
import torch

from mmrgbd.datasets import (BadSampleError, ClipFeatureSequenceDataset,
                             LabelRatioDataset, read_clip_annotations,
                             select_videos)


def write(path, text):
    path.write_text(text)
    return str(path)


def test_read_clip_annotations_groups_and_sorts(tmp_path):
    ann = write(tmp_path / 'a.txt', 'v2 64 64 3\nv1 64 64 0 2\n\n'
                'v1 0 64 1\nv2 0 64 8 3 3\n')
    clips = read_clip_annotations(ann, num_classes=9)
    assert list(clips) == ['v2', 'v1']
    assert clips['v1'] == [(0, 64, (1, )), (64, 64, (0, 2))]
    assert clips['v2'] == [(0, 64, (3, 8)), (64, 64, (3, ))]


@pytest.mark.parametrize('text,match', [
    ('v1 0 64\n', 'every clip needs a label'),
    ('v1 0 64 9\n', r'label ids \[9\] are outside \[0, 9\)'),
    ('v1 0 64 -1\n', r'label ids \[-1\]'),
    ('v1 x 64 1\n', 'must be integers'),
    ('v1 0 64 1\nv1 0 64 2\n', 'second clip at offset 0'),
    ('v1 -4 64 1\n', 'offset must be >= 0'),
])
def test_read_clip_annotations_errors(tmp_path, text, match):
    ann = write(tmp_path / 'bad.txt', text)
    with pytest.raises(BadSampleError, match=match) as e:
        read_clip_annotations(ann, num_classes=9)
    assert e.value.path == ann
    with pytest.raises(BadSampleError, match='cannot read'):
        read_clip_annotations(str(tmp_path / 'none.txt'))


def make_features(root, clips, C=4):
    (root / 'feats').mkdir(exist_ok=True)
    for video, n in clips.items():
        np.save(root / 'feats' / f'{video}.npy',
                np.arange(n * C, dtype=np.float32).reshape(n, C))


def test_sequence_dataset_packs_video_in_time_order(tmp_path):
    write(tmp_path / 'clips.txt', 'b 64 64 1\na 0 64 0\nb 0 64 2 0\n')
    make_features(tmp_path, dict(a=1, b=2))
    ds = ClipFeatureSequenceDataset(
        ann_file='clips.txt', feature_dir='feats', num_classes=3,
        data_root=str(tmp_path))
    assert len(ds) == 2
    out = ds[0]  # video b
    assert out['data_samples'].video == 'b'
    assert out['data_samples'].offsets == [0, 64]
    assert torch.equal(out['inputs'], torch.arange(8.).view(2, 4))
    assert out['data_samples'].gt_score.tolist() == [[1., 0., 1.],
                                                     [0., 1., 0.]]


def test_sequence_dataset_bad_features(tmp_path):
    write(tmp_path / 'clips.txt', 'a 0 64 0\na 64 64 1\n')
    make_features(tmp_path, dict(a=3))
    ds = ClipFeatureSequenceDataset(
        ann_file='clips.txt', feature_dir='feats', num_classes=2,
        data_root=str(tmp_path))
    with pytest.raises(BadSampleError, match=r'a\.npy: features of shape '
                       r'\(3, 4\), expected \(2, C\)'):
        ds[0]
    (tmp_path / 'feats' / 'a.npy').unlink()
    with pytest.raises(BadSampleError, match='extract_clip_features'):
        ds[0]


def test_select_videos_is_fixed_nested_and_order_free():
    videos = [f'vid{i:03d}' for i in range(100)]
    five = select_videos(videos, 0.05, seed=0)
    assert len(five) == 5 and five == sorted(five)
    assert select_videos(list(reversed(videos)) * 2, 0.05, seed=0) == five
    ten, twenty = (select_videos(videos, r, seed=0) for r in (0.1, 0.2))
    assert set(five) <= set(ten) <= set(twenty) and len(twenty) == 20
    assert select_videos(videos, 0.05, seed=1) != five
    assert select_videos(videos, 1.0) == videos
    assert select_videos(videos[:3], 0.05) != []  # at least one video
    with pytest.raises(ValueError, match=r'label_ratio must be in \(0, 1\]'):
        select_videos(videos, 0.)


def test_label_ratio_wraps_sequences_and_mmaction_clips_alike(tmp_path):
    """The clip-level (mmaction2 RawframeDataset: one sample per clip) and
    the sequence dataset keep the same videos for one ratio and seed."""
    from mmengine.registry import init_default_scope
    lines = [f'v{v:02d} {o} 64 {v % 3}' for v in range(10)
             for o in (0, 64)]
    write(tmp_path / 'clips.txt', '\n'.join(lines) + '\n')
    make_features(tmp_path, {f'v{v:02d}': 2 for v in range(10)})
    seq = LabelRatioDataset(
        dataset=dict(type='ClipFeatureSequenceDataset', ann_file='clips.txt',
                     feature_dir='feats', num_classes=3,
                     data_root=str(tmp_path)),
        label_ratio=0.2, seed=3)
    init_default_scope('mmaction')
    clips = LabelRatioDataset(
        dataset=dict(type='RawframeDataset',
                     ann_file=str(tmp_path / 'clips.txt'),
                     data_prefix=dict(img=str(tmp_path) + '/'),
                     with_offset=True, multi_class=True, num_classes=3,
                     pipeline=[]),
        label_ratio=0.2, seed=3)
    assert seq.videos == clips.videos == select_videos(
        [f'v{v:02d}' for v in range(10)], 0.2, seed=3)
    assert len(seq) == 2 and len(clips) == 4
    assert {clips.get_data_info(i)['offset'] for i in range(4)} == {0, 64}
    kept = {seq[i]['data_samples'].video for i in range(len(seq))}
    assert kept == set(seq.videos)
    assert LabelRatioDataset(seq.dataset, label_ratio=1.0).videos == \
        [f'v{v:02d}' for v in range(10)]
    with pytest.raises(ValueError, match='label_ratio'):
        LabelRatioDataset(seq.dataset, label_ratio=1.5)
