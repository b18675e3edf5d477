from .base import BaseRGBDSelfSupervisor  # noqa: F401
from .mask3d import Mask3D  # noqa: F401
from .multimae import MultiMAE  # noqa: F401
from .simipu import SimIPU  # noqa: F401
from .m3mae import M3MAE, M3MAEStage1, M3MAEVideo  # noqa: F401
from .progressive import ProgressiveStage1, ProgressiveStage2  # noqa: F401
from .stage1_checkpoint import Stage1CheckpointError  # noqa: F401
from .clip_sequence_recognizer import ClipSequenceRecognizer  # noqa: F401
