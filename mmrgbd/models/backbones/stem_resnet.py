"""mmdet's ResNet that also returns its stem activation."""
import torch
from mmdet.models.backbones import ResNet

from mmrgbd.registry import MODELS


@MODELS.register_module()
class StemOutputResNet(ResNet):
    """``mmdet.ResNet`` whose outputs start with the stem's stride-2 map.

    U-shaped depth decoders (SimIPU's KITTI baseline, DenseDepth, AdaBins)
    use a skip connection at half resolution: the activation of the stem
    (``conv1``-``norm1``-ReLU, or the deep stem) **before** the max-pool,
    which mmdet's ResNet does not output. Parameters, their names and all
    arguments are mmdet's, so the ``backbone.*`` export of a SimIPU image
    encoder (``tools/model_converters/simipu2mmdet3d.py``) loads unchanged.

    Returns ``(stem, *stage outputs at out_indices)``: for ResNet-50 with
    ``out_indices=(0, 1, 2, 3)`` the maps (B, 64, H/2, W/2), (B, 256, H/4,
    W/4), (B, 512, H/8, W/8), (B, 1024, H/16, W/16), (B, 2048, H/32, W/32).
    """

    def forward(self, x: torch.Tensor) -> tuple:
        """(B, 3, H, W) -> the stem map and the selected stage maps."""
        if self.deep_stem:
            stem = self.stem(x)  # (B, stem_channels, H/2, W/2)
        else:
            stem = self.relu(self.norm1(self.conv1(x)))  # (B, C, H/2, W/2)
        x = self.maxpool(stem)  # (B, C, H/4, W/4)
        outs = [stem]
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
