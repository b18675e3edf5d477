from .tube import RandomTokenMasker, TubeMasker  # noqa: F401
from .base import BaseMasker  # noqa: F401
from .complementary import ComplementaryMasker  # noqa: F401
from .dirichlet import DirichletTokenBudgetMasker  # noqa: F401
from .random_patch import RandomPatchMasker  # noqa: F401
from .information import (InformationWeightedMasker,  # noqa: F401
                          frame_difference_energy)
from .shared_positions import SharedPositionsMasker  # noqa: F401
