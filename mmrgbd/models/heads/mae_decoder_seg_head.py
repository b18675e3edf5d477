"""Semantic segmentation from a pre-trained MAE-style decoder (Mask3D)."""
import os.path as osp
from typing import Optional

import torch
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from mmrgbd.registry import MODELS, build_in_scope
from ..utils import unpatchify

__all__ = ['MAEDecoderSegHead']


@MODELS.register_module()
class MAEDecoderSegHead(BaseDecodeHead):
    """Per-pixel classification by the pre-training decoder (Mask3D).

    Mask3D (Sec. 4.1): "For semantic segmentation tasks, we use both encoder
    and decoder pre-trained with Mask3D". The decoder is the pre-training
    :class:`~mmrgbd.models.necks.MAEStyleDecoder` (8 blocks, 512-d) given
    the tokens of one modality, all visible; its prediction layer is
    replaced by a new linear layer that predicts the ``p x p`` pixels of
    every patch for each class, as the reconstruction head predicts the
    pixels of a depth patch::

        feature map (B, C, h, w) -> tokens (B, N, C), all visible
        -> decoder_embed + modality embed + 2D sin-cos -> blocks -> norm
        -> Linear(D, p * p * K)                       (B, N, p*p*K)
        -> unpatchify                                 (B, K, h*p, w*p)

    The decoder is built from the pre-training ``neck`` config (``decoder``)
    with ``modalities=(modality,)``, ``layout='fused'`` and the new
    ``heads``; for a single, fully visible modality the ``'fused'`` and
    ``'concat'`` layouts give the same sequence, so decoders pre-trained
    either way (Mask3D / M3 3D, Progressive) load. With
    ``decoder_checkpoint`` the decoder is loaded in :meth:`init_weights`
    from that pre-training checkpoint (keys under ``decoder_prefix``, e.g.
    ``neck.``): every decoder weight but the new prediction layer must be
    there with its shape, or a ``ValueError`` names the file and the keys;
    the other modalities' projections and the old prediction layers in the
    file are ignored. Without it the decoder starts from MAE's init.
    mmseg's ``conv_seg`` is not used (the per-patch linear layer is the
    classifier) and is removed. The decoder's ``mask_token`` is loaded but
    frozen: with every token visible it never enters the sequence.

    Args:
        decoder (dict): The pre-training neck config (``type`` defaults to
            ``'MAEStyleDecoder'``); ``in_channels``, ``modalities``,
            ``layout`` and ``heads`` are set here.
        in_channels (int): Encoder width. Defaults to 768.
        patch_size (int): Patch size of the encoder. Defaults to 16.
        modality (str): Name of the input modality in the decoder (its
            ``decoder_embed`` / ``modality_embed`` are used). Defaults to
            ``'rgb'``.
        decoder_checkpoint (str, optional): Pre-training checkpoint (runner
            checkpoint or weights file, read weights-only).
        decoder_prefix (str): Prefix of the decoder in it. Defaults to
            ``'neck.'``.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``loss_decode``, ``align_corners``, ...); ``channels`` defaults
            to the decoder width and ``dropout_ratio`` to 0.
    """

    def __init__(self,
                 decoder: dict,
                 in_channels: int = 768,
                 patch_size: int = 16,
                 modality: str = 'rgb',
                 decoder_checkpoint: Optional[str] = None,
                 decoder_prefix: str = 'neck.',
                 dropout_ratio: float = 0.,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        decoder = dict(decoder)
        decoder.setdefault('type', 'MAEStyleDecoder')
        kwargs.setdefault('channels', decoder.get('embed_dims', 512))
        super().__init__(
            in_channels=in_channels,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        del self.conv_seg  # the decoder's per-patch linear layer classifies
        self.patch_size = patch_size
        self.modality = modality
        self.decoder_checkpoint = decoder_checkpoint
        self.decoder_prefix = decoder_prefix
        decoder.update(
            in_channels=in_channels,
            modalities=(modality, ),
            layout='fused',
            heads={modality: patch_size * patch_size * self.out_channels})
        self.decoder = build_in_scope(MODELS, decoder)
        # every token is visible: the mask token never enters the sequence
        # (zero gradient); frozen so that no optimiser decays or moves it
        if isinstance(getattr(self.decoder, 'mask_token', None),
                      torch.nn.Parameter):
            self.decoder.mask_token.requires_grad_(False)

    def init_weights(self) -> None:
        """Default init, then the pre-trained decoder (if given)."""
        super().init_weights()
        if self.decoder_checkpoint:
            self.load_decoder(self.decoder_checkpoint, self.decoder_prefix)

    def load_decoder(self, filename: str, prefix: str = 'neck.') -> None:
        """Load the pre-trained decoder except the new prediction layer.

        Args:
            filename (str): Pre-training checkpoint (read weights-only).
            prefix (str): Prefix of the decoder keys.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: A decoder weight is missing or has another shape.
        """
        from ..utils.export import get_state_dict
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename}: decoder checkpoint not '
                                    'found')
        state = get_state_dict(
            CheckpointLoader.load_checkpoint(filename, map_location='cpu'),
            filename)
        state = {(k[len('module.'):] if k.startswith('module.') else k): v
                 for k, v in state.items()}
        sub = {k[len(prefix):]: v for k, v in state.items()
               if k.startswith(prefix)}
        own = self.decoder.state_dict()
        wanted = [k for k in own if not k.startswith('heads.')]
        missing = [k for k in wanted if k not in sub]
        wrong = [f'{k}: {tuple(sub[k].shape)} vs {tuple(own[k].shape)}'
                 for k in wanted
                 if k in sub and sub[k].shape != own[k].shape]
        if missing or wrong:
            raise ValueError(
                f'{filename}: not a pre-trained decoder for this head under '
                f'{prefix!r}: missing {missing[:8]}, shape mismatches '
                f'{wrong[:8]} (the decoder config must be the pre-training '
                'neck config)')
        self.decoder.load_state_dict({k: sub[k] for k in wanted},
                                     strict=False)
        ignored = sorted(k for k in sub if k not in wanted)
        print_log(
            f'MAEDecoderSegHead: loaded {len(wanted)} decoder tensors from '
            f'{filename} ({prefix!r}); new: heads.{self.modality}; ignored '
            f'{ignored}', logger='current')

    def forward(self, inputs) -> torch.Tensor:
        """Per-pixel logits at the input resolution.

        Args:
            inputs (tuple[Tensor]): Backbone feature maps; ``in_index``
                selects one (B, C, h, w) of stride ``patch_size``.

        Returns:
            Tensor: (B, K, h * p, w * p).
        """
        x = self._transform_inputs(inputs)  # (B, C, h, w)
        B, _, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, h*w, C)
        visible = tokens.new_ones(B, h * w, dtype=torch.bool)  # (B, h*w)
        feats = dict(
            tokens={self.modality: tokens},
            visible={self.modality: visible},
            grid_sizes={self.modality: (h, w)})
        pred = self.decoder(feats)[self.modality]  # (B, h*w, p*p*K)
        return unpatchify(pred, self.patch_size, (h, w))  # (B, K, H, W)
