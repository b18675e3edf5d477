"""No documented path that reads a user-given weight file runs code from it.

Each path gets a file whose unpickling would create a marker file (an object
whose ``__reduce__`` is ``open(marker, 'w')``). The marker must stay absent
and the error must name the file. Paths: export_vit.py, simipu2mmdet3d.py,
visualize_reconstruction.py, ``model.stage1_checkpoint``, ``load_from``,
``--resume``, tools/test.py and ``init_cfg``.
"""
import importlib.util
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.config import Config

from mmrgbd.models.algorithms import Stage1CheckpointError
from mmrgbd.registry import MODELS
from mmrgbd.utils import UnsafeCheckpointError, safe_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')
STAGE2 = osp.join(
    ROOT, 'configs/pretrain/progressive_stage2_vit-tiny_synthetic-demo.py')
TINY = [
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.num_samples=8',
    'test_dataloader.dataset.num_samples=2', 'custom_hooks=[]'
]


class MarkerPayload:
    """Unpickling it creates ``path``: proof that code from a file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def evil(tmp_path):
    """A runner-checkpoint-shaped file carrying the payload."""
    marker = tmp_path / 'marker'
    model = MODELS.build(Config.fromfile(DEMO).model)
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(meta=dict(epoch=0, iter=1, payload=MarkerPayload(marker)),
             state_dict=model.state_dict()), path)
    return dict(path=str(path), marker=marker)


def _run_tool(tool, *args):
    argv = sys.argv
    sys.argv = [tool, *args]
    try:
        runpy.run_path(tool, run_name='__main__')
    finally:
        sys.argv = argv


def _load_module(path):
    spec = importlib.util.spec_from_file_location(osp.basename(path), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_vit(evil, tmp_path, capsys):
    tool = _load_module(osp.join(ROOT, 'tools/model_converters/export_vit.py'))
    with pytest.raises(SystemExit) as e:
        tool.main([evil['path'], str(tmp_path / 'out.pth'), '--target',
                   'mmseg'])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert evil['path'] in err and 'refused' in err
    assert not evil['marker'].exists()


def test_simipu2mmdet3d(evil, tmp_path, capsys):
    tool = _load_module(
        osp.join(ROOT, 'tools/model_converters/simipu2mmdet3d.py'))
    with pytest.raises(SystemExit) as e:
        tool.main([evil['path'], str(tmp_path / 'out')])
    assert e.value.code == 1
    assert evil['path'] in capsys.readouterr().err
    assert not evil['marker'].exists()


def test_visualize_reconstruction(evil, samples_dir, tmp_path):
    demo = samples_dir / 'nyuv2_rcnn_depth_demo/demo-data'
    with pytest.raises(SystemExit, match='refused') as e:
        _run_tool(
            osp.join(ROOT, 'tools/misc/visualize_reconstruction.py'), DEMO,
            evil['path'], '--rgb', str(demo / 'images.png'), '--depth',
            str(demo / 'depth.png'), '--depth-unit', 'mm', '--out',
            str(tmp_path / 'p.png'))
    assert evil['path'] in str(e.value)
    assert not evil['marker'].exists()


def test_stage1_checkpoint(evil):
    cfg = Config.fromfile(STAGE2).model
    cfg.stage1_checkpoint = evil['path']
    with pytest.raises(Stage1CheckpointError, match='refused') as e:
        MODELS.build(cfg)
    assert str(e.value).startswith(evil['path'])
    assert not evil['marker'].exists()


def test_init_cfg(evil):
    cfg = Config.fromfile(DEMO).model
    cfg.init_cfg = dict(type='Pretrained', checkpoint=evil['path'])
    model = MODELS.build(cfg)
    with pytest.raises(UnsafeCheckpointError) as e:
        model.init_weights()
    assert str(e.value).startswith(evil['path'])
    assert not evil['marker'].exists()


@pytest.mark.parametrize('how', ['load_from', 'resume'])
def test_train_load_from_and_resume(evil, tmp_path, how):
    args = ['--resume', evil['path']] if how == 'resume' else []
    options = [f'load_from={evil["path"]}'] if how == 'load_from' else []
    with pytest.raises(UnsafeCheckpointError) as e:
        _run_tool(
            osp.join(ROOT, 'tools/train.py'), DEMO, '--work-dir',
            str(tmp_path / 'w'), *args, '--cfg-options',
            'train_cfg.max_iters=1', *TINY, *options)
    assert str(e.value).startswith(evil['path'])
    assert not evil['marker'].exists()


def test_tools_test(evil, tmp_path):
    with pytest.raises(UnsafeCheckpointError) as e:
        _run_tool(
            osp.join(ROOT, 'tools/test.py'), DEMO, evil['path'],
            '--work-dir', str(tmp_path / 'w'), '--cfg-options', *TINY)
    assert str(e.value).startswith(evil['path'])
    assert not evil['marker'].exists()


def test_resume_never_executes_config_text(tmp_path):
    """MMEngine's resume would exec a checkpoint's ``meta['config']``."""
    work = tmp_path / 'w'
    _run_tool(
        osp.join(ROOT, 'tools/train.py'), DEMO, '--work-dir', str(work),
        '--cfg-options', 'train_cfg.max_iters=1', *TINY)
    ckpt = safe_load(str(work / 'iter_1.pth'))
    marker = tmp_path / 'marker'
    ckpt['meta']['config'] = f'open({str(marker)!r}, "w")\n'
    torch.save(ckpt, work / 'iter_1.pth')  # loads weights-only: plain str
    _run_tool(
        osp.join(ROOT, 'tools/train.py'), DEMO, '--work-dir', str(work),
        '--resume', '--cfg-options', 'train_cfg.max_iters=2', *TINY)
    assert (work / 'iter_2.pth').is_file()
    assert not marker.exists()
