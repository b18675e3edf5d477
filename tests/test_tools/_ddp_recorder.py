"""Test plugin: records what every DDP rank draws and logs, per iteration.

Imported by tests/test_tools/test_dist_ddp.py through ``custom_imports``;
the hook writes ``<work_dir>/record_rank<R>.json`` with, per iteration: the
dataset indices of the rank's samples, an md5 per sample and modality of the
visible mask, an md5 of the global torch generator state, the local loss,
the loss that is back-propagated and the logged (all-reduced) loss.
"""
import hashlib
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmrgbd.registry import HOOKS


def _md5(t: torch.Tensor) -> str:
    return hashlib.md5(t.detach().cpu().contiguous().numpy().tobytes()
                       ).hexdigest()


@HOOKS.register_module()
class DDPRecorderHook(Hook):
    """Record masks, RNG state and losses of this rank (see module doc)."""

    priority = 'VERY_HIGH'

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.records = []
        self.current = {}
        generate_mask = model.generate_mask
        parse_losses = model.parse_losses

        def recording_generate_mask(inputs, generator=None):
            masks = generate_mask(inputs, generator)
            self.current['masks'] = [{m: _md5(v[i])
                                      for m, v in masks.items()}
                                     for i in range(
                                         next(iter(masks.values())).shape[0])]
            return masks

        def recording_parse_losses(losses):
            local = sum(v.detach().mean() for k, v in losses.items()
                        if 'loss' in k)
            loss, log_vars = parse_losses(losses)
            self.current.update(
                local=float(local), backward=float(loss.detach()),
                logged=float(log_vars['loss']))
            return loss, log_vars

        model.generate_mask = recording_generate_mask
        model.parse_losses = recording_parse_losses

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.current = dict(
            iter=runner.iter,
            rng=_md5(torch.get_rng_state()),
            sample_idx=[
                int(ds.metainfo['sample_idx'])
                for ds in data_batch['data_samples']
            ])

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.records.append(self.current)

    def after_train(self, runner):
        path = osp.join(runner.work_dir, f'record_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(self.records, f)
