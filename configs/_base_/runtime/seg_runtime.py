# Runtime of the mmrgbd segmentation fine-tuning configs: mmseg's runtime
# (default_scope 'mmseg', SegLocalVisualizer) with epoch-based loops, as the
# papers state their schedules in epochs. The configs set train_cfg
# (max_epochs, val_interval) and param_scheduler.
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['mmrgbd'], allow_failed_imports=False)

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmrgbd's: atomic saves whose message hub is stored as plain tensors,
    # so that tools/test.py (weights-only loading) reads the checkpoints;
    # MMEngine's would pickle HistoryBuffer objects, which are refused
    checkpoint=dict(
        type='mmrgbd.CheckpointHook',
        by_epoch=True,
        interval=10,
        max_keep_ckpts=2,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=True)
randomness = dict(seed=0)
