"""MMEngine's Runner: safe loading, plain-words resume, a shared seed."""
import torch
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.runner import IterBasedTrainLoop, Runner

from mmrgbd.registry import RUNNERS
from ..hooks.checkpoint_hook import find_resume_checkpoint


@RUNNERS.register_module()
class RGBDRunner(Runner):
    """MMEngine ``Runner`` used by ``tools/train.py`` and ``tools/test.py``.

    * Every checkpoint (``load_from``, ``--resume``, ``init_cfg``) loads
      through mmrgbd's loader (:mod:`mmrgbd.utils.checkpoint`):
      ``weights_only=True`` with the checkpoint bookkeeping classes
      allow-listed, so nothing in a file is executed. MMEngine's resume would
      also *execute* a config text stored as ``meta['config']``; it is
      dropped on load.
    * ``--resume`` without a path reads ``last_checkpoint`` relative to the
      work dir (:func:`~mmrgbd.engine.hooks.checkpoint_hook.
      find_resume_checkpoint`) and says in plain words when there is nothing
      to resume. Resuming warns when ``max_iters`` / ``max_epochs`` is not
      beyond the checkpoint, or when the checkpoint was written by another
      number of processes.
    * The seed shared by all ranks (``randomness.seed`` before MMEngine adds
      the rank for ``diff_rank_seed=True``) is published in the message hub
      as ``base_seed``; :meth:`BaseRGBDSelfSupervisor.generate_mask` draws
      each sample's mask from it, the iteration and the sample index.
    * ``SyncBN`` needs CUDA: distributed runs without CUDA (gloo, see
      :func:`setup_distributed_for_device`) revert it to BatchNorm, as
      MMEngine already does for non-distributed runs
      (:func:`revert_sync_bn_without_cuda`).
    """

    def __init__(self, *args, **kwargs):
        self._resumed_meta = None
        super().__init__(*args, **kwargs)
        self.message_hub.update_info('base_seed', self._base_seed)

    def set_randomness(self, seed, diff_rank_seed: bool = False,
                       deterministic: bool = False) -> None:
        """MMEngine's seeding; also records the seed shared by all ranks."""
        super().set_randomness(seed, diff_rank_seed, deterministic)
        self._base_seed = self._seed - get_rank() if diff_rank_seed \
            else self._seed
        hub = getattr(self, 'message_hub', None)
        if hub is not None:  # on resume (in __init__ it is not built yet)
            hub.update_info('base_seed', self._base_seed)

    def wrap_model(self, model_wrapper_cfg, model):
        """MMEngine's wrapping, after reverting SyncBN on CPU-only DDP."""
        if not is_model_wrapper(model):
            model = revert_sync_bn_without_cuda(model, self.distributed,
                                                self.logger)
        return super().wrap_model(model_wrapper_cfg, model)

    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=[(r'^module.', '')]):
        """Load as MMEngine does, without executing ``meta['config']``."""
        checkpoint = super().load_checkpoint(
            filename,
            map_location=map_location,
            strict=strict,
            revise_keys=revise_keys)
        meta = checkpoint.get('meta')
        if isinstance(meta, dict):
            meta.pop('config', None)  # Runner.resume would exec it
            self._resumed_meta = meta
        return checkpoint

    def load_or_resume(self) -> None:
        """Resolve ``--resume`` (auto) against the work dir, then load."""
        if self._has_loaded:
            return None
        if self._resume and self._load_from is None:
            path = find_resume_checkpoint(self.work_dir)
            if path is None:
                self.logger.warning(
                    f'--resume: nothing to resume in {self.work_dir} (no '
                    'last_checkpoint file: no checkpoint was saved there '
                    'yet); training starts from scratch at iteration 0.')
                self._resume = False
            else:
                self.logger.info(f'Resuming from {path} (the latest '
                                 f'checkpoint of {self.work_dir}).')
                self._load_from = path
        return super().load_or_resume()

    def resume(self, filename, resume_optimizer=True,
               resume_param_scheduler=True, map_location='default'):
        """MMEngine's resume plus warnings about what cannot continue."""
        super().resume(
            filename,
            resume_optimizer=resume_optimizer,
            resume_param_scheduler=resume_param_scheduler,
            map_location=map_location)
        loop = self.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            if self.iter >= loop.max_iters:
                self.logger.warning(
                    f'{filename} is at iteration {self.iter} but '
                    f'train_cfg.max_iters={loop.max_iters}: nothing is left '
                    'to train. Raise max_iters to continue training.')
        elif self.epoch >= loop.max_epochs:
            self.logger.warning(
                f'{filename} is at epoch {self.epoch} but '
                f'train_cfg.max_epochs={loop.max_epochs}: nothing is left '
                'to train. Raise max_epochs to continue training.')
        meta = self._resumed_meta or {}
        saved = meta.get('world_size')
        if saved is not None and saved != self.world_size:
            self.logger.warning(
                f'{filename} was written by {saved} processes and this run '
                f'has {self.world_size}: the global batch size, the data '
                'order and the number of batches already consumed differ, '
                'so the run does not continue the original one exactly.')


def revert_sync_bn_without_cuda(model: torch.nn.Module, distributed: bool,
                                logger=None) -> torch.nn.Module:
    """Replace ``SyncBatchNorm`` by BatchNorm in distributed CPU runs.

    PyTorch's ``SyncBatchNorm`` synchronises only CUDA tensors and raises on
    CPU inputs once a process group exists. Without CUDA each process then
    normalises with its own batch (MMEngine's ``revert_sync_batchnorm``
    keeps the weights and running statistics). With CUDA, or when not
    distributed (MMEngine reverts it itself), the model is returned as is.

    Args:
        model (nn.Module): The unwrapped model.
        distributed (bool): Whether the run is distributed.
        logger (MMLogger, optional): Told when something was reverted.

    Returns:
        nn.Module: The model (reverted in place where needed).
    """
    if not distributed or torch.cuda.is_available():
        return model
    if not any(isinstance(m, torch.nn.SyncBatchNorm)
               for m in model.modules()):
        return model
    if logger is not None:
        logger.warning('SyncBN needs CUDA: this distributed run has none, '
                       'so every SyncBatchNorm is reverted to BatchNorm '
                       '(per-process batch statistics).')
    return revert_sync_batchnorm(model)
