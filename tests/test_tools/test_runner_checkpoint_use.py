"""A real runner checkpoint of the Mask3D demo used downstream: the block
export_vit prints pastes into a real mmpretrain config, and the checkpoint
works as an ``init_cfg`` file."""
import glob
import importlib.util
import os.path as osp
import runpy
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

from mmrgbd.models.utils.export import num_heads_from_checkpoint
from mmrgbd.registry import MODELS
from mmrgbd.utils import safe_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py')


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory):
    """iter_1.pth of the demo (its own model sizes), from tools/train.py."""
    work = tmp_path_factory.mktemp('demo')
    argv, hubs = sys.argv, dict(MessageHub._instance_dict)
    sys.argv = [
        'train.py', DEMO, '--work-dir', str(work), '--cfg-options',
        'train_cfg.max_iters=1', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.num_samples=4', 'custom_hooks=[]',
        f'experiment_name=ckpt_{uuid.uuid4().hex[:8]}'
    ]
    try:
        runpy.run_path(osp.join(ROOT, 'tools/train.py'), run_name='__main__')
    finally:
        sys.argv = argv
        MessageHub._instance_dict.clear()
        MessageHub._instance_dict.update(hubs)
    return str(work / 'iter_1.pth')


def _export_tool():
    path = osp.join(ROOT, 'tools/model_converters/export_vit.py')
    spec = importlib.util.spec_from_file_location('export_vit', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_printed_mmpretrain_block_pastes_into_a_real_config(
        runner_ckpt, tmp_path, capsys):
    dst = str(tmp_path / 'vit_mmpretrain.pth')
    assert _export_tool().main([runner_ckpt, dst, '--target',
                                'mmpretrain']) == 0
    printed = capsys.readouterr().out
    block = printed[printed.index('model = dict('):printed.index(
        '\nsaved ')]
    assert 'num_heads=4' in block and '_delete_=True' in block
    assert 'NOTE' not in block
    # pasted as shown below mmpretrain's ViT-B config (arch='base')
    user_cfg = tmp_path / 'my_vit.py'
    user_cfg.write_text("_base_ = 'mmpretrain::vision_transformer/"
                        "vit-base-p16_32xb128-mae_in1k.py'\n" + block + '\n')
    cfg = Config.fromfile(str(user_cfg))
    assert cfg.model.backbone.arch == dict(
        embed_dims=128, num_layers=4, num_heads=4, feedforward_channels=512)
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    model = PRETRAIN_MODELS.build(dict(cfg.model, _scope_='mmpretrain'))
    model.init_weights()
    model.eval()  # the base config's drop_path_rate=0.1 is for training
    assert model.head.layers.head.in_features == 128
    # the loaded backbone computes exactly the demo's RGB encoder
    ckpt = safe_load(runner_ckpt)
    ours = MODELS.build(Config.fromfile(DEMO).model)
    ours.load_state_dict(ckpt['state_dict'])
    ours.eval()
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = model.backbone(x)[-1]  # (B, C, 6, 8) featmap
        mine = ours.backbone(dict(rgb=x))['tokens']['rgb']  # (B, 48, C)
    torch.testing.assert_close(
        theirs.flatten(2).transpose(1, 2), mine, rtol=1e-5, atol=1e-5)


def test_num_heads_is_read_from_the_config_text_without_running_it(
        runner_ckpt, tmp_path):
    assert num_heads_from_checkpoint(safe_load(runner_ckpt)) == 4
    cfg = "model = dict(backbone=dict(arch='b'))"
    assert num_heads_from_checkpoint(dict(meta=dict(cfg=cfg))) == 12
    assert num_heads_from_checkpoint(dict(state_dict={})) is None
    marker = tmp_path / 'marker'
    code = (f"model = dict(backbone=dict(arch=dict(num_heads=open("
            f"{str(marker)!r}, 'w'))))")
    assert num_heads_from_checkpoint(dict(meta=dict(cfg=code))) is None
    assert not marker.exists()


def test_own_runner_checkpoint_as_init_cfg(runner_ckpt):
    state = safe_load(runner_ckpt)['state_dict']
    # the whole model from the runner checkpoint
    cfg = Config.fromfile(DEMO).model
    cfg.init_cfg = dict(type='Pretrained', checkpoint=runner_ckpt)
    torch.manual_seed(123)
    model = MODELS.build(cfg)
    model.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    # only the backbone: the runner keys carry the 'backbone.' prefix
    cfg = Config.fromfile(DEMO).model
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=runner_ckpt,
                                 prefix='backbone.')
    torch.manual_seed(321)
    model = MODELS.build(cfg)
    model.init_weights()
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, state['backbone.' + k]), k
    assert glob.glob(osp.join(osp.dirname(runner_ckpt), 'last_checkpoint'))
