"""Initialise stage-2 modules (a student, a frozen teacher) from stage 1.

Two-stage methods (M3 3D image, Progressive) train the encoders with a
contrastive stage 1 and start stage 2 from them. Stage 2 names the stage-1
**runner checkpoint** once (``model.stage1_checkpoint``); the algorithm reads
it when it is built, so a missing or incompatible file fails before training
starts, with the file name and the missing keys in the message.

Runner checkpoints hold more than weights (message hub, optimiser state,
config text). They are read like every file, with
``torch.load(weights_only=True)`` plus the allow-list of the runner's own
bookkeeping types (:func:`mmrgbd.utils.safe_load`): nothing in the file is
executed, and a file that needs more is refused with its name.
"""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader

#: how many key names an error message lists
_SHOW = 12


class Stage1CheckpointError(ValueError):
    """A stage-1 checkpoint is missing or does not fit the stage-2 model.

    The message starts with the file path and says what is wrong (like
    :class:`mmrgbd.datasets.BadSampleError` does for samples).

    Args:
        path (str): The checkpoint file.
        problem (str): What is wrong.
    """

    def __init__(self, path: Optional[str], problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f'{path}: {problem}')


def _short(keys) -> str:
    keys = list(keys)
    more = f' ... (+{len(keys) - _SHOW} more)' if len(keys) > _SHOW else ''
    return f'{keys[:_SHOW]}{more}'


_HINT = ('set model.stage1_checkpoint to the stage-1 runner checkpoint, e.g. '
         '--cfg-options model.stage1_checkpoint=work_dirs/<stage-1 config>/'
         'epoch_N.pth (tools/pretrain_two_stage.sh does this)')


def check_stage1_file(filename: Optional[str]) -> None:
    """Fail fast (before any module is built) if the file does not exist.

    Raises:
        Stage1CheckpointError: Naming the file and how to set it.
    """
    if not filename or not osp.isfile(filename):
        raise Stage1CheckpointError(
            filename, f'stage-1 checkpoint not found; {_HINT}')


def read_stage1_state_dict(filename: str,
                           prefix: str = 'backbone.'
                           ) -> Dict[str, torch.Tensor]:
    """The ``prefix`` part of a stage-1 checkpoint's state dict.

    Args:
        filename (str): A runner checkpoint (``epoch_N.pth``/``iter_N.pth``
            written by stage 1) or a weights-only state dict.
        prefix (str): Keys to take (the prefix is removed), e.g.
            ``'backbone.'``. A leading ``module.`` (DDP) is dropped first.

    Returns:
        dict: ``{key without prefix: tensor}``.

    Raises:
        Stage1CheckpointError: If the file does not exist, cannot be read or
            holds no ``prefix`` key.
    """
    check_stage1_file(filename)
    try:
        # mmrgbd's loader: weights_only, never runs code from the file
        ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    except Exception as e:  # corrupt / not a torch file
        raise Stage1CheckpointError(
            filename, f'cannot be read as a checkpoint ({e!r})') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise Stage1CheckpointError(
            filename, f'holds a {type(ckpt).__name__}, not a state dict')
    state = {(k[len('module.'):] if k.startswith('module.') else k): v
             for k, v in state.items()}
    sub = {k[len(prefix):]: v for k, v in state.items()
           if k.startswith(prefix) and torch.is_tensor(v)}
    if not sub:
        raise Stage1CheckpointError(
            filename, f"holds no '{prefix}*' weights (keys: "
            f'{_short(state)}); expected the runner checkpoint of a stage-1 '
            'config')
    return sub


def check_stage1_state_dict(module: nn.Module, state: Dict[str, torch.Tensor],
                            filename: str, what: str) -> None:
    """Raise if ``state`` lacks a key of ``module`` or has another shape.

    ``pos_embed`` entries are exempt from the shape check: the fixed sin-cos
    embedding of :class:`MultiModalViT` is regenerated for the stage-2 grid
    by its load hook (stage 1 may run at another image size).

    Raises:
        Stage1CheckpointError: Naming the file, the module and the keys.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    mismatched = [
        f'{k}: checkpoint {tuple(state[k].shape)} != model '
        f'{tuple(own[k].shape)}' for k in own
        if k in state and not k.endswith('pos_embed')
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or mismatched:
        problems = []
        if missing:
            problems.append(f'{len(missing)} missing keys {_short(missing)}')
        if mismatched:
            problems.append(f'{len(mismatched)} shape mismatches '
                            f'{_short(mismatched)}')
        raise Stage1CheckpointError(
            filename, f'incompatible with the stage-2 {what}: '
            f"{'; '.join(problems)}. Stage 1 and stage 2 must use the same "
            'backbone arch, patch size, modalities and shared_encoder.')


def init_from_stage1(filename: str,
                     modules: Dict[str, nn.Module],
                     prefix: str = 'backbone.') -> None:
    """Load the stage-1 weights into every module of ``modules``.

    Every module must be covered completely (no missing key, no shape
    mismatch, see :func:`check_stage1_state_dict`); checkpoint keys the
    module does not have (e.g. of a modality stage 2 does not use) are
    ignored. The modules are marked initialised (``is_init = True``) so that
    a later ``init_weights()`` of the algorithm (the runner calls it before
    training) keeps the loaded weights.

    Args:
        filename (str): The stage-1 checkpoint.
        modules (dict[str, nn.Module]): ``{description: module}``, e.g.
            ``{'student backbone': backbone, 'teacher': teacher}``.
        prefix (str): Prefix of the stage-1 keys to load.

    Raises:
        Stage1CheckpointError: See :func:`read_stage1_state_dict` and
            :func:`check_stage1_state_dict`.
    """
    state = read_stage1_state_dict(filename, prefix)
    for what, module in modules.items():
        check_stage1_state_dict(module, state, filename, what)
        own = module.state_dict()
        module.load_state_dict({k: state[k] for k in own}, strict=True)
        if hasattr(module, 'is_init'):
            module.is_init = True
        unused = [k for k in state if k not in own]
        print_log(
            f'{what}: loaded {len(own)} tensors from the stage-1 checkpoint '
            f'{filename} (prefix {prefix!r})' +
            (f'; ignored {len(unused)} keys {_short(unused)}'
             if unused else ''),
            logger='current')
