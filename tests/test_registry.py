import importlib

import pytest

import mmrgbd.registry as registry


def _registries():
    return [
        getattr(registry, name) for name in registry.__all__
        if hasattr(getattr(registry, name), '_locations')
    ]


@pytest.mark.parametrize('reg', _registries(), ids=lambda r: r.name)
def test_registry_is_root_child_with_importable_locations(reg):
    assert reg.scope == 'mmrgbd'
    assert reg.parent is not None and reg.parent.parent is None, \
        f'{reg.name} must be a direct child of the MMEngine root registry'
    assert reg.parent._children['mmrgbd'] is reg
    assert reg._locations, f'{reg.name} has no locations'
    for location in reg._locations:
        importlib.import_module(location)


def test_build_mmrgbd_module_from_an_mmseg_scoped_config():
    """``type='mmrgbd.X'`` from mmseg's registry, with mmseg the current
    scope; the algorithm's sub-modules (built via build_in_scope) resolve in
    mmrgbd even though mmseg is current."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as MMSEG_MODELS

    cfg = dict(
        type='mmrgbd.Mask3D',
        backbone=dict(
            type='MultiModalViT',
            arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                      feedforward_channels=64),
            img_size=(32, 32), patch_size=16,
            modalities=dict(rgb=dict(in_channels=3),
                            depth=dict(in_channels=1)),
            shared_encoder=False),
        neck=dict(type='MAEStyleDecoder', in_channels=32, embed_dims=32,
                  num_layers=1, num_heads=2, layout='fused',
                  heads=dict(depth=256)))
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MMSEG_MODELS.build(cfg)
        masker = MMSEG_MODELS.build(
            dict(type='mmrgbd.RandomPatchMasker',
                 keep_ratios=dict(rgb=0.5)))
    assert type(model).__name__ == 'Mask3D'
    assert type(model.backbone).__name__ == 'MultiModalViT'
    assert type(model.data_preprocessor).__name__ == 'RGBDDataPreprocessor'
    visible = masker(2, dict(rgb=(2, 2)))
    assert visible['rgb'].sum(1).tolist() == [2, 2]
