"""configs/pretrain/mask3d_vit-b_own-rgbd-frames.py (RGBDListDataset on your
own frames) as shipped: its own pipeline on a list of the real NYUv2 frame
(560x425, uint16 mm), two samples and one training step (ViT-B shrunk)."""
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mmrgbd.registry import DATASETS, MODELS
from mmrgbd.utils import register_all_modules

register_all_modules()

CONFIG = 'configs/pretrain/mask3d_vit-b_own-rgbd-frames.py'


def test_own_frames_config_trains_on_a_real_frame_list(samples_dir,
                                                       tmp_path):
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(str(root / CONFIG))
    demo = samples_dir / 'nyuv2_rcnn_depth_demo/demo-data'
    # the documented list format, relative to data_root, with a comment
    (tmp_path / 'train.txt').write_text(
        '# rgb depth\nimages.png depth.png\nimages.png rawdepth.png\n')
    dataset_cfg = cfg.train_dataloader.dataset
    assert dataset_cfg.type == 'RGBDListDataset'
    assert dataset_cfg.depth_unit == 'mm'
    dataset_cfg.ann_file = str(tmp_path / 'train.txt')
    dataset_cfg.data_root = str(demo)
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 2
    samples = [dataset[0], dataset[1]]
    depth = samples[1]['inputs']['depth']
    assert tuple(depth.shape) == (1, 240, 320)  # the Mask3D input size
    # rawdepth has holes: they stay invalid (0) after the resize
    valid = samples[1]['data_samples'].metainfo
    assert samples[1]['inputs']['depth_valid'].float().mean() < 0.95
    assert valid['depth_unit'] == 'mm'

    model_cfg = cfg.model
    model_cfg.backbone.arch = dict(embed_dims=32, num_layers=1, num_heads=2,
                                   feedforward_channels=64)
    model_cfg.neck.update(in_channels=32, embed_dims=32, num_layers=1,
                          num_heads=2)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = [p.detach().clone() for p in model.parameters()]
    log = model.train_step(pseudo_collate(samples), optim)
    assert torch.isfinite(log['loss']) and log['loss'] > 0
    # accumulative_counts=2: the first step only accumulates; the second
    # updates
    model.train_step(pseudo_collate(samples), optim)
    changed = sum(not torch.equal(a, p)
                  for a, p in zip(before, model.parameters()))
    assert changed > 0
