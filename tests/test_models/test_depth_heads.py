"""DPTHead, DenseDepthHead and StemOutputResNet: shapes, a hand reference of
every stage, losses and predictions through mmseg's DepthEstimator, and a
whole model that learns a real depth map."""
import pytest
import torch
import torch.nn.functional as F

from mmrgbd.models import DenseDepthHead, DPTHead, StemOutputResNet


def _randomise(module, seed=0):
    """Every parameter random (biases too), so no zero init hides a term."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module


def _feats(C, h, w, n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, C, h, w, generator=g) for _ in range(n)]


def _dpt_reference(head, feats):
    """DPT's depth model restated with torch functions and the head's
    weights: reassemble -> 3x3 -> RefineNet fusion -> regression head."""
    rb = head.reassemble_blocks
    out = []
    for i, f in enumerate(feats):
        proj = rb.projects[i].conv
        x = F.conv2d(f, proj.weight, proj.bias)  # 1x1
        r = rb.resize_layers[i]
        if i == 0 or i == 1:  # transposed conv x4 / x2
            x = F.conv_transpose2d(x, r.weight, r.bias, stride=r.stride)
        elif i == 3:  # 3x3 stride 2
            x = F.conv2d(x, r.weight, r.bias, stride=2, padding=1)
        x = F.conv2d(x, head.convs[i].conv.weight, padding=1)  # no bias
        out.append(x)

    def rcu(unit, x):  # pre-activation residual unit (no conv bias)
        y = F.conv2d(F.relu(x), unit.conv1.conv.weight, padding=1)
        y = F.conv2d(F.relu(y), unit.conv2.conv.weight, padding=1)
        return x + y

    def fuse(block, path, skip=None):
        if skip is not None:
            path = path + rcu(block.res_conv_unit1, skip)
        path = rcu(block.res_conv_unit2, path)
        path = F.interpolate(path, scale_factor=2, mode='bilinear',
                             align_corners=True)
        return F.conv2d(path, block.project.conv.weight,
                        block.project.conv.bias)

    path = fuse(head.fusion_blocks[0], out[3])
    for i, skip in zip((1, 2, 3), (out[2], out[1], out[0])):
        path = fuse(head.fusion_blocks[i], path, skip)
    c1, _, c2, _, c3 = head.depth_head
    x = F.conv2d(path, c1.weight, c1.bias, padding=1)
    x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True)
    x = F.relu(F.conv2d(x, c2.weight, c2.bias, padding=1))
    return F.conv2d(x, c3.weight, c3.bias), out


def test_dpt_reassembly_fusion_and_head_by_hand():
    C = 24
    head = _randomise(DPTHead(in_channels=C,
                              post_process_channels=[8, 12, 16, 20],
                              channels=16))
    feats = _feats(C, 4, 6)  # a 64 x 96 input at 16 px patches
    with torch.no_grad():
        ref, reassembled = _dpt_reference(head, feats)
        got = head(feats)
    # reassembly: strides 4, 8, 16, 32 of the input
    sizes = [tuple(r.shape[2:]) for r in reassembled]
    assert sizes == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert got.shape == (2, 1, 64, 96)  # full input resolution
    assert torch.allclose(got, ref, atol=1e-5)
    # the inputs are not modified in place by the heads' activations
    assert torch.equal(feats[0], _feats(C, 4, 6)[0])
    # the coarsest fusion block has no skip unit (no unused parameters)
    assert head.fusion_blocks[0].res_conv_unit1 is None


def test_dpt_shapes_non_square_and_input_checks():
    head = DPTHead(in_channels=16, post_process_channels=[4, 8, 8, 16],
                   channels=8)
    # 256 x 352 (MultiMAE's 341 x 256 test image padded to 16 px)
    assert head(_feats(16, 16, 22)).shape == (2, 1, 256, 352)
    # other backbone outputs are selected with in_index
    head5 = DPTHead(in_channels=16, post_process_channels=[4, 8, 8, 16],
                    channels=8, in_index=(1, 2, 3, 4))
    feats = _feats(16, 4, 4, n=5)
    head5.load_state_dict(head.state_dict())
    assert torch.allclose(head5(feats), head(feats[1:]))
    with pytest.raises(ValueError, match='featmap'):
        head([torch.randn(2, 16, 5)] * 4)  # tokens, not maps
    with pytest.raises(ValueError, match='exactly 4'):
        DPTHead(in_channels=16, post_process_channels=[4, 8, 16])


def test_output_activations_and_config_errors():
    kw = dict(in_channels=8, post_process_channels=[4, 4, 4, 8], channels=8)
    feats = _feats(8, 2, 2)
    linear = _randomise(DPTHead(**kw))
    raw = linear(feats)
    sig = DPTHead(output_activation='sigmoid', max_depth=10., **kw)
    relu = DPTHead(output_activation='relu', min_depth=0.5, **kw)
    sig.load_state_dict(linear.state_dict())
    relu.load_state_dict(linear.state_dict())
    assert torch.allclose(sig(feats), torch.sigmoid(raw) * 10.)
    assert torch.allclose(relu(feats), F.relu(raw) + 0.5)
    assert (raw < 0).any()  # MultiMAE's linear output is not clamped
    with pytest.raises(ValueError, match='max_depth'):
        DPTHead(output_activation='sigmoid', **kw)
    with pytest.raises(ValueError, match='output_activation'):
        DPTHead(output_activation='exp', **kw)
    with pytest.raises(TypeError, match='loss_name'):
        DPTHead(loss_decode=dict(type='mmdet.L1Loss'), **kw)


def test_loss_by_feat_resizes_to_the_ground_truth():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    head = DPTHead(in_channels=8, post_process_channels=[4, 4, 4, 8],
                   channels=8, loss_decode=[
                       dict(type='BerHuLoss'),
                       dict(type='mmseg.SiLogLoss'),
                       dict(type='BerHuLoss', loss_weight=2.)])
    pred = torch.rand(2, 1, 8, 8) + 1
    samples = []
    for i in range(2):
        ds = SegDataSample()
        ds.gt_depth_map = PixelData(data=torch.rand(1, 16, 16) * 3 + 0.5)
        samples.append(ds)
    losses = head.loss_by_feat(pred, samples)
    gt = torch.stack([s.gt_depth_map.data for s in samples])
    up = F.interpolate(pred, size=(16, 16), mode='bilinear',
                       align_corners=False)
    from mmrgbd.models.losses import BerHuLoss
    from mmseg.models.losses import SiLogLoss
    assert set(losses) == {'loss_berhu', 'loss_silog'}
    # two losses with one name are summed
    assert losses['loss_berhu'].item() == pytest.approx(
        3 * BerHuLoss()(up, gt).item(), rel=1e-6)
    assert losses['loss_silog'].item() == pytest.approx(
        SiLogLoss()(up, gt).item(), rel=1e-6)


def _dense_reference(head, feats):
    x = F.conv2d(feats[-1], head.bottleneck.weight, head.bottleneck.bias)
    for block, skip in zip(head.up_blocks, feats[-2::-1]):
        x = F.interpolate(x, size=skip.shape[2:], mode='bilinear',
                          align_corners=True)
        x = torch.cat([x, skip], 1)
        for conv in (block.conv1, block.conv2):
            x = F.conv2d(x, conv.conv.weight, conv.conv.bias, padding=1)
            bn = conv.bn
            x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight,
                             bn.bias, training=False, eps=bn.eps)
            x = F.leaky_relu(x, 0.01)
    x = F.conv2d(x, head.conv_depth.weight, head.conv_depth.bias, padding=1)
    return torch.sigmoid(x) * 80.


def test_stem_resnet_and_densedepth_by_hand():
    from mmdet.models.backbones import ResNet
    kw = dict(depth=18, base_channels=8, stem_channels=8,
              out_indices=(0, 1, 2, 3))
    torch.manual_seed(0)
    ours, mmdet_resnet = StemOutputResNet(**kw), ResNet(**kw)
    ours.eval()  # mmdet's ResNet.train() returns None
    mmdet_resnet.eval()
    # same parameters and buffers by name: mmdet / SimIPU exports load
    assert ours.state_dict().keys() == mmdet_resnet.state_dict().keys()
    mmdet_resnet.load_state_dict(_randomise(ours).state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        feats = ours(x)
        stages = mmdet_resnet(x)
        stem = ours.relu(ours.norm1(ours.conv1(x)))
    assert torch.equal(feats[0], stem)  # the map before the max-pool
    assert [tuple(f.shape) for f in feats] == [
        (1, 8, 32, 48), (1, 8, 16, 24), (1, 16, 8, 12), (1, 32, 4, 6),
        (1, 64, 2, 3)]
    for a, b in zip(feats[1:], stages):
        assert torch.equal(a, b)
    head = _randomise(DenseDepthHead(in_channels=[8, 8, 16, 32, 64],
                                     up_channels=[4, 8, 8, 16, 16]))
    head.eval()
    with torch.no_grad():
        depth = head(feats)
        ref = _dense_reference(head, feats)
    assert depth.shape == (1, 1, 32, 48)  # half the input resolution
    assert torch.allclose(depth, ref, atol=1e-5)
    assert 0 < depth.min() and depth.max() < 80.
    with pytest.raises(ValueError, match='expects 5'):
        head(feats[1:])


def test_depth_estimator_with_dpt_learns_a_real_depth_map(samples_dir):
    """mmseg's DepthEstimator (tiny mmpretrain ViT + DPTHead + BerHuLoss)
    overfits the real NYUv2 frame: the loss falls far below its start and
    the prediction gets delta_1 > 0.9 (a constant at the median depth has
    delta_1 = 0.41 on this frame)."""
    import cv2
    import numpy as np
    from mmengine.config import ConfigDict
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    from mmrgbd.evaluation.depth_metric import depth_error_sums
    demo = samples_dir / 'nyuv2_rcnn_depth_demo' / 'demo-data'
    bgr = cv2.imread(str(demo / 'images.png'))
    depth = cv2.imread(str(demo / 'depth.png'), cv2.IMREAD_UNCHANGED)
    bgr = cv2.resize(bgr, (64, 48), interpolation=cv2.INTER_AREA)
    depth = cv2.resize(depth, (64, 48), interpolation=cv2.INTER_NEAREST)
    img = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float()
    img = ((img - 120.) / 60.)[None]  # (1, 3, 48, 64)
    gt = torch.from_numpy(depth.astype(np.float32) / 1000.)[None]  # metres
    sample = SegDataSample(metainfo=dict(img_shape=(48, 64),
                                         ori_shape=(48, 64)))
    sample.gt_depth_map = PixelData(data=gt)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='DepthEstimator',
        _scope_='mmseg',
        backbone=dict(
            type='mmpretrain.VisionTransformer',
            arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                      feedforward_channels=64),
            img_size=(48, 64), patch_size=16, out_indices=(0, 1, 2, 3),
            out_type='featmap', final_norm=False),
        decode_head=dict(type='mmrgbd.DPTHead', in_channels=32,
                         post_process_channels=[8, 16, 24, 32], channels=16,
                         loss_decode=dict(type='mmrgbd.BerHuLoss')),
        test_cfg=ConfigDict(mode='whole')))
    assert 'output_activation=linear' in repr(model.decode_head)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = model.loss(img, [sample])['decode.loss_berhu']
        first = loss.item() if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < 0.1 * first, (first, loss.item())
    model.eval()
    with torch.no_grad():
        pred = model.predict(img, [sample])[0].pred_depth_map.data
    valid = gt > 0
    sums = depth_error_sums(pred[valid].clamp(min=1e-3).numpy(),
                            gt[valid].numpy())
    d1 = sums[7] / sums[0]
    median = np.full(int(valid.sum()), float(gt[valid].median()))
    const = depth_error_sums(median, gt[valid].numpy())
    assert const[7] / const[0] < 0.5 < 0.9 < d1
