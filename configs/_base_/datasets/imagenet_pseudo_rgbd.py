# ImageNet-1K with pseudo labels for MultiMAE: per image an RGB JPEG, a
# pseudo depth map (a monocular depth network's output saved as a 16-bit PNG
# that uses the full uint16 range, tools/misc/pseudo_label.py) and a pseudo
# semantic map (a segmentation network's output, 8-bit PNG), listed as
# "rgb depth semseg" lines in data/imagenet_pseudo/train.txt (see
# projects/multimae/README.md). The pseudo depth is only defined up to an
# affine map; it is robust-standardised per image (NormalizeDepth 'robust'),
# so its stored scale does not matter. 'mm' reads the uint16 values / 1000.
dataset_type = 'RGBDListDataset'
data_root = 'data/imagenet_pseudo/'
# semseg pseudo labels: 133 COCO panoptic classes (model.num_classes); ids
# outside [0, 133) other than 255 raise a BadSampleError naming the file.
semseg_num_classes = 133

train_pipeline = [
    dict(
        type='LoadRGBDFromFiles',
        depth_unit='mm',
        with_semseg=True,
        num_classes=semseg_num_classes),
    dict(
        type='RGBDRandomResizedCrop',
        size=224,
        scale=(0.2, 1.0),
        ratio=(0.75, 1.3333),
        # RGB: PIL's bicubic, as the official MultiMAE code (PIL resize with
        # its default filter); depth and semseg: nearest
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RGBDRandomFlip', prob=0.5),
    dict(type='NormalizeDepth', mode='robust', trunc=0.1),
    dict(type='PackRGBDInputs'),
]

train_dataloader = dict(
    batch_size=256,  # x 8 GPUs = 2048
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        depth_unit='mm',
        depth_source='pseudo',
        pipeline=train_pipeline),
)
