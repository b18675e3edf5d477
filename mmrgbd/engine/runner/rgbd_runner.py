"""Runner that loads its own checkpoints with full objects on torch >= 2.6."""
from mmengine.runner import Runner

from mmrgbd.registry import RUNNERS
from mmrgbd.utils.checkpoint import trusted_checkpoint_loading


@RUNNERS.register_module()
class RGBDRunner(Runner):
    """MMEngine ``Runner`` whose ``load_from`` / ``resume`` are trusted.

    Runner checkpoints pickle message-hub buffers, numpy arrays and the
    config text, which ``torch.load(weights_only=True)`` (the default since
    torch 2.6) refuses. Only these two entry points — the files the runner
    wrote itself — are loaded with full objects; everything else (e.g.
    ``init_cfg=dict(type='Pretrained')`` weights) stays weights-only. See
    :mod:`mmrgbd.utils.checkpoint`.
    """

    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=[(r'^module.', '')]):
        with trusted_checkpoint_loading():
            return super().load_checkpoint(
                filename, map_location=map_location, strict=strict,
                revise_keys=revise_keys)

    def resume(self, filename, resume_optimizer=True,
               resume_param_scheduler=True, map_location='default'):
        with trusted_checkpoint_loading():
            return super().resume(
                filename,
                resume_optimizer=resume_optimizer,
                resume_param_scheduler=resume_param_scheduler,
                map_location=map_location)
