# The segmentation fine-tuning optimiser of MultiMAE (Table 8), M3 3D
# (Table 13) and Progressive (Table 14): AdamW, lr 1e-4, betas (0.9, 0.999),
# weight decay 0.05, layer-wise lr decay 0.75 (mmpretrain's rule through
# mmrgbd.BackboneLayerDecayOptimWrapperConstructor: block i of 12 gets
# 0.75 ** (12 - i), the embeddings 0.75 ** 13, the head 1), no weight decay
# on 1-D parameters (norms, biases), position embeddings and class token
# (MultiMAE's official optimiser factory). Warm-up from 1e-6 over 1 epoch,
# then cosine to 0: the configs set param_scheduler with their epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmrgbd.BackboneLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.75,
        flat_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),
        }))
