# FSDP (fully sharded data parallel) through MMEngine's FlexibleRunner.
# Add it AFTER default_runtime.py (or to a full config), e.g.
#   _base_ = ['../pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py',
#             '../_base_/runtime/fsdp.py']
# and launch on GPUs with torchrun: bash tools/dist_train.sh CONFIG 8
# Needs CUDA (MMEngine's FSDP wrapper puts each rank on cuda:LOCAL_RANK);
# it cannot run on a CPU.
# Mixed precision: --amp --cfg-options optim_wrapper.dtype=bfloat16 (bf16
# needs no loss scaler; fp16 would need FSDP's ShardedGradScaler:
# optim_wrapper.use_fsdp=True).
# FlexibleRunner is MMEngine's: mmrgbd's RGBDRunner extras (weights-only
# loading of --load-from / --resume, RNG states in checkpoints) do not apply;
# checkpoints are gathered in full on rank 0 (state_dict_cfg='full').
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        # one FSDP unit per transformer block (encoder and decoders)
        auto_wrap_policy=dict(
            type='mmrgbd.engine.fsdp.transformer_block_wrap_policy'),
        # keep the original parameters: the optimiser constructors
        # (paramwise settings, layer decay) see their names and shapes
        use_orig_params=True),
    # activation checkpointing: the models' own with_cp switches
    # (e.g. model.backbone.with_cp=True), not FSDP's checkpoint wrapper
    state_dict_cfg='full',
)
