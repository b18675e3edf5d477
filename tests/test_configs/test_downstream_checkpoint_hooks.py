"""Every downstream config saves with mmrgbd's CheckpointHook, whose files
``tools/test.py`` loads weights-only (MMEngine's hook pickles HistoryBuffer
objects, which the safe loader refuses: the fine-tuned checkpoint could not
be tested). Resolved the way the runner builds the hook: through the config's
default scope."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import HOOKS

from mmrgbd.engine.hooks.checkpoint_hook import AtomicCheckpointHook

CONFIGS = sorted((Path(__file__).resolve().parents[2] / 'configs' /
                  'downstream').glob('*.py'))


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.stem)
def test_checkpoint_hook_is_mmrgbds(config):
    cfg = Config.fromfile(str(config))
    hook = cfg.default_hooks.checkpoint
    with HOOKS.switch_scope_and_registry(cfg.get('default_scope')) as reg:
        assert issubclass(reg.get(hook.type), AtomicCheckpointHook), \
            f'{config.name}: {hook.type} in scope {cfg.get("default_scope")}'
