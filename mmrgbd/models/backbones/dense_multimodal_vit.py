"""MultiModalViT as a dense-prediction backbone of mmseg (RGB, RGB-D, D)."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmpretrain.models.backbones import VisionTransformer

from mmrgbd.registry import MODELS
from .multimodal_vit import MultiModalViT
from .patch_embeds import ImagePatchEmbed

__all__ = ['DenseMultiModalViT']


@MODELS.register_module()
class DenseMultiModalViT(MultiModalViT):
    """A :class:`MultiModalViT` that takes a channel stack, returns maps.

    mmseg's ``EncoderDecoder`` gives its backbone one tensor. The pipeline
    (:class:`~mmrgbd.datasets.seg.StackInputModalities`) stacks the input
    modalities along the channels in the order of ``modalities`` (e.g. RGB
    then depth: (B, 4, H, W)); this backbone splits the stack by each
    modality's patch-projection channels, encodes **every** token (no
    masking; with ``shared_encoder`` all modalities in one sequence, as
    MultiMAE's multi-modal fine-tuning) and returns the tokens of
    ``out_modalities`` as one feature map (B, C * len(out_modalities),
    H / p, W / p), for heads such as
    :class:`~mmrgbd.models.heads.ConvNeXtAdapterHead`. MultiMAE selects the
    RGB tokens for RGB-D inputs (App. B.2: "select only the output tokens
    from a single modality"; concatenating modalities performs comparably);
    for depth-only inputs, the depth tokens.

    Being a ``MultiModalViT`` it has the same state-dict keys: export a
    pre-training checkpoint with ``tools/model_converters/export_vit.py
    --target mmrgbd --modality rgb depth --img-size H W`` (weights only, the
    sin-cos position embeddings regenerated for H x W) and load it with
    ``init_cfg=dict(type='Pretrained', checkpoint=FILE)``. Modalities
    configured here but absent from the file stay randomly initialised;
    modalities in the file but not configured are ignored.

    :meth:`get_layer_depth` gives mmpretrain's layer-wise lr decay the block
    index of every parameter (see
    :class:`~mmrgbd.engine.optimizers.BackboneLayerDecayOptimWrapperConstructor`).

    Args:
        modalities (dict): Image-like modalities, e.g.
            ``dict(rgb=dict(in_channels=3), depth=dict(in_channels=1))``.
        in_modalities (Sequence[str], optional): The channel order of the
            stacked input (= ``StackInputModalities.modalities``), the
            names of ``modalities`` (configure only the modalities that are
            fed, e.g. ``dict(depth=...)`` for depth-only fine-tuning, so that
            no parameter is unused). Defaults to the order of ``modalities``
            (give it explicitly: printed / dumped configs may reorder dict
            keys).
        out_modalities (Sequence[str], optional): Modalities whose tokens
            form the output map (concatenated along the channels). Defaults
            to the first modality.
        **kwargs: :class:`MultiModalViT` arguments (``arch``, ``img_size``,
            ``patch_size``, ``shared_encoder``, ``num_global_tokens``,
            ``pos_embed_order``, ``final_norm``, ``drop_path_rate``, ...).
    """

    def __init__(self,
                 modalities: Dict[str, dict] = dict(rgb=dict(in_channels=3)),
                 in_modalities: Optional[Sequence[str]] = None,
                 out_modalities: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(modalities=modalities, **kwargs)
        self.in_modalities = tuple(in_modalities or self.modalities)
        if sorted(self.in_modalities) != sorted(self.modalities):
            raise ValueError(f'in_modalities {self.in_modalities} must name '
                             f'each of the modalities {list(self.modalities)}'
                             ' once')
        self.in_channels = {}
        for m in self.in_modalities:
            embed = self.stem(m).patch_embed
            if not isinstance(embed, ImagePatchEmbed):
                raise ValueError(f'modality {m!r} is not image-like '
                                 f'({type(embed).__name__}); '
                                 'DenseMultiModalViT takes stacked image '
                                 'channels')
            self.in_channels[m] = embed.projection.in_channels
        self.out_modalities = tuple(out_modalities
                                    or self.in_modalities[:1])
        unknown = [m for m in self.out_modalities
                   if m not in self.in_modalities]
        if unknown:
            raise ValueError(f'out_modalities {unknown} are not in the '
                             f'in_modalities {list(self.in_modalities)}')

    def split_channels(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Split (B, sum C_m, H, W) into ``{modality: (B, C_m, H, W)}``."""
        sizes = [self.in_channels[m] for m in self.in_modalities]
        if x.dim() != 4 or x.shape[1] != sum(sizes):
            raise ValueError(
                f'expected (B, {sum(sizes)}, H, W) = the channels of '
                f'{dict(self.in_channels)} stacked in this order, got '
                f'{tuple(x.shape)}')
        return dict(zip(self.in_modalities, x.split(sizes, dim=1)))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Encode all tokens of the stacked input.

        Args:
            x (Tensor): (B, sum C_m, H, W), ``in_modalities`` stacked.

        Returns:
            tuple[Tensor]: One (B, C * len(out_modalities), H/p, W/p) map.
        """
        feats = super().forward(self.split_channels(x))
        maps = []
        for m in self.out_modalities:
            tokens = feats['tokens'][m]  # (B, N, C)
            h, w = feats['grid_sizes'][m]
            maps.append(tokens.transpose(1, 2).reshape(
                tokens.shape[0], -1, h, w))  # (B, C, h, w)
        return (torch.cat(maps, dim=1), )  # (B, C * M, h, w)

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth of a parameter for layer-wise lr decay.

        The stems (patch and position embeddings) and the global token are
        depth 0, block ``i`` depth ``i + 1``, everything else (final norm,
        and parameters outside ``prefix`` such as the decode head) the last
        depth ``num_layers + 1``: mmpretrain's ``VisionTransformer`` rule,
        applied to the encoder the parameter belongs to.

        Args:
            param_name (str): Parameter name, e.g.
                ``'backbone.encoder.layers.3.attn.qkv.weight'``.
            prefix (str): Prefix of this backbone in ``param_name``.

        Returns:
            tuple[int, int]: The depth and the number of depths.
        """
        encoder = self.encoder_of(self.modalities[0])
        num_depths = encoder.num_layers + 2
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        name = param_name[len(prefix):]
        for group in ('stems.', 'encoders.'):
            if name.startswith(group):
                modality, name = name[len(group):].split('.', 1)
                encoder = self.encoder_of(modality)
                break
        else:
            if name.startswith('encoder.'):
                name = name[len('encoder.'):]
        return VisionTransformer.get_layer_depth(encoder, name)
