"""Temporal model over clip features of whole videos (OR-AR stage 2)."""
from typing import List, Optional

from mmengine.model import BaseModel

from mmrgbd.registry import MODELS, build_in_scope


@MODELS.register_module()
class ClipSequenceRecognizer(BaseModel):
    """Per-clip multi-label recognition from a video's clip features.

    ``data_preprocessor`` (:class:`ClipSequenceDataPreprocessor`) pads the
    videos of a batch, ``neck`` (e.g. :class:`BiGRUTemporalNeck`) mixes the
    clips over time and ``head`` (:class:`MultiLabelSequenceHead`) scores
    every clip.

    Args:
        neck (dict): Temporal model config.
        head (dict): Per-step head config (with its loss).
        data_preprocessor (dict, optional): Defaults to
            ``ClipSequenceDataPreprocessor``.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 neck: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClipSequenceDataPreprocessor')
        data_preprocessor = build_in_scope(MODELS, data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.neck = build_in_scope(MODELS, neck)
        self.head = build_in_scope(MODELS, head)

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """``'tensor'``: logits (B, T_max, K); ``'loss'``: dict with
        ``loss_cls``; ``'predict'``: samples with ``pred_score`` (T_i, K).

        Args:
            inputs (dict): ``features`` (B, T_max, C) and ``lengths`` (B,).
            data_samples (list, optional): Samples with ``gt_score``.
            mode (str): ``'tensor'``, ``'loss'`` or ``'predict'``.
        """
        x = self.neck(inputs['features'], inputs['lengths'])  # (B, T, 2H)
        if mode == 'tensor':
            return self.head(x)  # (B, T_max, K)
        if mode == 'loss':
            return self.head.loss(x, inputs['lengths'], data_samples)
        if mode == 'predict':
            return self.head.predict(x, inputs['lengths'], data_samples)
        raise ValueError(f'mode must be "tensor", "loss" or "predict", got '
                         f'{mode!r}')
