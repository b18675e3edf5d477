"""The learning rate a config's ``param_scheduler`` gives each iteration.

Shared by the downstream config tests that check the papers' schedules.
"""
import torch
from mmengine.registry import PARAM_SCHEDULERS


def lr_curve(cfg, epoch_length: int, total: int) -> list:
    """The learning rate of each of ``total`` iterations.

    The config's schedulers act on one parameter of an AdamW at the config's
    lr; epoch-based ones (``convert_to_iter_based=True``) are converted with
    ``epoch_length`` iterations per epoch, as MMEngine's runner does.
    """
    p = torch.nn.Parameter(torch.zeros(1))
    optim = torch.optim.AdamW([p], lr=cfg.optim_wrapper.optimizer.lr)
    scheds = []
    for s in cfg.param_scheduler:
        s = dict(s)
        if s.pop('convert_to_iter_based', False):
            cls = PARAM_SCHEDULERS.get(s.pop('type'))
            scheds.append(cls.build_iter_from_epoch(
                optim, epoch_length=epoch_length, **s))
        else:
            scheds.append(PARAM_SCHEDULERS.build(dict(s, optimizer=optim)))
    lrs = []
    for _ in range(total):
        lrs.append(optim.param_groups[0]['lr'])
        optim.step()
        for s in scheds:
            s.step()
    return lrs
