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
