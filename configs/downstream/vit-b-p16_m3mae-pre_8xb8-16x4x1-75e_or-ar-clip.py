# M3 3D: OR-AR surgical action recognition, stage 1 of 2 (paper Table 2;
# fine-tuning setting Table 10, OR-AR column; App. B.1: "In the first stage,
# we add a fully connected layer on top of the encoder for predicting
# clip-wise phases"). The UCF-101 recipe (Table 10's other column, same
# mmaction2 Recognizer3D / VideoMAE ViT / layer-decay optimiser) with the
# OR-AR values, mmaction2's RawframeDataset and multi-label (sigmoid BCE)
# clip classification scored by mAP. Stage 2 (Bi-GRU over the clip features
# of whole videos): bigru_m3mae-pre_15e_or-ar.py.
#
# Table 10: AdamW, betas (0.9, 0.95), base lr 6e-4, weight decay 0.05, cosine
# decay, 5 warm-up epochs, 75 epochs, flip, no mixup / cutmix, drop path
# 0.1, dropout 0.0, layer-wise lr decay 0.65. Our choices (projects/m3mae/
# README.md): base lr per 256 clips (1.5e-4 at 8 GPUs x 8 clips), clips of 16
# frames every 4th frame as in pre-training, RandomResizedCrop, 9 classes, no
# label smoothing.
#
# Low-label settings (Table 2: 5 / 10 / 20 / 100 %): a fixed, seeded subset
# of the training videos (mmrgbd.LabelRatioDataset; stage 2 with the same
# label_ratio and seed trains on the same videos):
#   --cfg-options train_dataloader.dataset.label_ratio=0.05
#
# 1. pre-train: configs/pretrain/m3mae_video_orar.py
# 2. python tools/model_converters/export_vit.py \
#        work_dirs/m3mae_video_orar/epoch_1600.pth \
#        checkpoints/m3mae_video-orar_vit-b_rgb_mmaction2.pth \
#        --target mmaction2
# 3. python tools/train.py \
#        configs/downstream/vit-b-p16_m3mae-pre_8xb8-16x4x1-75e_or-ar-clip.py
# 4. stage 2: see bigru_m3mae-pre_15e_or-ar.py
#
# Data (OR-AR is private; the layout we expect, see projects/m3mae/README.md):
#   data/or_ar/<video>/rgb/000001.png ...      RGB frames, 1-based, contiguous
#   data/or_ar/annotations/clips_{train,val,test}.txt
#     one line per clip: "<video> <offset> <num_frames> <label> [<label> ...]"
#     (0-based first frame, frames spanned = 64, the classes active in it)
_base_ = ['./vit-b-p16_m3mae-pre_8xb8-16x4x1-100e_ucf101.py']

pretrained_rgb = 'checkpoints/m3mae_video-orar_vit-b_rgb_mmaction2.pth'
num_classes = 9  # "9 temporal workflow phase labels" (App. A)
model = dict(
    backbone=dict(
        drop_path_rate=0.1, init_cfg=dict(checkpoint=pretrained_rgb)),
    cls_head=dict(
        num_classes=num_classes,
        dropout_ratio=0.0,
        label_smooth_eps=0.0,
        multi_class=True,
        loss_cls=dict(type='BCELossWithLogits'),
        average_clips='score'),
    data_preprocessor=dict(blending=None))

data_root = 'data/or_ar/'
ann_file_train = 'data/or_ar/annotations/clips_train.txt'
ann_file_val = 'data/or_ar/annotations/clips_val.txt'
ann_file_test = 'data/or_ar/annotations/clips_test.txt'
clip_dataset = dict(
    type='RawframeDataset',
    data_prefix=dict(img=data_root),
    filename_tmpl='rgb/{:06d}.png',
    start_index=1,
    with_offset=True,
    multi_class=True,
    num_classes=num_classes)

# the UCF-101 pipelines with frames read from rgb/ instead of a video file
train_pipeline = [
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1),
    dict(type='RawFrameDecode'),
] + _base_.train_pipeline[3:]
test_pipeline = [
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1,
         test_mode=True),
    dict(type='RawFrameDecode'),
] + _base_.val_pipeline[3:]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmrgbd.LabelRatioDataset',
        label_ratio=1.0,  # 0.05 / 0.1 / 0.2 for Table 2's low-label columns
        seed=0,
        dataset=dict(
            clip_dataset, ann_file=ann_file_train,
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(
        clip_dataset, _delete_=True, ann_file=ann_file_val,
        pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=_base_.batch_per_gpu,
    dataset=dict(
        clip_dataset, _delete_=True, ann_file=ann_file_test,
        pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(
    _delete_=True, type='AccMetric',
    metric_list=('mean_average_precision', ))
test_evaluator = val_evaluator

max_epochs, warmup_epochs = 75, 5
train_cfg = dict(max_epochs=max_epochs)
base_lr = 6e-4  # Table 10 "base learning rate": per 256 clips
lr = base_lr * _base_.num_gpus * _base_.batch_per_gpu / 256
optim_wrapper = dict(
    optimizer=dict(lr=lr), paramwise_cfg=dict(decay_rate=0.65))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=_base_.min_lr / lr, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
