"""Patch embeddings project with one matmul (not the CPU conv kernels)."""
import torch


def test_patch_projection_as_matmul_equals_the_conv():
    """The patch embeddings project with one matmul over flattened patches;
    output and gradients equal the strided conv they replace."""
    import torch.nn.functional as F

    from mmrgbd.models.backbones.patch_embeds import (ImagePatchEmbed,
                                                      SemsegPatchEmbed)
    torch.manual_seed(0)
    img = ImagePatchEmbed(in_channels=3, embed_dims=8, patch_size=4)
    sem = SemsegPatchEmbed(num_classes=5, embed_dims=8, patch_size=8,
                           downsample=2, class_embed_dims=6)
    conv_calls = []
    for m in (img, sem):
        m.projection.register_forward_hook(
            lambda *a: conv_calls.append(1))
    x = torch.randn(2, 3, 8, 12)
    tokens, grid = img(x)
    assert conv_calls == []  # no convolution kernel
    conv = img.projection
    ref = conv(x).flatten(2).transpose(1, 2)  # (B, N, D)
    conv_calls.clear()  # the reference's own call
    assert grid == (2, 3) and torch.allclose(tokens, ref, atol=1e-5)
    g1 = torch.autograd.grad(tokens.square().sum(), conv.weight)[0]
    g2 = torch.autograd.grad(ref.square().sum(), conv.weight)[0]
    assert torch.allclose(g1, g2, atol=1e-4)

    sem.init_weights()
    labels = torch.randint(0, 5, (2, 1, 16, 24))
    labels[0, 0, :4, :4] = 255
    tokens, grid = sem(labels)
    assert conv_calls == []
    lab = labels[:, 0, ::2, ::2].clone()  # (B, 8, 12)
    lab[lab == 255] = 5
    emb = sem.class_embed(lab).permute(0, 3, 1, 2)  # (B, E, 8, 12)
    ref = F.conv2d(emb, sem.projection.weight, sem.projection.bias,
                   stride=4).flatten(2).transpose(1, 2)  # (B, 6, D)
    assert grid == (2, 3) and torch.allclose(tokens, ref, atol=1e-5)
