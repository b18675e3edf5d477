"""BaseRGBDSelfSupervisor: per-sample mask seeding and rank-mean logging."""
import uuid

import pytest
import torch
from mmengine.logging import MessageHub

from mmrgbd.models.algorithms.base import sample_mask_seed
from mmrgbd.structures import RGBDDataSample

from test_mask3d import H, W, build  # the same tiny Mask3D


def inputs_of(indices):
    """Inputs whose content depends only on each sample's index."""
    rgb, depth = [], []
    for i in indices:
        g = torch.Generator().manual_seed(i)
        rgb.append(torch.randn(3, H, W, generator=g))
        depth.append(torch.rand(1, H, W, generator=g) + 0.5)
    samples = [RGBDDataSample(metainfo=dict(sample_idx=i)) for i in indices]
    return dict(rgb=torch.stack(rgb), depth=torch.stack(depth),
                depth_valid=torch.ones(len(indices), 1, H, W,
                                       dtype=torch.bool)), samples


@pytest.fixture
def hub():
    """A runner-like message hub with the shared seed and the iteration."""
    hub = MessageHub.get_instance(f'test-{uuid.uuid4().hex}')
    hub.update_info('base_seed', 7)
    hub.update_info('iter', 3)
    return hub


def masks_in_forward(model, indices):
    """The masks ``loss`` draws inside ``forward`` for these samples."""
    drawn = []
    generate = model.generate_mask

    def spy(inputs, generator=None):
        drawn.append(generate(inputs, generator))
        return drawn[-1]

    model.generate_mask = spy
    inputs, samples = inputs_of(indices)
    model(inputs, samples, mode='loss')
    del model.generate_mask
    return drawn[0]


def test_masks_are_a_function_of_seed_iteration_and_sample(hub):
    model = build()
    whole = masks_in_forward(model, [5, 6, 7, 8])
    # the same samples split over two "ranks" get the same masks
    halves = [masks_in_forward(model, [5, 6]), masks_in_forward(model, [7, 8])]
    for m in whole:
        assert torch.equal(whole[m], torch.cat([h[m] for h in halves]))
    # ... by the documented formula, without touching the global generator
    state = torch.get_rng_state()
    own = masks_in_forward(model, [6])
    assert torch.equal(torch.get_rng_state(), state)
    grids = {'rgb': (4, 6), 'depth': (4, 6)}
    ref = model.masker(1, grids, generator=torch.Generator().manual_seed(
        sample_mask_seed(7, 3, 6)))
    for m in ref:
        assert torch.equal(own[m], ref[m]) and torch.equal(
            own[m][0], whole[m][1])
    # other samples, another iteration or another seed: other masks
    assert not torch.equal(whole['rgb'][0], whole['rgb'][1])
    hub.update_info('iter', 4)
    later = masks_in_forward(model, [5, 6, 7, 8])
    assert not torch.equal(later['rgb'], whole['rgb'])
    hub.update_info('iter', 3)
    hub.update_info('base_seed', 8)
    reseeded = masks_in_forward(model, [5, 6, 7, 8])
    assert not torch.equal(reseeded['rgb'], whole['rgb'])


def test_without_a_runner_the_global_generator_draws(hub):
    model = build()
    hub.pop_info('base_seed')  # e.g. a plain MMEngine Runner
    torch.manual_seed(1)
    a = masks_in_forward(model, [5, 6])
    torch.manual_seed(1)
    b = masks_in_forward(model, [5, 6])
    torch.manual_seed(2)
    c = masks_in_forward(model, [5, 6])
    assert torch.equal(a['rgb'], b['rgb'])
    assert not torch.equal(a['rgb'], c['rgb'])
    # an explicit generator always wins
    inputs, _ = inputs_of([5, 6])
    g1 = model.generate_mask(inputs, torch.Generator().manual_seed(0))
    g2 = model.generate_mask(inputs, torch.Generator().manual_seed(0))
    assert torch.equal(g1['rgb'], g2['rgb'])


def test_sample_mask_seeds_are_spread():
    seeds = {sample_mask_seed(0, it, i) for it in range(20)
             for i in range(50)}
    assert len(seeds) == 1000  # no collisions between neighbours
    assert all(0 <= s < 2**63 for s in seeds)


def test_parse_losses_back_propagates_the_local_loss():
    model = build()
    inputs, samples = inputs_of([1, 2])
    losses = model(inputs, samples, mode='loss')
    loss, log_vars = model.parse_losses(losses)
    assert loss.requires_grad  # the local loss, for backward
    assert not any(v.requires_grad for v in log_vars.values())
    assert torch.equal(log_vars['loss'], loss.detach())
    assert set(log_vars) == {'loss', *losses}
