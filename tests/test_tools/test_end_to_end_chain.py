"""The user path, end to end on CPU: pre-train -> export -> fine-tune ->
test (issue 11, "The end-to-end chain").

1. a tiny Mask3D pre-training with ``tools/train.py`` on the synthetic rooms;
2. ``export_vit.py --target mmseg`` of its RGB encoder;
3. NYUv2-layout data rendered from the synthetic rooms
   (``synthetic_to_nyuv2.py``, arranged for mmseg's depth configs by
   ``nyuv2_png_to_mmseg_depth.py``);
4. ``tools/train.py`` on the shipped NYUv2 configs with unmodified mmseg
   model classes (``EncoderDecoder`` for segmentation, ``DepthEstimator``
   for depth), with only data paths, model size and schedule length
   overridden (no transform changed);
5. ``tools/test.py CONFIG CKPT`` (weights-only loading of the checkpoint the
   fine-tuning saved): the printed metrics are parsed and must equal the
   validation metrics the runner logged for that checkpoint.
"""
import ast
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from real_layouts.files import load_tool
from test_export_vit import load_tool as load_export_vit  # same folder
from test_train_tools import _env  # same folder: PYTHONPATH, 1 thread

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py'
SEG = 'configs/downstream/maedec_mask3d-vit-b_nyu13-240x320.py'
DEPTH = 'configs/downstream/depth_mask3d-vit-b_nyu-480x480.py'
#: a 4-layer, 32-wide ViT (4 layers: the depth config reads 4 of them)
TINY_VIT = dict(embed_dims=32, num_layers=4, num_heads=2, ffn=64)


def _run(*args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, proc.stderr


def _loaders(**values):
    """``--cfg-options`` entries for the train / val / test dataloaders."""
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
        opts += [f'{split}_dataloader.dataset.{k}={v}'
                 for k, v in values.items()]
    return opts


def _logged_val(work_dir):
    """Metrics of the last ``(val)`` line of the fine-tuning log."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert logs, f'no log in {work_dir}'
    with open(logs[-1]) as f:
        log = f.read()
    line = [ln for ln in log.splitlines() if '(val)' in ln and ': ' in ln
            and 'eta' not in ln][-1]
    return log, {k: float(v) for k, v in
                 re.findall(r'(\w+): (-?[\d.]+(?:e[-+]\d+)?)', line)}


def _printed_metrics(stdout):
    """The metrics dict ``tools/test.py`` prints as its last line."""
    return ast.literal_eval(stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    """Pre-train, export and write the data once for both fine-tunings."""
    work = tmp_path_factory.mktemp('chain')
    v = TINY_VIT
    _run('tools/train.py', PRETRAIN, '--work-dir', str(work / 'pre'),
         '--cfg-options', 'train_cfg.max_iters=2',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'train_dataloader.dataset.num_samples=4', 'custom_hooks=[]',
         f'model.backbone.arch.embed_dims={v["embed_dims"]}',
         f'model.backbone.arch.num_layers={v["num_layers"]}',
         f'model.backbone.arch.num_heads={v["num_heads"]}',
         f'model.backbone.arch.feedforward_channels={v["ffn"]}',
         f'model.neck.in_channels={v["embed_dims"]}',
         'model.neck.embed_dims=32', 'model.neck.num_layers=1',
         'model.neck.num_heads=2')
    pre_ckpt = str(work / 'pre' / 'iter_2.pth')
    export = load_export_vit().main
    for name, size in (('240x320', ['240', '320']), ('480', ['480'])):
        assert export([pre_ckpt, str(work / f'rgb_mmseg-{name}.pth'),
                       '--target', 'mmseg', '--img-size', *size]) == 0
    # 4 train + 2 test rooms at NYUv2's 640x480
    load_tool('synthetic_to_nyuv2').main(
        [str(work / 'nyuv2'), '--num-train', '4', '--num-test', '2'])
    load_tool('nyuv2_png_to_mmseg_depth').main(
        [str(work / 'nyuv2'), str(work / 'nyu_labeled')])
    return work


def _vit_size():
    v = TINY_VIT
    return [f'model.backbone.embed_dims={v["embed_dims"]}',
            f'model.backbone.num_layers={v["num_layers"]}',
            f'model.backbone.num_heads={v["num_heads"]}',
            f'model.backbone.mlp_ratio={v["ffn"] // v["embed_dims"]}']


def _fine_tune_and_test(config, work_dir, model_opts, data_opts, train_opts,
                        ckpt_glob):
    """tools/train.py then tools/test.py; returns (train log and output,
    logged val metrics, printed test metrics)."""
    train_out = _run('tools/train.py', config, '--work-dir', work_dir,
                     '--cfg-options', 'default_hooks.logger.interval=1',
                     *train_opts, *model_opts, *data_opts)
    log, logged = _logged_val(work_dir)
    # mmengine prints key mismatches of init_cfg loading (no logger)
    log = log + ''.join(train_out)
    ckpts = glob.glob(osp.join(work_dir, ckpt_glob))
    assert len(ckpts) == 1, os.listdir(work_dir)
    # the user's test command: config + fine-tuned checkpoint only (the
    # pre-training files are not needed any more)
    out, _ = _run('tools/test.py', config, ckpts[0], '--work-dir',
                  work_dir + '_test', '--cfg-options', *model_opts,
                  *data_opts)
    return log, logged, _printed_metrics(out)


def test_segmentation_chain_mmseg_encoder_decoder(chain):
    """Mask3D's NYUv2 13-class recipe: the exported encoder and the
    pre-trained decoder in mmseg's EncoderDecoder; mIoU of tools/test.py =
    the runner's validation mIoU of the saved best checkpoint."""
    work = chain
    model = _vit_size() + [
        'model.decode_head.in_channels=32',
        'model.decode_head.decoder.embed_dims=32',
        'model.decode_head.decoder.num_layers=1',
        'model.decode_head.decoder.num_heads=2',
        'model.backbone.init_cfg.checkpoint=' + str(
            work / 'rgb_mmseg-240x320.pth'),
        'model.decode_head.decoder_checkpoint=' + str(
            work / 'pre' / 'iter_2.pth'),
    ]
    data = _loaders(data_root=work / 'nyuv2')
    log, logged, printed = _fine_tune_and_test(
        SEG, str(work / 'seg'), model, data,
        ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
         'default_hooks.checkpoint.interval=1'], 'best_mIoU_epoch_1.pth')
    # the pre-trained encoder and decoder were loaded, completely
    assert 'rgb_mmseg-240x320.pth' in log
    assert 'do not match exactly' not in log, 'encoder keys missing'
    assert 'MAEDecoderSegHead: loaded' in log
    # 2 iterations of batch 2 over the 4 training rooms
    assert re.search(r'Epoch\(train\) \[1\]\[2/2\].*decode\.loss_ce', log)
    assert np.isfinite(printed['mIoU']) and 0 <= printed['mIoU'] <= 100
    assert printed['mIoU'] == pytest.approx(logged['mIoU'], abs=1e-2)
    assert printed['aAcc'] == pytest.approx(logged['aAcc'], abs=1e-2)


