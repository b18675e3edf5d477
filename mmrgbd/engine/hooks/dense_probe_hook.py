"""Hook fitting dense linear probes on the frozen RGB encoder during
pre-training."""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmrgbd.evaluation.dense_probe import (PROBE_METRICS, dense_probe,
                                           probe_input_spec,
                                           render_probe_split)
from mmrgbd.registry import HOOKS


@HOOKS.register_module()
class DenseProbeHook(Hook):
    """Every ``interval`` iterations (or epochs), probe the RGB encoder.

    Fits the linear probes of :mod:`mmrgbd.evaluation.dense_probe` (the
    same code as ``tools/analysis/probe_encoder.py``) on the frozen RGB
    encoder of the model being trained: multinomial logistic regression for
    each 16x16 patch's majority class and ridge regression for its mean
    depth, on a small held-out split of ``SyntheticRGBDScenes`` (images
    ``0 .. num_train - 1`` of ``seed`` for fitting, the next ``num_test``
    for scoring; rendered once and kept in memory). It logs ``probe/acc``,
    ``probe/miou``, ``probe/rmse`` (m) and ``probe/delta1``:

    * as scalars of the runner's message hub (``runner.message_hub
      .get_scalar('probe/miou')`` holds the history); they are not mixed
      into the smoothed training log line;
    * to the visualiser backends (``add_scalars``, step = iterations done),
      e.g. ``vis_data/scalars.json`` or TensorBoard;
    * as one line of the runner's logger.

    The probe also runs after the last iteration / epoch and, with
    ``at_start``, before the first one: for a fresh run that is the
    random-init encoder of this very run, the reference the later values
    should beat. Rendering sizes
    follow the config (:func:`probe_input_spec`: the backbone's
    ``img_size`` as input, the training dataset's ``img_size`` as render
    size), unless ``input_size`` / ``render_size`` are given. The torch RNG
    state is restored afterwards, so training is not perturbed. Only the
    main process probes.

    Cost with the defaults (tiny demo encoders, 96x128 images, 2 CPU
    cores): rendering the 150 images once takes a few seconds, each probe
    about a second or two.

    Args:
        interval (int): Iterations (or epochs with ``by_epoch``) between
            probes. Defaults to 100.
        by_epoch (bool): Count epochs instead of iterations. Defaults to
            False.
        num_train (int): Probe-train images. Defaults to 100.
        num_test (int): Probe-test images. Defaults to 50.
        seed (int): Seed of the held-out scenes; keep it different from the
            training seeds. Defaults to 4242.
        input_size (int | tuple[int, int], optional): Encoder input (H, W).
        render_size (int | tuple[int, int], optional): Render (H, W).
        patch_size (int, optional): Patch size of the targets (default:
            from the config, else 16).
        batch_size (int): Images per forward pass. Defaults to 32.
        C (float): Logistic-regression inverse L2 strength. Defaults to 1.
        alpha (float): Ridge L2 strength. Defaults to 1.
        max_iter (int): L-BFGS iterations. Defaults to 500.
        prefix (str): Key prefix. Defaults to ``'probe'``.
        cache_dir (str, optional): Render cache of the held-out scenes.
        at_start (bool): Also probe before training. Defaults to True.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 100,
                 by_epoch: bool = False,
                 num_train: int = 100,
                 num_test: int = 50,
                 seed: int = 4242,
                 input_size: Optional[Union[int, Sequence[int]]] = None,
                 render_size: Optional[Union[int, Sequence[int]]] = None,
                 patch_size: Optional[int] = None,
                 batch_size: int = 32,
                 C: float = 1.0,
                 alpha: float = 1.0,
                 max_iter: int = 500,
                 prefix: str = 'probe',
                 cache_dir: Optional[str] = None,
                 at_start: bool = True):
        if interval < 1 or num_train < 1 or num_test < 1:
            raise ValueError('interval, num_train and num_test must be >= 1')
        if 'loss' in prefix:
            raise ValueError(f'prefix {prefix!r} must not contain "loss" '
                             '(mmengine would add the values to the loss)')
        self.interval = interval
        self.by_epoch = by_epoch
        self.num_train = num_train
        self.num_test = num_test
        self.seed = seed
        self.input_size = input_size
        self.render_size = render_size
        self.patch_size = patch_size
        self.batch_size = batch_size
        self.probe_kwargs = dict(C=C, alpha=alpha, max_iter=max_iter)
        self.prefix = prefix
        self.cache_dir = cache_dir
        self.at_start = at_start
        self._splits = None

    def before_train(self, runner) -> None:
        """Probe the initial (or resumed) weights with ``at_start``."""
        if self.at_start:
            self.probe(runner, step=runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Probe every ``interval`` iterations and after the last one."""
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self.probe(runner, step=runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        """Probe every ``interval`` epochs and after the last one."""
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or \
                self.is_last_train_epoch(runner):
            self.probe(runner, step=runner.iter)

    def _spec(self, runner) -> dict:
        spec = dict(input_size=self.input_size,
                    render_size=self.render_size,
                    patch_size=self.patch_size)
        if self.input_size is None or self.patch_size is None:
            cfg = getattr(runner, 'cfg', None)
            if cfg is None or 'model' not in cfg:
                raise ValueError('DenseProbeHook: the runner has no config '
                                 'to take the probe image size from; set '
                                 'input_size')
            derived = probe_input_spec(cfg)
            for key, value in derived.items():
                if spec[key] is None:
                    spec[key] = value
        if spec['render_size'] is None:
            spec['render_size'] = spec['input_size']
        return spec

    def _get_splits(self, runner):
        if self._splits is None:
            spec = self._spec(runner)
            self._splits = tuple(
                render_probe_split(
                    self.seed, start, num, spec['input_size'],
                    spec['render_size'], spec['patch_size'], self.cache_dir)
                for start, num in ((0, self.num_train),
                                   (self.num_train, self.num_test)))
        return self._splits

    @master_only
    def probe(self, runner, step: int) -> Dict[str, float]:
        """Fit the probes on the current weights and log the scores.

        Args:
            runner (Runner): The runner.
            step (int): Step of the logged values.

        Returns:
            dict: ``{prefix}/acc``, ``/miou``, ``/rmse``, ``/delta1``.
        """
        train, test = self._get_splits(runner)
        with torch.random.fork_rng(devices=[]):
            scores = dense_probe(runner.model, train, test,
                                 batch_size=self.batch_size,
                                 **self.probe_kwargs)
        logged = {f'{self.prefix}/{k}': scores[k] for k in PROBE_METRICS}
        for key, value in logged.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(logged, step=step)
        runner.logger.info(
            f'Dense probe at iter {step} ({self.num_train} + {self.num_test} '
            f'held-out images): ' +
            ', '.join(f'{k}: {v:.4f}' for k, v in logged.items()))
        return logged
