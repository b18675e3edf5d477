from .reconstruction import (MaskedReconstructionLoss,  # noqa: F401
                             MaskedSemsegLoss)
from .distill import GlobalFeatureDistillLoss  # noqa: F401
from .patch_infonce import PatchInfoNCELoss  # noqa: F401
from .info_nce import info_nce  # noqa: F401
from .depth import BerHuLoss, ScaleInvariantLogLoss  # noqa: F401
