"""The headline commands of M3 3D and Progressive run as shipped, with two
processes (torchrun, gloo on CPU), on their datasets' real on-disk layouts
at real sizes (ScanNet exported frames, ImageNet pseudo-depth list):

* ``tools/dist_train.sh configs/pretrain/m3mae_scannet.py 2``;
* ``tools/pretrain_two_stage.sh`` with the two ScanNet M3 3D configs;
* ``tools/pretrain_two_stage.sh`` with ``progressive_stage1_in1k`` and
  ``progressive_stage2_scannet``.

Only data paths (dataset roots and lists, the stage-1 / ImageNet-MAE
checkpoint files), the batch size, the epoch count (one iteration) and the
ViT width/depth are overridden; every pipeline transform runs unchanged.
"""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmpretrain.models import VisionTransformer
from real_layouts.imagenet_pseudo import build_imagenet_pseudo_list
from real_layouts.scannet import build_scannet_frames

from mmrgbd.registry import MODELS
from mmrgbd.utils import safe_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = ['model.backbone.arch._delete_=True',
        'model.backbone.arch.embed_dims=32',
        'model.backbone.arch.num_layers=1', 'model.backbone.arch.num_heads=2',
        'model.backbone.arch.feedforward_channels=64']
TINY_DECODER = ['model.neck.in_channels=32', 'model.neck.embed_dims=32',
                'model.neck.num_layers=1', 'model.neck.num_heads=2']
ONE_ITERATION = ['train_dataloader.batch_size=1', 'train_cfg.max_epochs=1']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def env(work_dir=None, **extra):
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PORT=str(free_port()),
             PYTHON=sys.executable)
    e['PATH'] = osp.dirname(sys.executable) + os.pathsep + e['PATH']
    e['PYTHONPATH'] = ROOT + os.pathsep + e.get('PYTHONPATH', '')
    if work_dir is not None:
        e['WORK_DIR'] = str(work_dir)
    e.update(extra)
    return e


def run(cmd, environ, timeout=900):
    proc = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def log_of(work_dir):
    logs = sorted(glob.glob(osp.join(str(work_dir), '*', '*.log')))
    assert logs, f'no log in {work_dir}'
    with open(logs[-1]) as f:
        return f.read()


def state(path):
    return safe_load(path)['state_dict']


@pytest.fixture(scope='module')
def layouts(tmp_path_factory, samples_dir):
    root = tmp_path_factory.mktemp('layouts')
    scannet = build_scannet_frames(root / 'scannet', samples_dir)
    imagenet = build_imagenet_pseudo_list(root / 'imagenet', samples_dir)
    # an ImageNet-MAE file of the tiny arch, in the layout mae2mmrgbd.py
    # writes (mmpretrain ViT keys with class token and 224-px pos_embed)
    torch.manual_seed(0)
    vit = VisionTransformer(
        arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                  feedforward_channels=64), img_size=224, patch_size=16,
        out_type='raw')
    mae = str(root / 'mae_vit-tiny_mmrgbd.pth')
    torch.save({'state_dict': vit.state_dict(), 'meta': {}}, mae)
    scannet_paths = [
        f"train_dataloader.dataset.data_root={scannet['data_root']}",
        f"train_dataloader.dataset.scene_list={scannet['scene_list']}"
    ]
    imagenet_paths = [
        f"train_dataloader.dataset.data_root={imagenet['data_root']}",
        f"train_dataloader.dataset.ann_file={imagenet['ann_file']}"
    ]
    return dict(scannet=scannet_paths, imagenet=imagenet_paths, mae=mae,
                mae_sd=vit.state_dict())


def test_dist_train_m3mae_scannet_on_two_processes(layouts, tmp_path):
    """tools/dist_train.sh configs/pretrain/m3mae_scannet.py 2."""
    torch.manual_seed(0)
    stage1 = MODELS.build(
        dict(type='M3MAEStage1',
             backbone=dict(
                 type='MultiModalViT',
                 arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                           feedforward_channels=64),
                 img_size=(240, 320), patch_size=16,
                 modalities=dict(rgb=dict(in_channels=3),
                                 depth=dict(in_channels=1)),
                 shared_encoder=False, num_global_tokens=0),
             head=dict(type='PatchContrastHead', in_channels=32)))
    ckpt = str(tmp_path / 'stage1.pth')
    torch.save(dict(meta=dict(seed=np.int64(0)),
                    state_dict=stage1.state_dict()), ckpt)
    work = tmp_path / 'work'
    run(['bash', 'tools/dist_train.sh', 'configs/pretrain/m3mae_scannet.py',
         '2', '--work-dir', str(work), '--cfg-options', *layouts['scannet'],
         *ONE_ITERATION, f'model.stage1_checkpoint={ckpt}', *TINY,
         *TINY_DECODER], env())
    log = log_of(work)
    assert 'Epoch(train) [1][1/1]' in log
    assert 'loss_rgb' in log and 'loss_depth' in log
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert 'student backbone: loaded' in log
    assert osp.isfile(work / 'epoch_1.pth')


