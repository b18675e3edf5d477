"""The guard: every shipped config runs as shipped on real-format data.

Every ``configs/pretrain/**.py`` and ``configs/downstream/**.py`` (found on
disk) is run the way ``tools/train.py`` runs it -- ``Config.fromfile``,
``setup_distributed_for_device``, ``build_runner``, ``runner.train()`` --
from a temporary folder in which ``tests/real_layouts`` have arranged its
dataset where the config looks for it (``data/...``), in the dataset's real
on-disk format and at its real sizes (built from ``../shared/samples``).
Every relative path of the config (``data_root``, ``ann_file``, scene lists,
evaluator files, ``checkpoints/*.pth`` of ``Pretrained`` inits, a stage-2
``model.stage1_checkpoint`` under ``work_dirs/``) resolves as it does for a
user running from the repository root.

The config is changed in these ways only, the same for every config:

* batch size 2, ``num_workers=0`` (no ``persistent_workers``): one process;
* one training iteration (``max_iters=1`` / ``max_epochs=1`` on a training
  set of two samples; ``SyntheticRGBDScenes`` gets ``num_samples=2``, and a
  shared layout with more samples is capped by the entry's
  ``train_samples``); validation inside the training loop is moved after it;
* the model's width and depth, by the entry's ``shrink``.

The data pipelines are never touched. Files named by ``Pretrained``
``init_cfg`` are written (weights of the shrunk module plus noise) and must
be loaded; a stage-2 config runs on the checkpoint its stage-1 config's
guard run wrote. After the iteration: the batch held two samples, the
losses are finite, trainable weights changed; then one val / test step runs
on the config's own val / test data and its evaluator computes its metrics
(unless the entry says why it cannot).

A config without an entry in ``tests/real_layouts/registry.py`` FAILS: a
config that is not in the guard does not ship (see CONTRIBUTING.md).
"""
import contextlib
import copy
import functools
import math
import os
import os.path as osp
import time
import types
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from real_layouts import registry

from mmrgbd.engine.hooks.checkpoint_hook import find_resume_checkpoint
from mmrgbd.engine.runner import build_runner, setup_distributed_for_device

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs'


def shipped_configs():
    """Every config under configs/pretrain and configs/downstream."""
    found = []
    for sub in ('pretrain', 'downstream'):
        for path in sorted((CONFIG_DIR / sub).rglob('*.py')):
            rel = path.relative_to(CONFIG_DIR)
            if '_base_' not in rel.parts:
                found.append(rel.as_posix())
    return found


SHIPPED = shipped_configs()

HOW_TO_ADD = (
    '{name} is not in the guard, so it does not ship. Add one entry for it '
    "to CONFIGS in tests/real_layouts/registry.py, e.g.\n    '{name}': "
    "Guard('<layout>', <shrink function>),\nwhere <layout> is a key of "
    'LAYOUTS (a builder in tests/real_layouts/<dataset>.py writing the '
    "dataset where the config's data_root points, in its real format; add "
    'one for a new dataset) and the shrink function makes the model small '
    'in width / depth only. See CONTRIBUTING.md, "Every config runs in the '
    'guard".')

#: log keys each mmrgbd algorithm (and the detector of the Mask R-CNN
#: configs) must report (besides ``loss``); these models' backbones must train
EXPECTED_LOG_KEYS = {
    'Mask3D': {'loss_depth'},
    'M3MAEStage1': {'loss_patch_nce'},
    'ProgressiveStage1': {'loss_patch_nce'},
    'M3MAE': {'loss_rgb', 'loss_depth'},
    'M3MAEVideo': {'loss_rgb', 'loss_depth', 'loss_patch_nce', 'loss_match',
                   'acc_match'},
    'ProgressiveStage2': {'loss_depth', 'loss_denoise', 'loss_distill'},
    'SimIPU': {'loss_intra', 'loss_inter', 'acc_intra', 'acc_inter'},
    'MaskRCNN': {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox',
                 'loss_mask'},
}


def expected_log_keys(cfg):
    if cfg.model.type == 'MultiMAE':
        return {f'loss_{k}' for k in cfg.model.decoders}
    return EXPECTED_LOG_KEYS.get(cfg.model.type, set())


