"""BackboneLayerDecayOptimWrapperConstructor: MAE / MultiMAE layer-wise lr
decay for an unmodified mmseg DepthEstimator with an mmpretrain ViT."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

import mmrgbd  # noqa: F401

L = 3  # ViT blocks


def _estimator():
    from mmseg.registry import MODELS
    return MODELS.build(dict(
        type='DepthEstimator',
        _scope_='mmseg',
        backbone=dict(
            type='mmpretrain.VisionTransformer',
            arch=dict(embed_dims=16, num_layers=L, num_heads=2,
                      feedforward_channels=32),
            img_size=32, patch_size=16, out_indices=(0, 1, 1, 2),
            out_type='featmap', final_norm=False),
        decode_head=dict(type='mmrgbd.DPTHead', in_channels=16,
                         post_process_channels=[4, 4, 8, 8], channels=8)))


def _official_scale(name, rate):
    """MultiMAE's run_finetuning_depth.py rule (LayerDecayValueAssigner):
    values[i] = rate ** (L + 1 - i), with id 0 = embeddings / tokens, id
    i + 1 = block i, id L + 1 = everything else."""
    values = [rate**(L + 1 - i) for i in range(L + 2)]
    if name in ('backbone.cls_token', 'backbone.pos_embed') or \
            name.startswith('backbone.patch_embed'):
        return values[0]
    if name.startswith('backbone.layers.'):
        return values[int(name.split('.')[2]) + 1]
    return values[L + 1]


def test_lr_and_weight_decay_per_parameter():
    model = _estimator()
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
        constructor='mmrgbd.BackboneLayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(
            layer_decay_rate=0.75, flat_decay_mult=0.,
            custom_keys={'.cls_token': dict(decay_mult=0.),
                         '.pos_embed': dict(decay_mult=0.)})))
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == names  # every trainable parameter, once
    for name, group in groups.items():
        assert group['lr'] == pytest.approx(
            1e-4 * _official_scale(name, 0.75)), name
        p = dict(model.named_parameters())[name]
        no_decay = p.ndim == 1 or name.endswith(('cls_token', 'pos_embed'))
        assert group['weight_decay'] == (0. if no_decay else 1e-4), name
    # the extremes: embeddings 0.75^(L+1), the head 1
    assert groups['backbone.patch_embed.projection.weight']['lr'] == \
        pytest.approx(1e-4 * 0.75**(L + 1))
    assert groups['decode_head.depth_head.4.weight']['lr'] == \
        pytest.approx(1e-4)


def test_models_without_a_layer_depth_are_refused():
    with pytest.raises(TypeError, match='get_layer_depth'):
        build_optim_wrapper(torch.nn.Linear(2, 2), dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
            constructor='mmrgbd.BackboneLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.75)))
    # mmpretrain's own constructor cannot handle the mmseg model at all
    with pytest.raises(NotImplementedError, match='get_layer_depth'):
        build_optim_wrapper(_estimator(), dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
            constructor='mmpretrain.LearningRateDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.75)))
