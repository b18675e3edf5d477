"""A CheckpointHook whose checkpoints survive a kill and resume exactly."""
import contextlib
import glob
import os
import os.path as osp
from collections import deque
from typing import List, Optional

from mmengine.dist import all_gather_object, get_world_size, \
    is_main_process
import numpy as np
import torch
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.loops import IterBasedTrainLoop

from mmrgbd.registry import HOOKS
from ..rng_state import capture_rng_state, restore_rng_state

__all__ = [
    'AtomicCheckpointHook', 'find_resume_checkpoint',
    'history_buffers_to_plain', 'history_buffers_from_plain'
]

#: suffix of a checkpoint being written (renamed once complete)
PARTIAL_SUFFIX = '.partial'


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    tmp = path + PARTIAL_SUFFIX
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from, or None if there is none.

    ``<work_dir>/last_checkpoint`` holds a path relative to ``work_dir``
    (written by :class:`AtomicCheckpointHook`), resolved against
    ``work_dir``, so a moved or copied work dir resumes its own files. An
    absolute path (MMEngine's format) is used when the file exists, except
    that a file of the same name inside ``work_dir`` is preferred (a copied
    work dir).

    Returns:
        str | None: The checkpoint path; None when ``last_checkpoint`` does
        not exist.

    Raises:
        FileNotFoundError: ``last_checkpoint`` names a missing file.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        stored = f.read().strip()
    if not stored:
        return None
    if not osp.isabs(stored):
        path = osp.join(work_dir, stored)
    else:
        local = osp.join(work_dir, osp.basename(stored))
        path = local if osp.isfile(local) else stored
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{record} names {stored}, which does not exist ({path}); pass '
            '--resume CHECKPOINT to choose a checkpoint')
    return path


#: marks a HistoryBuffer stored as plain data
_BUFFER_TAG = '__history_buffer__'


def history_buffers_to_plain(message_hub_state: dict) -> None:
    """Store the message hub's ``HistoryBuffer`` s as tensors, in place.

    A pickled ``HistoryBuffer`` holds bound methods, which
    ``torch.load(weights_only=True)`` can only rebuild by allowing
    ``getattr`` -- too powerful to allow-list. The buffers are written as
    ``{_BUFFER_TAG: True, 'log_history': float64 tensor, 'count_history':
    tensor, 'max_length': int}`` instead (:func:`history_buffers_from_plain`
    inverts it).
    """
    scalars = message_hub_state.get('log_scalars', {})
    for key, buf in list(scalars.items()):
        if isinstance(buf, HistoryBuffer):
            log, count = buf.data
            scalars[key] = {
                _BUFFER_TAG: True,
                'log_history': torch.from_numpy(
                    np.asarray(log, dtype=np.float64)),
                'count_history': torch.from_numpy(np.asarray(count)),
                'max_length': int(buf.max_length)
            }


def history_buffers_from_plain(message_hub_state: dict) -> None:
    """Rebuild the ``HistoryBuffer`` s stored by
    :func:`history_buffers_to_plain`, in place."""
    scalars = message_hub_state.get('log_scalars', {})
    for key, value in list(scalars.items()):
        if isinstance(value, dict) and value.get(_BUFFER_TAG):
            scalars[key] = HistoryBuffer(
                value['log_history'].numpy(), value['count_history'].numpy(),
                value['max_length'])


class _RestoreAfterReplay:
    """Iterator proxy that restores RNG states once the resume replay is done.

    ``IterBasedTrainLoop`` skips the batches trained before the checkpoint by
    drawing them again (after ``before_train``), which runs the data pipeline
    and may consume random numbers. The states are therefore restored right
    before the first batch that is trained again, i.e. at the
    ``replay + 1``-th ``next``.
    """

    def __init__(self, iterator, replay: int, restore):
        self._iterator = iterator
        self._left = replay
        self._restore = restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._restore is not None and self._left <= 0:
            self._restore()
            self._restore = None
        self._left -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self.__dict__['_iterator'], name)


