"""The FSDP recipe (configs/_base_/runtime/fsdp.py) builds a FlexibleRunner
with an FSDPStrategy whose wrap policy shards every transformer block.

FSDP itself needs CUDA (MMEngine's wrapper puts each rank on
cuda:LOCAL_RANK), so no training step runs here."""
from pathlib import Path

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import FUNCTIONS
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mmrgbd.engine.fsdp import transformer_block_wrap_policy

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/pretrain/multimae_vit-tiny_synthetic-demo.py'


def _config(tmp_path):
    path = tmp_path / 'demo_fsdp.py'
    path.write_text(f"_base_ = ['{DEMO}', "
                    f"'{ROOT / 'configs/_base_/runtime/fsdp.py'}']\n")
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    return cfg


def test_fsdp_recipe_builds_a_flexible_runner(tmp_path):
    from mmengine._strategy import FSDPStrategy
    from mmengine.runner import FlexibleRunner

    from mmrgbd.engine.runner import build_runner
    cfg = _config(tmp_path)
    assert cfg.runner_type == 'FlexibleRunner'
    runner = build_runner(cfg)
    assert isinstance(runner, FlexibleRunner)
    assert isinstance(runner.strategy, FSDPStrategy)
    assert runner.strategy.model_wrapper['use_orig_params'] is True
    # the policy is found the way MMFullyShardedDataParallel looks it up
    policy = dict(runner.strategy.model_wrapper['auto_wrap_policy'])
    with FUNCTIONS.switch_scope_and_registry(None) as registry:
        assert registry.get(policy.pop('type')) is \
            transformer_block_wrap_policy
    # ... and selects exactly the blocks of the encoder and the decoders
    model = runner.strategy.build_model(cfg.model)
    blocks = [m for m in model.modules()
              if isinstance(m, TransformerEncoderLayer)]
    wrapped = [m for m in model.modules()
               if transformer_block_wrap_policy(m, False, 0)]
    assert len(blocks) >= 3 and wrapped == blocks
    assert transformer_block_wrap_policy(model, True, 0)  # looks inside
    assert not transformer_block_wrap_policy(nn.Linear(2, 2), False, 0)
