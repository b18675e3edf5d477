from .cross_attention_decoder import CrossAttentionTaskDecoder  # noqa: F401
from .mae_decoder import MAEStyleDecoder  # noqa: F401
from .bigru_temporal import BiGRUTemporalNeck  # noqa: F401
