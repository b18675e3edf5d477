# ScanNet 2D instance segmentation / detection (Pri3D's protocol, followed
# by Mask3D Tables 2-3 and Progressive Table 5) on mmdet's unmodified
# detectron2-aligned "1x" recipe (mmdet::common/ms-poly-90k_coco-instance:
# short side 640-800 multi-scale training, 800 x 1333 test, polygon masks,
# 90k iterations, lr x0.1 at 60k and 80k, 1000-iteration warm-up, SGD
# momentum 0.9, weight decay 1e-4, 16 images per iteration = 8 GPUs x 2)
# with Pri3D's ScanNet learning rate 0.0025 (its mask_rcnn_R_50_FPN_ScanNet
# .yaml).
#
# Data: the ScanNet 2D benchmark frames (scannet_frames_25k: ~every 100th
# frame, 640x480, split by the official scannetv2_{train,val}.txt scenes;
# Mask3D: "20,000 train images and 5,000 validation images") converted to
# COCO JSON by
# tools/dataset_converters/scannet_instances_to_coco.py (18 classes: the
# 20 ScanNet classes without wall and floor; instances >= 1000 pixels):
#   data/scannet_frames_25k/<scene>/{color,label,instance}/<frame>.*
#   data/scannet_frames_25k/scannet_{train,val}.coco.json
# Evaluation: mmdet's CocoMetric, bbox AP (detection, Mask3D Table 2) and
# segm AP (instance segmentation, Mask3D Table 3, Progressive Table 5) with
# AP50 / AP75.
_base_ = 'mmdet::common/ms-poly-90k_coco-instance.py'

data_root = 'data/scannet_frames_25k/'
metainfo = dict(
    classes=('cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window',
             'bookshelf', 'picture', 'counter', 'desk', 'curtain',
             'refrigerator', 'shower curtain', 'toilet', 'sink', 'bathtub',
             'otherfurniture'))

train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='scannet_train.coco.json',
        data_prefix=dict(img='')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='scannet_val.coco.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'scannet_val.coco.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=0.0025))
auto_scale_lr = dict(enable=False, base_batch_size=16)

# mmrgbd's CheckpointHook: atomic saves whose message hub loads
# weights-only (tools/test.py, --resume); mmengine's would be refused
default_hooks = dict(checkpoint=dict(type='mmrgbd.CheckpointHook'))
