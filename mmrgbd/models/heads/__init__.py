from .contrast_head import PatchContrastHead  # noqa: F401
from .matching_head import RGBDMatchingHead  # noqa: F401
from .noise_embedding import NoiseLevelEmbedding  # noqa: F401
from .convnext_adapter_head import (ConvNeXtAdapterHead,  # noqa: F401
                                    tokens_to_subpixel_map)
from .mae_decoder_seg_head import MAEDecoderSegHead  # noqa: F401
from .multilabel_sequence_head import MultiLabelSequenceHead  # noqa: F401