@HOOKS.register_module(name=['AtomicCheckpointHook', 'CheckpointHook'])
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with crash-safe saving and exact resume.

    Registered in the ``mmrgbd`` scope under ``'CheckpointHook'`` as well, so
    every config with ``default_scope='mmrgbd'`` and
    ``checkpoint=dict(type='CheckpointHook', ...)`` uses it. Arguments are
    those of :class:`mmengine.hooks.CheckpointHook`. Differences (for a local
    ``out_dir``):

    * **Atomic saving**: the checkpoint is written to ``<name>.partial``,
      flushed to disk and renamed; ``last_checkpoint`` is written the same
      way and only after the checkpoint is complete. A kill at any moment
      leaves either the old or the new checkpoint named in
      ``last_checkpoint``, never a truncated one.
    * ``last_checkpoint`` holds the path **relative to the work dir**
      (:func:`find_resume_checkpoint` resolves it), so a copied work dir
      resumes its own files.
    * Outdated checkpoints (``max_keep_ckpts``) are deleted only after their
      successor and ``last_checkpoint`` are safely on disk (MMEngine deletes
      first).
    * **RNG states**: every checkpoint holds, for every rank, the states of
      torch, numpy, Python and the model's own generators
      (:func:`~mmrgbd.engine.rng_state.capture_rng_state`), the train
      sampler's seed and the world size. On ``--resume`` they are restored
      right before the first batch trained again (after
      ``IterBasedTrainLoop``'s replay of the skipped batches), so a resumed
      run with a fixed ``randomness.seed`` continues bitwise like the
      uninterrupted one. A different world size or a checkpoint without
      states gives a warning instead.
    * The message hub's ``HistoryBuffer`` s are stored as tensors
      (:func:`history_buffers_to_plain`) so that the checkpoint loads with
      ``torch.load(weights_only=True)``.

    Best checkpoints (``save_best``) are written as MMEngine does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rng_to_save: Optional[List[dict]] = None
        self._loaded: Optional[dict] = None

    # ------------------------------------------------------------------ #
    # saving
    # ------------------------------------------------------------------ #
    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def before_train(self, runner) -> None:
        """Set up as MMEngine does, drop stale partial files, restore RNG."""
        super().before_train(runner)
        if self._local() and is_main_process():
            # out_dir is usually the work dir itself: each file once
            stale = {
                osp.realpath(p)
                for d in (self.out_dir, runner.work_dir)
                for p in glob.glob(osp.join(d, '*' + PARTIAL_SUFFIX))
            }
            for path in sorted(stale):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        self._prepare_resume(runner)

    def _save_checkpoint_with_step(self, runner, step, meta):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        # collective: every rank contributes its states
        self._rng_to_save = all_gather_object(capture_rng_state(model))
        try:
            self._save_atomically(runner, step, meta)
        finally:
            self._rng_to_save = None

    def _save_atomically(self, runner, step, meta):
        if not self._local():  # e.g. a remote backend: MMEngine's way
            return super()._save_checkpoint_with_step(runner, step, meta)
        ckpt_filename = self.filename_tmpl.format(step)
        to_remove = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            ids = list(self.keep_ckpt_ids) + [step]
            while len(ids) > self.max_keep_ckpts:
                to_remove.append(ids.pop(0))
            self.keep_ckpt_ids = deque(ids, self.max_keep_ckpts)
            runner.message_hub.update_info('keep_ckpt_ids', ids)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        partial = ckpt_filename + PARTIAL_SUFFIX
        runner.save_checkpoint(
            self.out_dir,
            partial,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        partial_path = osp.join(self.out_dir, partial)
        with open(partial_path, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(partial_path, self.last_ckpt)
        _fsync_dir(self.out_dir)
        _atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'),
            osp.relpath(self.last_ckpt, runner.work_dir))
        for old in to_remove:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the message hub as plain data; add the RNG states, the
        sampler seed and the world size."""
        if isinstance(checkpoint.get('message_hub'), dict):
            history_buffers_to_plain(checkpoint['message_hub'])
        if self._rng_to_save is None:
            return
        checkpoint['rng_states'] = self._rng_to_save
        sampler = getattr(runner.train_dataloader, 'sampler', None)
        checkpoint['meta']['world_size'] = get_world_size()
        seed = getattr(sampler, 'seed', None)
        if seed is not None:
            checkpoint['meta']['sampler_seed'] = int(seed)

    # ------------------------------------------------------------------ #
    # resuming
    # ------------------------------------------------------------------ #
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Rebuild the message hub's buffers; keep what resuming needs."""
        if isinstance(checkpoint.get('message_hub'), dict):
            history_buffers_from_plain(checkpoint['message_hub'])
        meta = checkpoint.get('meta', {})
        self._loaded = dict(
            iter=meta.get('iter'),
            epoch=meta.get('epoch'),
            rng_states=checkpoint.get('rng_states'),
            sampler_seed=meta.get('sampler_seed'))

    def _prepare_resume(self, runner) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is None or loaded['iter'] != runner.iter or \
                runner.iter == 0:
            return  # not resuming (a fresh run or load_from)
        states = loaded['rng_states']
        if states is None:
            runner.logger.warning(
                'The resumed checkpoint holds no RNG states (not written by '
                'mmrgbd\'s CheckpointHook): random draws after resuming '
                'differ from the uninterrupted run.')
            return
        world_size = get_world_size()
        if len(states) != world_size:
            runner.logger.warning(
                f'The resumed checkpoint was written by {len(states)} '
                f'processes, this run has {world_size}: RNG states are not '
                'restored and the run is not an exact continuation.')
            return
        loop = runner.train_loop
        sampler = getattr(loop.dataloader, 'sampler', None)
        saved_seed = loaded['sampler_seed']
        if saved_seed is not None and hasattr(sampler, 'seed') and \
                sampler.seed != saved_seed:
            # the data order of the original run (its sampler seed differs
            # when randomness.seed is None; the data workers' seeds then
            # still follow this run's seed)
            sampler.seed = saved_seed
            if isinstance(loop, IterBasedTrainLoop):
                from mmengine.runner.loops import _InfiniteDataloaderIterator
                loop.dataloader_iterator = _InfiniteDataloaderIterator(
                    loop.dataloader)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        state = states[runner.rank]

        def restore():
            restore_rng_state(state, model)
            print_log(
                f'Restored the RNG states of iteration {loaded["iter"]}.',
                logger='current')

        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreAfterReplay(
                loop.dataloader_iterator, runner.iter, restore)
        else:
            restore()
