"""DenseProbeHook logs the dense linear probe during a tiny training run."""
import glob
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from mmrgbd.engine.hooks import DenseProbeHook
from mmrgbd.engine.runner import RGBDRunner
from mmrgbd.evaluation.dense_probe import dense_probe
from mmrgbd.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = ('probe/acc', 'probe/miou', 'probe/rmse', 'probe/delta1')


def _tiny_mask3d_cfg(work_dir):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py'))
    cfg.merge_from_dict({
        'work_dir': str(work_dir),
        'model.backbone.arch': dict(embed_dims=32, num_layers=1, num_heads=2,
                                    feedforward_channels=64),
        'model.neck.in_channels': 32,
        'model.neck.embed_dims': 32,
        'model.neck.num_layers': 1,
        'model.neck.num_heads': 2,
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.num_samples': 8,
        'train_cfg.max_iters': 4,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 4,
    })
    cfg.custom_hooks = [
        dict(type='DenseProbeHook', interval=2, num_train=6, num_test=3)
    ]
    return cfg


def test_hook_logs_probe_scores_in_a_training_run(tmp_path):
    runner = RGBDRunner.from_cfg(_tiny_mask3d_cfg(tmp_path / 'work'))
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, DenseProbeHook))
    # rendered like the model's input: the demo's 96x128 frames, 6x8 patches
    train, test = hook._splits
    assert train.rgb.shape == (6, 3, 96, 128) and test.labels.shape == (3, 48)
    # message hub: one value per probe (before training, iterations 2, 4)
    for key in KEYS:
        values, counts = runner.message_hub.get_scalar(key).data
        assert len(values) == 3 and (counts == 1).all()
    final = {k: runner.message_hub.get_scalar(k).current() for k in KEYS}
    assert 0 < final['probe/acc'] <= 1 and 0 < final['probe/miou'] <= 1
    assert final['probe/rmse'] > 0 and 0 <= final['probe/delta1'] <= 1
    # the same library code on the final weights gives the same numbers
    again = dense_probe(runner.model, train, test, max_iter=500)
    assert {f'probe/{k}': v for k, v in again.items()} == final
    # the logger line and the visualiser's scalars file
    log = open(glob.glob(str(tmp_path / 'work' / '*' / '*.log'))[0]).read()
    assert 'Dense probe at iter 0 (6 + 3 held-out images)' in log
    assert 'Dense probe at iter 2' in log
    assert 'Dense probe at iter 4' in log
    train_lines = [ln for ln in log.splitlines() if 'Iter(train)' in ln]
    assert train_lines and not any('probe' in ln for ln in train_lines)
    scalars = glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' /
                            'scalars.json'))
    records = [json.loads(ln) for ln in open(scalars[0])]
    probes = [r for r in records if 'probe/acc' in r]
    assert [r['step'] for r in probes] == [0, 2, 4]
    assert probes[-1]['probe/miou'] == pytest.approx(final['probe/miou'])


class _Runner(SimpleNamespace):
    """Just what the hook touches."""


def _fake_runner(model, it=0, epoch=0, max_iters=10, max_epochs=3):
    hub = SimpleNamespace(updates=[])
    hub.update_scalar = lambda k, v: hub.updates.append((k, v))
    vis = SimpleNamespace(steps=[])
    vis.add_scalars = lambda d, step: vis.steps.append(step)
    return _Runner(
        model=model, iter=it, epoch=epoch, max_iters=max_iters,
        max_epochs=max_epochs, train_loop=SimpleNamespace(
            max_iters=max_iters, max_epochs=max_epochs),
        message_hub=hub, visualizer=vis,
        logger=SimpleNamespace(info=lambda msg: None))


def _tiny_model():
    cfg = _tiny_mask3d_cfg('/tmp/unused')
    torch.manual_seed(0)
    from mmrgbd.registry import MODELS
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_epoch_schedule_rng_and_argument_checks():
    hook = HOOKS.build(
        dict(type='DenseProbeHook', interval=2, by_epoch=True, num_train=2,
             num_test=1, input_size=(32, 48), patch_size=16))
    runner = _fake_runner(_tiny_model())
    hook.before_train(runner)  # at_start: the initial weights
    assert runner.visualizer.steps == [0]
    for it in range(3):  # iteration hooks do nothing in epoch mode
        runner.iter = it
        hook.after_train_iter(runner, it)
    assert runner.visualizer.steps == [0]
    for epoch in range(3):  # epochs 2 and 3 (the last)
        runner.epoch, runner.iter = epoch, 5 * (epoch + 1)
        torch.manual_seed(1)
        hook.after_train_epoch(runner)
        drawn = torch.rand(3)
        torch.manual_seed(1)
        assert torch.equal(drawn, torch.rand(3))  # training RNG untouched
    assert runner.visualizer.steps == [0, 10, 15]
    assert [k for k, _ in runner.message_hub.updates[:4]] == list(KEYS)
    with pytest.raises(ValueError, match='loss'):
        DenseProbeHook(prefix='loss_probe')
    with pytest.raises(ValueError, match='input_size'):
        DenseProbeHook(num_train=2, num_test=1).probe(
            _fake_runner(_tiny_model()), step=1)
