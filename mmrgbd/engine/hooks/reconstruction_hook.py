"""Hook saving reconstruction panels during pre-training."""
import os
import os.path as osp
from typing import Optional

import cv2
import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmrgbd.registry import HOOKS
from mmrgbd.visualization.reconstruction import reconstruction_panel


@HOOKS.register_module()
class ReconstructionVisualizationHook(Hook):
    """Every ``interval`` iterations, save and log reconstruction panels.

    The first training batch is kept and reconstructed with the current
    weights (``model.predict``), so successive panels show the same samples
    improving. Each panel (see
    :func:`mmrgbd.visualization.reconstruction.reconstruction_panel`) shows
    RGB with the mask, the given sparse depth, predicted and ground-truth
    depth in one colour map, the error map and predicted semseg if any.
    Panels go to ``<work_dir>/<out_dir>/iter_<n>_<k>.png`` and to the
    visualiser backends (``add_image``).

    Args:
        interval (int): Iterations between panels. Defaults to 100.
        num_samples (int): Samples drawn from the kept batch. Defaults to 4.
        out_dir (str): Folder under the work dir. Defaults to ``'vis'``.
        seed (int): Seed of the masks used for the panels, so that they are
            comparable across iterations. Defaults to 0.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 100,
                 num_samples: int = 4,
                 out_dir: str = 'vis',
                 seed: int = 0):
        self.interval = interval
        self.num_samples = num_samples
        self.out_dir = out_dir
        self.seed = seed
        self._batch: Optional[dict] = None

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self._batch is None and data_batch is not None:
            self._batch = data_batch
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self._draw(runner)

    @master_only
    def _draw(self, runner):
        if self._batch is None:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(self.seed)
                data = model.data_preprocessor(self._batch, False)
                samples = model.predict(data['inputs'], data['data_samples'])
        finally:
            model.train(was_training)
        pre = model.data_preprocessor
        mean, std = getattr(pre, 'mean', None), getattr(pre, 'std', None)
        out_dir = osp.join(runner.work_dir, self.out_dir)
        os.makedirs(out_dir, exist_ok=True)
        step = runner.iter + 1
        for k, sample in enumerate(samples[:self.num_samples]):
            panel = reconstruction_panel(data['inputs'], sample, k, mean, std)
            cv2.imwrite(
                osp.join(out_dir, f'iter_{step:06d}_{k}.png'),
                cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
            runner.visualizer.add_image(f'reconstruction_{k}', panel, step)
