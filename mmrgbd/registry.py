"""Registries of mmrgbd.

Every registry is a direct child of the corresponding MMEngine root registry and
names the package ``locations`` that register into it, following mmpretrain. This
lets another scope (mmseg, mmdet, mmdet3d, mmpretrain) build an mmrgbd module with
``type='mmrgbd.X'``: MMEngine imports ``mmrgbd.registry``, finds this child of the
root and lazily imports the ``locations``.

Modules that build sub-modules through a registry pin ``_scope_='mmrgbd'`` (see
:func:`build_in_scope`), so that the lookup works whichever scope is current.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import \
    RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'METRICS',
    'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'build_in_scope'
]

#######################################################################
#                            mmrgbd.engine                            #
#######################################################################
RUNNERS = Registry(
    'runner', parent=MMENGINE_RUNNERS, locations=['mmrgbd.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor',
    parent=MMENGINE_RUNNER_CONSTRUCTORS,
    locations=['mmrgbd.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['mmrgbd.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmrgbd.engine'])
LOG_PROCESSORS = Registry(
    'log processor',
    parent=MMENGINE_LOG_PROCESSORS,
    locations=['mmrgbd.engine'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['mmrgbd.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    locations=['mmrgbd.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmrgbd.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    locations=['mmrgbd.engine'])

#######################################################################
#                           mmrgbd.datasets                           #
#######################################################################
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['mmrgbd.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMENGINE_DATA_SAMPLERS,
    locations=['mmrgbd.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['mmrgbd.datasets'])

#######################################################################
#                            mmrgbd.models                            #
#######################################################################
MODELS = Registry(
    'model', parent=MMENGINE_MODELS, locations=['mmrgbd.models', 'mmrgbd.ops'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    locations=['mmrgbd.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    locations=['mmrgbd.models'])
TASK_UTILS = Registry(
    'task util', parent=MMENGINE_TASK_UTILS, locations=['mmrgbd.models'])

#######################################################################
#                          mmrgbd.evaluation                          #
#######################################################################
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, locations=['mmrgbd.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, locations=['mmrgbd.evaluation'])

#######################################################################
#                         mmrgbd.visualization                        #
#######################################################################
VISUALIZERS = Registry(
    'visualizer',
    parent=MMENGINE_VISUALIZERS,
    locations=['mmrgbd.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMENGINE_VISBACKENDS,
    locations=['mmrgbd.visualization'])


def build_in_scope(registry, cfg, **kwargs):
    """Build ``cfg`` from ``registry`` with the mmrgbd scope pinned.

    A module of mmrgbd that builds sub-modules must not depend on the scope that
    happens to be current (an mmseg config building ``mmrgbd.X`` runs with the
    mmseg scope). ``_scope_='mmrgbd'`` is set unless the config names a scope.

    Args:
        registry (Registry): The registry to build from, e.g. ``MODELS``.
        cfg (dict | nn.Module | None): The config; modules and ``None`` are
            returned as they are.
        **kwargs: Passed to ``registry.build``.
    """
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mmrgbd')
    return registry.build(cfg, **kwargs)