def test_two_stage_m3mae_scannet_on_two_processes(layouts, tmp_path):
    """tools/pretrain_two_stage.sh m3mae_stage1_scannet m3mae_scannet 2:
    stage 1 starts the RGB encoder from the ImageNet-MAE file, stage 2
    from stage 1 (through tools/dist_train.sh)."""
    s1 = 'configs/pretrain/m3mae_stage1_scannet.py'
    s2 = 'configs/pretrain/m3mae_scannet.py'
    environ = env(
        tmp_path,
        STAGE1_ARGS='model.backbone.modalities.rgb.init_cfg.checkpoint=' +
        layouts['mae'],
        STAGE2_ARGS=' '.join(TINY_DECODER))
    out = run(['bash', 'tools/pretrain_two_stage.sh', s1, s2, '2',
               '--cfg-options', *layouts['scannet'], *ONE_ITERATION, *TINY],
              environ)
    work1 = tmp_path / 'm3mae_stage1_scannet'
    work2 = tmp_path / 'm3mae_scannet'
    ckpt1 = str(work1 / 'epoch_1.pth')
    # last_checkpoint holds the path relative to the work dir
    assert (work1 / 'last_checkpoint').read_text().strip() == 'epoch_1.pth'
    log1, log2 = log_of(work1), log_of(work2)
    assert 'Epoch(train) [1][1/1]' in log1 and 'loss_patch_nce' in log1
    assert layouts['mae'] in log1  # the MAE init was loaded
    assert 'Epoch(train) [1][1/1]' in log2 and 'loss_depth' in log2
    assert 'student backbone: loaded' in log2 and ckpt1 in log2
    assert f'[two-stage] stage 2: {s2}' in out
    # stage 1 started from the MAE weights (one AdamW step away from them)
    s = state(ckpt1)
    mae = layouts['mae_sd']['layers.0.attn.qkv.weight']
    got = s['backbone.encoders.rgb.layers.0.attn.qkv.weight']
    assert (got - mae).abs().max() < 1e-3 < mae.abs().max()


def test_two_stage_progressive_on_two_processes(layouts, tmp_path):
    """tools/pretrain_two_stage.sh progressive_stage1_in1k
    progressive_stage2_scannet 2 (ImageNet pseudo-depth list, then ScanNet
    frames)."""
    s1 = 'configs/pretrain/progressive_stage1_in1k.py'
    s2 = 'configs/pretrain/progressive_stage2_scannet.py'
    environ = env(
        tmp_path,
        STAGE1_ARGS=' '.join(layouts['imagenet']),
        STAGE2_ARGS=' '.join(layouts['scannet'] + TINY_DECODER))
    out = run(['bash', 'tools/pretrain_two_stage.sh', s1, s2, '2',
               '--cfg-options', *ONE_ITERATION, *TINY], environ)
    work1 = tmp_path / 'progressive_stage1_in1k'
    work2 = tmp_path / 'progressive_stage2_scannet'
    ckpt1 = str(work1 / 'epoch_1.pth')
    log1, log2 = log_of(work1), log_of(work2)
    assert 'Epoch(train) [1][1/1]' in log1 and 'loss_patch_nce' in log1
    assert 'Epoch(train) [1][1/1]' in log2
    for term in ('loss_depth', 'loss_denoise', 'loss_distill'):
        assert term in log2
    assert 'teacher: loaded' in log2 and ckpt1 in log2
    assert f'[two-stage] stage 2: {s2}' in out
    s1_state, s2_state = state(ckpt1), state(str(work2 / 'epoch_1.pth'))
    for k, v in s1_state.items():
        if k.startswith('backbone.') and not k.endswith('pos_embed'):
            torch.testing.assert_close(s2_state['teacher.' + k[9:]], v)
