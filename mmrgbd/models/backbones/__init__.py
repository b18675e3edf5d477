from .multimodal_vit import (ModalityStem, MultiModalViT,  # noqa: F401
                             ViTEncoder, mmpretrain_to_mmrgbd,
                             mmrgbd_to_mmpretrain)
from .patch_embeds import (ImagePatchEmbed,  # noqa: F401
                           SemsegPatchEmbed, build_patch_embed)
from .tubelet_embed import TubeletPatchEmbed  # noqa: F401
from .pointnet2_encoder import PointNet2Encoder  # noqa: F401
from .stem_resnet import StemOutputResNet  # noqa: F401
