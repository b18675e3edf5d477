# Runtime shared by the mmrgbd configs.
default_scope = 'mmrgbd'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmrgbd's CheckpointHook (AtomicCheckpointHook): atomic saves, RNG
    # states for exact --resume
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

# dist_cfg: tools/train.py switches to gloo when CUDA is absent.
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_processor = dict(window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
# diff_rank_seed: every DDP rank seeds its global generators with seed + rank,
# so noise and dropout differ between ranks (the sampler still shards one
# shared order). Masks are drawn per sample from (seed, iteration, sample
# index), see BaseRGBDSelfSupervisor.generate_mask.
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