# ----------------------------------------------------------------------- #
# what the guard changes in a config
# ----------------------------------------------------------------------- #
def datasets_of(ds_cfg):
    """The dataset config and those it wraps (Concat / Repeat datasets)."""
    yield ds_cfg
    for sub in ds_cfg.get('datasets', []):
        yield from datasets_of(sub)
    if isinstance(ds_cfg.get('dataset'), dict):
        yield from datasets_of(ds_cfg.dataset)


def apply_guard_overrides(cfg, name, entry):
    """Batch 2, one process, one iteration, the shrunk model (in place)."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not loader:
            continue
        loader.num_workers = 0
        loader.persistent_workers = False
        for ds in datasets_of(loader.dataset):
            if ds.get('type') == 'SyntheticRGBDScenes':
                ds.num_samples = 2
    cfg.train_dataloader.batch_size = 2
    if entry.train_samples is not None:
        # the wrapped dataset of a wrapper (e.g. LabelRatioDataset)
        *_, leaf = datasets_of(cfg.train_dataloader.dataset)
        leaf.indices = entry.train_samples
    loop = cfg.train_cfg
    if 'max_iters' in loop:
        loop.max_iters = 1
    else:
        loop.max_epochs = 1
    loop.val_begin = 2  # the val step runs after training, see run_eval_step
    entry.shrink(cfg.model)
    cfg.launcher = 'none'
    cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(name))[0])


def pipelines_of(cfg):
    """The pipelines of every dataset of the train / val / test loaders."""
    return {
        key: [ds.get('pipeline') for ds in datasets_of(cfg[key].dataset)]
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
        if cfg.get(key)
    }


# ----------------------------------------------------------------------- #
# Pretrained init files
# ----------------------------------------------------------------------- #
def pretrained_inits(node, path=()):
    """``(path, init_cfg)`` of every ``Pretrained`` init_cfg in a model
    config (``path`` = keys from ``model`` to the dict holding it)."""
    if not isinstance(node, dict):
        return
    init = node.get('init_cfg')
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        yield path, init
    for key, value in node.items():
        if key != 'init_cfg':
            yield from pretrained_inits(value, path + (key, ))


def module_at(model, path):
    """The module built from the model config at ``path``
    (MultiModalViT builds ``modalities.<m>`` as ``encoders[<m>]``)."""
    module, i = model, 0
    while i < len(path):
        if path[i] == 'modalities' and hasattr(module, 'encoders'):
            module, i = module.encoders[path[i + 1]], i + 2
        else:
            module, i = getattr(module, path[i]), i + 1
    return module


def write_pretrained_files(model, cfg, init_keys=None):
    """Write each ``Pretrained`` file the config names: the shrunk module's
    state dict with seeded noise on its trainable parameters (fixed ones,
    e.g. a sin-cos position embedding, may be kept by the model), under the
    init's ``prefix``. A model-level init (a detector's ``init_cfg``) gets
    the weights under ``init_keys`` only, as the exporter writes them (the
    rest of the model keeps its own initialisation).

    Returns:
        list[tuple[str, nn.Module, dict]]: file, module and the parameters
        it must hold after ``init_weights``.
    """
    expected = []
    g = torch.Generator().manual_seed(0)
    for path, init in pretrained_inits(cfg.model):
        ckpt = init.checkpoint
        assert '://' not in ckpt, f'{ckpt}: the guard cannot fetch weights'
        module = module_at(model, path)
        keep = init_keys if not path and init_keys else ''
        params = {k: (p.detach() + 0.02 * torch.randn(
            p.shape, generator=g, dtype=p.dtype))
                  for k, p in module.named_parameters()
                  if p.requires_grad and k.startswith(keep)}
        state = {k: params.get(k, v.clone())
                 for k, v in module.state_dict().items() if k.startswith(keep)}
        prefix = init.get('prefix') or ''
        os.makedirs(osp.dirname(ckpt) or '.', exist_ok=True)
        torch.save({'state_dict': {prefix + k: v for k, v in state.items()}},
                   ckpt)
        expected.append((ckpt, module, params))
    return expected


class GuardProbe(Hook):
    """Records what the one training iteration did."""

    priority = 'LOWEST'

    def __init__(self, pretrained):
        self.pretrained = pretrained
        self.not_loaded = []
        self.batch_sizes = []
        self.logs = []
        self.teacher_training = []
        self.before = {}
        self.changed = []

    def before_train(self, runner):
        for ckpt, module, params in self.pretrained:
            now = dict(module.named_parameters())
            self.not_loaded += [f'{ckpt}: {k}' for k, v in params.items()
                                if not torch.equal(now[k], v)]
        self.before = {n: p.detach().clone()
                       for n, p in runner.model.named_parameters()
                       if p.requires_grad}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.batch_sizes.append(len(data_batch['data_samples']))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.logs.append({k: float(v) for k, v in outputs.items()})
        teacher = getattr(runner.model, 'teacher', None)
        if isinstance(teacher, torch.nn.Module):
            self.teacher_training.append(teacher.training)

    def after_train(self, runner):
        params = dict(runner.model.named_parameters())
        self.changed = [n for n, before in self.before.items()
                        if not torch.equal(params[n], before)]
        self.before, self.pretrained = {}, []  # the session keeps the probe


def run_eval_step(runner, kind, entry):
    """The val / test loop's data (one or two samples in the layouts)
    through the model and its evaluator."""
    loop = runner.val_loop if kind == 'val' else runner.test_loop
    model = runner.model
    model.eval()
    num_outputs = 0
    for batch in loop.dataloader:
        with torch.no_grad():
            outputs = model.val_step(batch) if kind == 'val' else \
                model.test_step(batch)
        num_outputs += len(outputs)
        loop.evaluator.process(data_samples=outputs, data_batch=batch)
    size = len(loop.dataloader.dataset)
    result = dict(kind=kind, num_outputs=num_outputs, dataset_size=size,
                  metrics=None)
    if entry.no_metric is None:
        result['metrics'] = loop.evaluator.evaluate(size)
    return result


# ----------------------------------------------------------------------- #
# the session: layouts built once, each config run once
# ----------------------------------------------------------------------- #
class GuardSession:
    """Builds layouts lazily under one root and runs each config once."""

    def __init__(self, root: Path, samples_dir: Path):
        self.root = root
        self.samples_dir = samples_dir
        self.layouts = {}
        self.results = {}

    def layout(self, name):
        if name not in self.layouts:
            self.layouts[name] = registry.LAYOUTS[name](
                self.root / 'data', self.samples_dir)
        return self.layouts[name]

    @staticmethod
    def config_path(name):
        return str(CONFIG_DIR / name)

    def run(self, name):
        if name not in self.results:
            try:
                self.results[name] = self._run(name)
            except BaseException as e:  # noqa: B902 (re-raised below)
                self.results[name] = e
        result = self.results[name]
        if isinstance(result, BaseException):
            raise result
        return result

    def _run(self, name):
        entry = registry.CONFIGS[name]
        start = time.perf_counter()
        if entry.layout is not None:
            self.layout(entry.layout)
        cfg = Config.fromfile(str(CONFIG_DIR / name))
        shipped_pipelines = copy.deepcopy(pipelines_of(cfg))
        apply_guard_overrides(cfg, name, entry)
        with contextlib.chdir(self.root):
            if entry.stage1 is not None:
                stage1 = self.run(entry.stage1)
                target = cfg.model.stage1_checkpoint
                os.makedirs(osp.dirname(target), exist_ok=True)
                if osp.lexists(target):
                    os.remove(target)
                os.symlink(osp.abspath(stage1['checkpoint']), target)
            if entry.prepare is not None:
                entry.prepare(self, cfg)
            setup_distributed_for_device(cfg, cfg.launcher)
            runner = build_runner(cfg)
            probe = GuardProbe(
                write_pretrained_files(runner.model, cfg, entry.init_keys))
            runner.register_hook(probe)
            runner.train()
            iterations = runner.iter
            checkpoint = find_resume_checkpoint(cfg.work_dir)
            evals = []
            if runner.val_loop is not None:
                evals.append(run_eval_step(runner, 'val', entry))
            same = (cfg.get('test_dataloader') == cfg.get('val_dataloader')
                    and cfg.get('test_evaluator') == cfg.get('val_evaluator'))
            if cfg.get('test_dataloader') and not same:
                evals.append(run_eval_step(runner, 'test', entry))
        return dict(cfg=cfg, pipelines=pipelines_of(cfg),
                    shipped_pipelines=shipped_pipelines, probe=probe,
                    iterations=iterations, evals=evals,
                    checkpoint=checkpoint and osp.join(self.root, checkpoint),
                    seconds=time.perf_counter() - start)


@pytest.fixture(scope='module')
def guard(tmp_path_factory, samples_dir):
    """The session's guard runs. Two MMEngine costs that change nothing
    in a run are cut: it prints and dumps every config through yapf
    (``Config.pretty_text``), which took ~6 s per call for the mmdet3d
    configs on this machine (the text is left unformatted, still valid
    Python); and every ``mmseg::`` / ``mmdet3d::`` base re-reads all
    metafiles of its package (~1.5 s), so the files it reads are cached;
    and every dataset build runs a full ``gc.collect()`` (to free its
    serialised list, ~1 s in a long test session), which is skipped."""
    from mmengine.config import utils as config_utils
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr('mmengine.config.config.FormatCode',
                   lambda text, **kwargs: (text, False))
        mp.setattr(config_utils, 'load', functools.lru_cache(
            config_utils.load))
        mp.setattr('mmengine.dataset.base_dataset.gc',
                   types.SimpleNamespace(collect=lambda *args: 0))
        yield GuardSession(tmp_path_factory.mktemp('guard'), samples_dir)


# ----------------------------------------------------------------------- #
# the tests
# ----------------------------------------------------------------------- #
def test_the_guard_finds_the_shipped_configs():
    """The parametrisation comes from the disk, and no entry is stale."""
    assert len(SHIPPED) >= 31
    assert 'pretrain/mask3d_vit-b_scannet.py' in SHIPPED
    assert 'downstream/fcos3d_simipu-r50_nus.py' in SHIPPED
    stale = sorted(set(registry.CONFIGS) - set(SHIPPED))
    assert not stale, f'registry entries without a config file: {stale}'
    for name, entry in registry.CONFIGS.items():
        assert entry.layout is None or entry.layout in registry.LAYOUTS, name
        assert entry.stage1 is None or entry.stage1 in registry.CONFIGS, name


@pytest.mark.parametrize('name', SHIPPED)
def test_config_trains_on_its_real_layout(name, guard):
    if name not in registry.CONFIGS:
        pytest.fail(HOW_TO_ADD.format(name=name))
    entry = registry.CONFIGS[name]
    result = guard.run(name)
    cfg, probe = result['cfg'], result['probe']
    print(f'{name}: {result["seconds"]:.1f} s')
    # the pipelines ran as written (the guard overrides touch no transform)
    assert result['pipelines'] == result['shipped_pipelines']
    assert not probe.not_loaded, probe.not_loaded[:5]
    assert result['iterations'] == 1
    assert probe.batch_sizes == [2]
    (log, ) = probe.logs
    assert 'loss' in log and all(math.isfinite(v) for v in log.values()), log
    assert expected_log_keys(cfg) <= set(log), sorted(log)
    assert probe.changed, 'no trainable weight changed'
    if cfg.model.type in EXPECTED_LOG_KEYS or cfg.model.type == 'MultiMAE':
        prefix = 'img_backbone.' if cfg.model.type == 'SimIPU' \
            else 'backbone.'
        assert any(n.startswith(prefix) for n in probe.changed)
    assert not any(probe.teacher_training)  # a frozen teacher stays eval
    for ev in result['evals']:
        assert ev['num_outputs'] == ev['dataset_size'] >= 1, ev
        if entry.no_metric is None:
            metrics = ev['metrics']
            assert metrics, ev
            assert all(math.isfinite(float(v)) for v in metrics.values()
                       if isinstance(v, (int, float))), metrics