def test_depth_chain_mmseg_depth_estimator(chain):
    """Mask3D's NYUv2 depth config (mmseg's DepthEstimator, UPerNet-ViT
    neck, VPD head) on the arranged mmseg layout; delta_1 of tools/test.py
    = the runner's validation delta_1 of the saved best checkpoint."""
    work = chain
    model = _vit_size() + [
        'model.backbone.out_indices=[0,1,2,3]',
        'model.neck.in_channels=[32,32,32,32]', 'model.neck.out_channels=32',
        'model.decode_head.in_channels=[32,32,32,32]',
        # the VPD head's feature_dim must be 8 x embed_dim
        'model.decode_head.embed_dim=8', 'model.decode_head.feature_dim=64',
        'model.backbone.init_cfg.checkpoint=' + str(
            work / 'rgb_mmseg-480.pth'),
    ]
    # the arranged NYUv2 labeled frames are PNGs (mmseg's default: .jpg)
    data = _loaders(data_root=work / 'nyu_labeled', img_suffix='.png')
    log, logged, printed = _fine_tune_and_test(
        DEPTH, str(work / 'depth'), model, data,
        ['train_cfg.max_iters=2', 'train_cfg.val_interval=2'],
        'best_rmse_iter_2.pth')
    assert 'rgb_mmseg-480.pth' in log
    assert 'do not match exactly' not in log, 'encoder keys missing'
    assert re.search(r'Iter\(train\) \[2/2\].*decode\.loss_silog', log)
    for key in ('d1', 'abs_rel', 'rmse'):
        assert np.isfinite(printed[key]), key
        assert printed[key] == pytest.approx(logged[key], abs=1e-4), key
    assert 0 <= printed['d1'] <= 1
