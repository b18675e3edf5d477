from .patch import patchify, unpatchify  # noqa: F401
from .pos_embed import (build_sincos_pos_embed,  # noqa: F401
                        get_1d_sincos_pos_embed, get_2d_sincos_pos_embed,
                        get_3d_sincos_pos_embed, interpolate_pos_embed)
from .init import xavier_init_linears  # noqa: F401
from .checkpointing import run_blocks  # noqa: F401
