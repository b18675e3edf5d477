"""SimpleFeaturePyramid: ViTDet's pyramid from the last ViT map."""
import pytest
import torch
import torch.nn.functional as F

from mmrgbd.models.necks import SimpleFeaturePyramid
from mmrgbd.registry import MODELS, build_in_scope


def build(**kwargs):
    torch.manual_seed(0)
    neck = build_in_scope(
        MODELS,
        dict(type='SimpleFeaturePyramid', in_channels=32, out_channels=8,
             **kwargs))
    assert isinstance(neck, SimpleFeaturePyramid)
    neck.init_weights()
    return neck.eval()


@pytest.mark.parametrize('hw', [(50, 68), (13, 7)])
def test_shapes_and_strides(hw):
    """Strides 4, 8, 16, 32, 64 of the input for a stride-16 ViT map; odd
    sizes round up at the max-pools as mmdet's FPN / anchors expect."""
    neck = build()
    h, w = hw
    x = torch.randn(2, 32, h, w)
    outs = neck([torch.randn(2, 32, 1, 1), x])  # only the last map is used
    assert [tuple(o.shape) for o in outs] == [
        (2, 8, 4 * h, 4 * w), (2, 8, 2 * h, 2 * w), (2, 8, h, w),
        (2, 8, h // 2, w // 2),
        (2, 8, -(-(h // 2) // 2), -(-(w // 2) // 2))]
    # an 800 x 1088 image (16 px patches: 50 x 68 tokens) gives the map
    # sizes of the strides 4..64 of mmdet's AnchorGenerator
    if hw == (50, 68):
        assert [o.shape[-2:] for o in outs] == [
            (800 // s, 1088 // s) for s in (4, 8, 16, 32)] + [(13, 17)]


def test_levels_by_hand():
    """Each level is rescale -> 1x1 conv -> LN -> 3x3 conv -> LN; the extra
    level max-pools the coarsest one with stride 2."""
    neck = build()
    x = torch.randn(1, 32, 6, 10)

    def ln(y, norm):  # LayerNorm over channels at every pixel
        y = y.permute(0, 2, 3, 1)
        y = F.layer_norm(y, (y.shape[-1], ), norm.weight, norm.bias,
                         norm.eps)
        return y.permute(0, 3, 1, 2)

    def tail(y, i):
        lat, out = neck.lateral_convs[i], neck.output_convs[i]
        y = ln(F.conv2d(y, lat[0].weight), lat[1])
        return ln(F.conv2d(y, out[0].weight, padding=1), out[1])

    up4 = neck.rescales[0]
    y4 = F.conv_transpose2d(x, up4[0].weight, up4[0].bias, stride=2)
    y4 = F.conv_transpose2d(F.gelu(ln(y4, up4[1])), up4[3].weight,
                            up4[3].bias, stride=2)
    y2 = F.conv_transpose2d(x, neck.rescales[1].weight,
                            neck.rescales[1].bias, stride=2)
    expected = [tail(y4, 0), tail(y2, 1), tail(x, 2),
                tail(F.max_pool2d(x, 2), 3)]
    expected.append(expected[-1][..., ::2, ::2])
    with torch.no_grad():
        outs = neck([x])
    for got, want in zip(outs, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # ViTDet initialisation: LN (1, 0), convs without bias
    assert all(c[0].bias is None for c in neck.lateral_convs)
    assert torch.equal(neck.output_convs[0][1].weight, torch.ones(8))


def test_gradients_reach_the_input():
    neck = build().train()
    x = torch.randn(1, 32, 4, 4, requires_grad=True)
    sum(o.square().mean() for o in neck([x])).backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in neck.parameters())


def test_options_and_errors():
    outs = build(scale_factors=(2.0, 1.0), num_outs=2)(
        [torch.randn(1, 32, 4, 4)])
    assert [o.shape[-1] for o in outs] == [8, 4]
    with pytest.raises(ValueError, match='subset of'):
        build(scale_factors=(3.0, ))
    with pytest.raises(ValueError, match='fine to coarse'):
        build(scale_factors=(1.0, 2.0))
    with pytest.raises(ValueError, match='num_outs must be 4 or 5'):
        build(num_outs=3)
    with pytest.raises(ValueError, match=r'expected a \(B, 32, h, w\)'):
        build()([torch.randn(1, 16, 4, 4)])
