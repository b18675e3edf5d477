"""Stretch an iteration-based schedule to another ``max_iters``."""
from typing import List, Optional

__all__ = ['rescale_iter_schedule']

#: scheduler keys measured in iterations (when ``by_epoch=False``)
_ITER_KEYS = ('begin', 'end', 'T_max', 'step_size')


def _scaled(value: int, ratio: float) -> int:
    return max(1, int(round(value * ratio))) if value > 0 else 0


def rescale_iter_schedule(cfg, max_iters: Optional[int]) -> List[str]:
    """Stretch an iteration schedule to a new ``train_cfg.max_iters``.

    The demo configs write their LR schedule (warm-up, cosine) and their
    checkpoint interval for their own ``max_iters``. Called with the
    ``max_iters`` of ``--cfg-options train_cfg.max_iters=N`` on the config
    *before* the options are merged (so explicit overrides of the schedule
    win), this stretches every iteration-based (``by_epoch=False``)
    ``param_scheduler`` entry (``begin``, ``end``, ``T_max``,
    ``step_size``; an ``end`` at the old ``max_iters`` becomes ``N``),
    ``train_cfg.val_interval`` and an iteration-based checkpoint
    ``interval`` by ``N / old``, in place. Epoch-based parts are left alone.

    Args:
        cfg (Config): The config as written (before ``--cfg-options``).
        max_iters (int, optional): The new ``train_cfg.max_iters``.

    Returns:
        list[str]: What was changed (empty when nothing was).
    """
    train_cfg = cfg.get('train_cfg') or {}
    old = train_cfg.get('max_iters')
    new = None if max_iters is None else int(max_iters)
    if not old or not new or new == old or \
            train_cfg.get('type') != 'IterBasedTrainLoop':
        return []
    ratio = new / old
    changes = []
    schedulers = cfg.get('param_scheduler') or []
    single = isinstance(schedulers, dict)
    kept = []
    for sched in [schedulers] if single else schedulers:
        if sched.get('by_epoch', True):
            kept.append(sched)
            continue
        before = {k: sched[k] for k in _ITER_KEYS if k in sched}
        for key, value in before.items():
            sched[key] = new if key == 'end' and value >= old else _scaled(
                value, ratio)
        if 'T_max' in before and 'begin' in before and 'end' in before and \
                before['T_max'] == before['end'] - before['begin']:
            sched['T_max'] = sched['end'] - sched['begin']
        if sched.get('end', new) <= sched.get('begin', 0):
            # too short to exist at this length (e.g. a 1-iteration run)
            changes.append(f'{sched["type"]} {before} dropped (empty)')
            continue
        kept.append(sched)
        after = {k: sched[k] for k in before}
        if after != before:
            changes.append(f'{sched["type"]} {before} -> {after}')
    if not single:
        cfg.param_scheduler = kept
    if train_cfg.get('val_interval'):
        before = train_cfg['val_interval']
        train_cfg['val_interval'] = _scaled(before, ratio)
        changes.append(f'train_cfg.val_interval {before} -> '
                       f'{train_cfg["val_interval"]}')
    ckpt = (cfg.get('default_hooks') or {}).get('checkpoint')
    if ckpt and not ckpt.get('by_epoch', True) and ckpt.get('interval', 0) > 0:
        before = ckpt['interval']
        ckpt['interval'] = min(new, _scaled(before, ratio))
        changes.append(f'checkpoint interval {before} -> {ckpt["interval"]}')
    return changes
