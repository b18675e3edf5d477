#!/usr/bin/env python
"""Export a pre-trained mmrgbd ViT encoder for mmpretrain, mmseg or mmaction2.

Reads a pre-training checkpoint (runner checkpoint or weights file) of any
algorithm whose backbone is ``MultiModalViT`` (Mask3D, MultiMAE, M3 3D,
Progressive) and writes the encoder of one modality (default ``rgb``) as a
plain ``{'state_dict': ..., 'meta': ...}`` file (loadable with
``torch.load(weights_only=True)``):

* ``--target mmpretrain``: mmpretrain ``VisionTransformer`` keys with the
  prefix ``backbone.``; use it in an unmodified ``ImageClassifier`` config as
  ``backbone.init_cfg=dict(type='Pretrained', checkpoint=DST,
  prefix='backbone.')``;
* ``--target mmseg``: mmseg ``VisionTransformer`` keys without prefix (its
  ``init_weights`` ignores ``prefix``); use it as
  ``backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)`` and set
  ``model.pretrained=None``.

The position embedding is regenerated exactly for ``--img-size`` (default:
the pre-training size). Encoders without a global token (Mask3D) need
``with_cls_token=False`` in the target config. The script prints what the
target config must set and fails (exit status 1) on any missing, unused or
wrongly shaped key. Details: :mod:`mmrgbd.models.utils.export`.

Nothing in the source file is executed: weight files and runner checkpoints
load with ``torch.load(weights_only=True)`` plus an allow-list of the
checkpoint bookkeeping classes (:mod:`mmrgbd.utils.checkpoint`); other pickled
objects are refused. ``--unsafe-load`` unpickles a legacy file fully (it runs
any code stored in it: only for files from a source you trust completely).
The printed config block (with ``num_heads`` read from the runner
checkpoint's config, or ``--num-heads``) can be pasted into the target config
as shown.

Examples::

    python tools/model_converters/export_vit.py \\
        work_dirs/mask3d_vit-b_scannet/epoch_100.pth \\
        checkpoints/mask3d_vit-b_rgb_mmseg.pth --target mmseg \\
        --img-size 480 640
    python tools/model_converters/export_vit.py \\
        work_dirs/mask3d_vit-b_scannet/epoch_100.pth \\
        checkpoints/mask3d_vit-b_rgb_mmpretrain.pth --target mmpretrain \\
        --img-size 224
    python tools/model_converters/export_vit.py \\
        work_dirs/m3mae_video_ucf101/epoch_100.pth \\
        checkpoints/m3mae_video_vit-b_rgb_mmaction2.pth --target mmaction2
"""
import argparse
import sys
from typing import Optional


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Command line of the script."""
    parser = argparse.ArgumentParser(
        description='Export one modality encoder of a MultiModalViT '
        'checkpoint as a mmpretrain, mmseg or mmaction2 VisionTransformer')
    parser.add_argument('src', help='pre-training checkpoint')
    parser.add_argument('dst', help='output .pth file')
    parser.add_argument('--target', required=True,
                        choices=['mmpretrain', 'mmseg', 'mmaction2'])
    parser.add_argument('--modality', default='rgb',
                        help='modality whose encoder is exported')
    parser.add_argument('--img-size', type=int, nargs='+', default=None,
                        metavar='H [W]',
                        help='target input size (default: pre-training size)')
    parser.add_argument('--src-prefix', default=None,
                        help='prefix of the MultiModalViT in the state dict '
                        '(default: detected, e.g. "backbone.")')
    parser.add_argument('--src-grid', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='stored token grid; only for a pos_embed that '
                        'is not a fixed sin-cos')
    parser.add_argument('--patch-bias', default='fold',
                        choices=['fold', 'keep'],
                        help='mmseg: fold the patch bias into pos_embed '
                        '(for patch_bias=False, mmseg\'s default) or keep it '
                        '(for patch_bias=True)')
    parser.add_argument('--num-frames', type=int, default=16,
                        help='mmaction2: target clip length (default 16)')
    parser.add_argument('--pooling', default='mean', choices=['mean', 'none'],
                        help='mmaction2: the final norm becomes fc_norm of '
                        'the mean-pooled feature (use_mean_pooling=True) or '
                        'norm of every token (use_mean_pooling=False)')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='pre-training num_heads for the printed config '
                        '(default: read from the runner checkpoint)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='unpickle a legacy SRC fully: RUNS ANY CODE '
                        'STORED IN THE FILE; only for files you trust '
                        'completely')
    parser.add_argument('--weights-only', action='store_true',
                        help=argparse.SUPPRESS)  # always on; kept for scripts
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    """Run the export; exits with status 1 on a conversion problem."""
    from mmrgbd.models.utils.export import (ExportError, export_vit,
                                            read_img_size, summary)
    from mmrgbd.utils import unsafe_checkpoint_loading
    args = parse_args(argv)
    try:
        with unsafe_checkpoint_loading(args.unsafe_load):
            if args.target == 'mmaction2':
                from mmrgbd.models.utils.export_mmaction import (
                    export_mmaction2, summary_mmaction2)
                size = read_img_size(args.img_size) or (224, 224)
                if size[0] != size[1]:
                    raise ExportError(f'mmaction2\'s VisionTransformer takes '
                                      f'a square img_size, got {size}')
                meta = export_mmaction2(args.src, args.dst, args.modality,
                                        size[0], args.num_frames,
                                        args.pooling, args.src_prefix,
                                        args.num_heads)
                text = summary_mmaction2(meta, args.dst)
            else:
                meta = export_vit(args.src, args.dst, args.target,
                                  args.modality,
                                  read_img_size(args.img_size),
                                  args.src_prefix, args.src_grid,
                                  args.patch_bias, args.num_heads)
                text = summary(meta, args.dst)
    except (ExportError, RuntimeError, FileNotFoundError) as e:
        print(f'ERROR: cannot export {args.src}: {e}', file=sys.stderr)
        raise SystemExit(1)
    print(text)
    print(f'saved {args.dst}')
    return 0


if __name__ == '__main__':
    main()
