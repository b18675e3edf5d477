from .contrast_head import PatchContrastHead  # noqa: F401
from .matching_head import RGBDMatchingHead  # noqa: F401
from .noise_embedding import NoiseLevelEmbedding  # noqa: F401
from .multilabel_sequence_head import MultiLabelSequenceHead  # noqa: F401
