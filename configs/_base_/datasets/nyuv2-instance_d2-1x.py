# NYUv2 2D instance segmentation / detection (Pri3D's protocol, followed by
# Mask3D Tables 4 and 6) on mmdet's unmodified detectron2-aligned "1x"
# recipe (mmdet::common/ms-poly-90k_coco-instance: short side 640-800
# multi-scale training, 800 x 1333 test, polygon masks, 90k iterations, lr
# x0.1 at 60k and 80k, 1000-iteration warm-up, SGD momentum 0.9, weight
# decay 1e-4) with Pri3D's NYUv2 settings (mask_rcnn_R_50_FPN_NYU.yaml):
# lr 0.0025 and 2 images per iteration (IMS_PER_BATCH 2: one GPU x 2),
# evaluation every 5000 iterations.
#
# Data: the 795 / 654 labelled frames in the PNG layout of
# tools/dataset_converters/nyuv2_mat_to_png.py (rgb/, label13/, instance/,
# train.txt, test.txt) converted to COCO JSON by
# tools/dataset_converters/scannet_instances_to_coco.py --dataset nyuv2
# (9 classes: the 13 NYUv2 classes without ceiling, floor, wall and
# objects; instances >= 1000 pixels):
#   data/nyuv2/nyuv2_{train,test}.coco.json
# Evaluation: mmdet's CocoMetric, bbox AP (detection, Mask3D Table 6) and
# segm AP (instance segmentation, Mask3D Table 4) with AP50 / AP75.
_base_ = 'mmdet::common/ms-poly-90k_coco-instance.py'

data_root = 'data/nyuv2/'
metainfo = dict(
    classes=('bed', 'books', 'chair', 'furniture', 'picture', 'sofa',
             'table', 'tv', 'window'))

train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='nyuv2_train.coco.json',
        data_prefix=dict(img='')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='nyuv2_test.coco.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'nyuv2_test.coco.json')
test_evaluator = val_evaluator

train_cfg = dict(val_interval=5000)
# mmrgbd's CheckpointHook: atomic saves whose message hub loads
# weights-only (tools/test.py, --resume); mmengine's would be refused
default_hooks = dict(
    checkpoint=dict(type='mmrgbd.CheckpointHook', interval=5000))
optim_wrapper = dict(optimizer=dict(lr=0.0025))
auto_scale_lr = dict(enable=False, base_batch_size=2)
