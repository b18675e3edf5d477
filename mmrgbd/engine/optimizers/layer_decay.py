"""mmpretrain's layer-wise lr decay for models without ``get_layer_depth``.

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` asks the model for
``get_layer_depth(param_name)``; mmpretrain's classifiers have it, mmseg's
``EncoderDecoder`` (and mmseg's ``VisionTransformer``) do not. This adapter
supplies it from the model's ``backbone`` and leaves everything else (the
decay formula ``rate ** (num_depths - depth - 1)``, weight-decay rules,
``custom_keys``) to mmpretrain.
"""
import types
from functools import partial
from typing import Callable, List, Optional

import torch.nn as nn
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from mmpretrain.models.backbones import VisionTransformer

from mmrgbd.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['LayerDecayOptimWrapperConstructor', 'backbone_layer_depth']


def backbone_layer_depth(model: nn.Module,
                         prefix: str = 'backbone.') -> Callable:
    """``get_layer_depth(param_name)`` for a model with a ViT ``backbone``.

    * a backbone with its own ``get_layer_depth(name, prefix)`` (mmpretrain
      ViTs, :class:`~mmrgbd.models.backbones.DenseMultiModalViT`) is used;
    * a ViT with a ``layers`` ModuleList and mmpretrain's key names
      (``cls_token``, ``pos_embed``, ``patch_embed.*``, ``layers.i.*``; e.g.
      mmseg's ``VisionTransformer``) gets mmpretrain's
      ``VisionTransformer.get_layer_depth`` rule with its number of blocks:
      embeddings depth 0, block ``i`` depth ``i + 1``, all else (final
      norm, neck, heads) the last depth ``num_layers + 1``.

    Raises:
        TypeError: The model has no such backbone.
    """
    backbone = getattr(model, 'backbone', None)
    if backbone is not None and hasattr(backbone, 'get_layer_depth'):
        return partial(backbone.get_layer_depth, prefix=prefix)
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, nn.ModuleList):
        vit = types.SimpleNamespace(num_layers=len(layers))
        return partial(VisionTransformer.get_layer_depth, vit, prefix=prefix)
    raise TypeError(
        f'layer-wise lr decay needs a ViT backbone with a `layers` '
        f'ModuleList or a get_layer_depth method; '
        f'{type(model).__name__}.backbone is {type(backbone).__name__}')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-wise lr decay for mmseg (and other) models.

    Same ``paramwise_cfg`` as mmpretrain's constructor
    (``layer_decay_rate``, ``flat_decay_mult``, ``norm_decay_mult``,
    ``bias_decay_mult``, ``custom_keys`` with ``decay_mult``); models without
    ``get_layer_depth`` get :func:`backbone_layer_depth`.

    Example:
        >>> optim_wrapper = dict(
        ...     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        ...     constructor='mmrgbd.LayerDecayOptimWrapperConstructor',
        ...     paramwise_cfg=dict(layer_decay_rate=0.75, flat_decay_mult=0.))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """See mmpretrain's constructor; supplies ``get_layer_depth``."""
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            get_layer_depth = backbone_layer_depth(module)
        super().add_params(
            params,
            module,
            prefix=prefix,
            get_layer_depth=get_layer_depth,
            **kwargs)
