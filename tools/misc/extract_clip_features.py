#!/usr/bin/env python
"""Write per-clip encoder features of a fine-tuned video recogniser.

Stage 2 of M3 3D's OR-AR evaluation trains a Bi-GRU over the clip features
of whole videos. This runs the clip-level fine-tuned recogniser (stage 1,
``configs/downstream/vit-b-p16_m3mae-pre_8xb8-16x4x1-75e_or-ar-clip.py``)
over every clip of the given clip annotation files with the config's test
pipeline and writes ``OUT_DIR/<video>.npy`` (float32, one row per clip in
order of offset), read by ``ClipFeatureSequenceDataset``. The checkpoint is
read weights-only.

Example::

    python tools/misc/extract_clip_features.py \\
        configs/downstream/vit-b-p16_m3mae-pre_8xb8-16x4x1-75e_or-ar-clip.py \\
        work_dirs/or-ar-clip/epoch_75.pth data/or_ar/clip_features \\
        --ann-files data/or_ar/annotations/clips_train.txt \\
        data/or_ar/annotations/clips_val.txt \\
        data/or_ar/annotations/clips_test.txt
"""
import argparse

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Per-clip features of a video recogniser')
    parser.add_argument('config', help='clip-level fine-tuning config')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument('out_dir', help='folder of <video>.npy files')
    parser.add_argument('--ann-files', nargs='+', required=True,
                        help='clip annotation files')
    parser.add_argument('--data-root', default=None,
                        help='frame root (default: the config\'s)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides (key=value)')
    return parser.parse_args(argv)


def main(argv=None):
    from mmrgbd.apis.clip_features import extract_clip_features
    args = parse_args(argv)
    written = extract_clip_features(
        args.config, args.checkpoint, args.ann_files, args.out_dir,
        args.data_root, args.batch_size, args.device, args.cfg_options)
    print(f'wrote clip features of {len(written)} videos to {args.out_dir}')


if __name__ == '__main__':
    main()
