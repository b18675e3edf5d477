"""Layer-wise learning-rate decay for models whose backbone knows its depth.
"""
from functools import partial
from typing import Callable, List, Optional

from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from torch import nn

from mmrgbd.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BackboneLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-wise lr decay for mmseg / mmdet models.

    mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` asks the
    *model* for ``get_layer_depth(param_name)``, which mmpretrain's
    ``ImageClassifier`` has and mmseg's ``DepthEstimator`` /
    ``EncoderDecoder`` do not. This constructor takes the depth from the
    model's ``backbone.get_layer_depth(name, prefix='backbone.')`` instead
    (mmpretrain's ``VisionTransformer`` has it), so an unmodified mmseg
    model with ``backbone=dict(type='mmpretrain.VisionTransformer', ...)``
    gets exactly mmpretrain's (and MAE's / MultiMAE's) rule: with ``L``
    blocks, ``lr = base_lr * rate ** (L + 1 - depth)`` where the patch
    embedding, ``cls_token`` and ``pos_embed`` have depth 0, block ``i``
    depth ``i + 1`` and everything outside the backbone (neck, heads)
    depth ``L + 1`` (factor 1). ``paramwise_cfg`` is mmpretrain's
    (``layer_decay_rate``, ``*_decay_mult``, ``custom_keys``). Models that
    define ``get_layer_depth`` themselves keep using it.

    Example::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
            constructor='mmrgbd.BackboneLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.75, flat_decay_mult=0.))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add the parameters of ``module`` with their decayed lr.

        Args:
            params (list[dict]): Parameter groups, extended in place.
            module (nn.Module): The model (first call) or a sub-module.
            prefix (str): Name prefix of ``module``'s parameters.
            get_layer_depth (Callable, optional): Set on recursion.
        """
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            backbone = getattr(module, 'backbone', None)
            if not hasattr(backbone, 'get_layer_depth'):
                raise TypeError(
                    f'{type(module).__name__} has no get_layer_depth and its '
                    f'backbone {type(backbone).__name__} neither; layer-wise '
                    f'lr decay needs a backbone such as '
                    f'mmpretrain.VisionTransformer')
            get_layer_depth = partial(backbone.get_layer_depth,
                                      prefix='backbone.')
        super().add_params(params, module, prefix=prefix,
                           get_layer_depth=get_layer_depth, **kwargs)
