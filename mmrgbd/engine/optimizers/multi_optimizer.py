"""One optimiser object that steps several torch optimisers (hybrid set-ups).

SimIPU trains the image branch with SGD and the LiDAR branch with AdamW. MMEngine
expects a single optimiser inside a single ``OptimWrapper``; :class:`MultiOptimizer`
is that single optimiser. Its ``param_groups`` are the sub-optimisers' own group
dicts (shared, not copied), so MMEngine parameter schedulers, ``get_lr`` and
gradient clipping act on every branch, and ``state_dict`` nests the branches'
state dicts so checkpoints save and resume.
"""
from typing import Dict

import torch
from mmengine.optim import DefaultOptimWrapperConstructor

from mmrgbd.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS


class MultiOptimizer(torch.optim.Optimizer):
    """Container stepping named torch optimisers together.

    Args:
        optimizers (dict[str, Optimizer]): Branch name to optimiser. The
            branches must not share parameters.

    Note:
        ``defaults`` holds ``lr`` (the first branch's), as MMEngine requires;
        each param group keeps its own ``lr`` and ``branch`` name.
    """

    def __init__(self, optimizers: Dict[str, torch.optim.Optimizer]):
        if not optimizers:
            raise ValueError('MultiOptimizer needs at least one optimizer')
        self.optimizers = dict(optimizers)
        seen = set()
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group.setdefault('branch', name)
                for p in group['params']:
                    if id(p) in seen:
                        raise ValueError(
                            f'a parameter is in two branches (second: {name})')
                    seen.add(id(p))
        first = next(iter(self.optimizers.values()))
        defaults = dict(lr=first.defaults['lr'])
        super().__init__(
            [dict(params=g['params']) for opt in self.optimizers.values()
             for g in opt.param_groups], defaults)
        # share (not copy) the branches' groups so schedulers and clipping
        # act on the real optimisers
        self.param_groups = [
            g for opt in self.optimizers.values() for g in opt.param_groups
        ]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers.values():
            opt.step()
        return loss

    def zero_grad(self, set_to_none: bool = True):
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {
            name: opt.state_dict()
            for name, opt in self.optimizers.items()
        }

    def load_state_dict(self, state_dict):
        missing = set(self.optimizers) - set(state_dict)
        unexpected = set(state_dict) - set(self.optimizers)
        if missing or unexpected:
            raise KeyError('MultiOptimizer state dict branches do not match: '
                           f'missing {sorted(missing)}, unexpected '
                           f'{sorted(unexpected)}')
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state_dict[name])
        # load_state_dict replaces group dicts: re-share them
        self.param_groups = [
            g for opt in self.optimizers.values() for g in opt.param_groups
        ]

    def __repr__(self):
        inner = ', '.join(f'{k}={type(v).__name__}'
                          for k, v in self.optimizers.items())
        return f'MultiOptimizer({inner})'


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build one ``OptimWrapper`` around a :class:`MultiOptimizer`.

    Each branch names the sub-modules it owns (by attribute-path prefix) and
    its optimiser config; every branch is built by MMEngine's
    ``DefaultOptimWrapperConstructor`` (so ``paramwise_cfg`` works per branch).

    Example::

        optim_wrapper = dict(
            type='OptimWrapper',
            constructor='MultiOptimWrapperConstructor',
            clip_grad=dict(max_norm=10),
            optimizer=dict(branches=dict(
                img=dict(prefixes=['img_backbone', 'img_proj'],
                         optimizer=dict(type='SGD', lr=0.03, momentum=0.9,
                                        weight_decay=1e-4)),
                lidar=dict(prefixes=['pts_backbone', 'pts_proj'],
                           optimizer=dict(type='AdamW', lr=1e-3,
                                          betas=(0.95, 0.99),
                                          weight_decay=0.01)))))

    Args:
        optim_wrapper_cfg (dict): The wrapper config; ``optimizer.branches``
            maps branch names to ``dict(prefixes=[...], optimizer=dict(...),
            paramwise_cfg=None)``.
        paramwise_cfg (dict, optional): Applied to branches without their own.

    Raises:
        ValueError: If a trainable parameter belongs to no branch, or to two.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.paramwise_cfg = paramwise_cfg

    def __call__(self, model: torch.nn.Module):
        if hasattr(model, 'module'):
            model = model.module
        cfg = dict(self.optim_wrapper_cfg)
        branches = cfg.pop('optimizer')['branches']
        cfg.setdefault('type', 'OptimWrapper')
        optimizers, owned = {}, {}
        for name, branch in branches.items():
            prefixes = branch['prefixes']
            prefixes = [prefixes] if isinstance(prefixes, str) else prefixes
            holder = torch.nn.Module()
            for i, prefix in enumerate(prefixes):
                holder.add_module(f'part{i}', model.get_submodule(prefix))
                for pname, p in model.get_submodule(
                        prefix).named_parameters():
                    full = f'{prefix}.{pname}'
                    if id(p) in owned:
                        raise ValueError(f'{full} is in branches '
                                         f'{owned[id(p)][0]} and {name}')
                    owned[id(p)] = (name, full)
            sub = DefaultOptimWrapperConstructor(
                dict(type='OptimWrapper', optimizer=branch['optimizer']),
                branch.get('paramwise_cfg', self.paramwise_cfg))(holder)
            optimizers[name] = sub.optimizer
        orphans = [
            n for n, p in model.named_parameters()
            if p.requires_grad and id(p) not in owned
        ]
        if orphans:
            raise ValueError('parameters in no optimizer branch: '
                             f'{orphans[:8]}{" ..." if len(orphans) > 8 else ""}')
        cfg['optimizer'] = MultiOptimizer(optimizers)
        return OPTIM_WRAPPERS.build(cfg)
