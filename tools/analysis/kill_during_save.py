#!/usr/bin/env python
"""SIGKILL tools/train.py while it saves a checkpoint; report what is left.

Each trial starts (or, after the first, ``--resume`` s) a training run that
saves a checkpoint every iteration with one kept (as the demos), waits for
``Saving checkpoint at K iterations`` in its output, sleeps ``delay`` s and
sends SIGKILL. It then reports whether ``last_checkpoint`` names a complete
checkpoint (a zip archive whose members all read back; nothing is
unpickled) and whether the next ``--resume`` started from it.

    python tools/analysis/kill_during_save.py \\
        --delays 0 0.03 0.06 0.09 0.12 0.15 0.2 --work-dir /tmp/kills

Run it from another checkout (``--repo``) to compare versions.
"""
import argparse
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time
import zipfile

DEMO = 'configs/pretrain/mask3d_vit-tiny_synthetic-demo.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repo', default=osp.dirname(osp.dirname(
        osp.dirname(osp.abspath(__file__)))), help='checkout to run')
    parser.add_argument('--config', default=DEMO)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--delays', type=float, nargs='+',
                        default=[0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.2])
    parser.add_argument('--every', type=int, default=3,
                        help='kill at the save of every N-th iteration')
    return parser.parse_args()


def complete(path):
    """True if ``path`` is a zip checkpoint whose members all read back."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def state(work_dir):
    """(stored path, resolved path, complete?) of last_checkpoint."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None, None, False
    stored = open(record).read().strip()
    path = stored if osp.isabs(stored) else osp.join(work_dir, stored)
    return stored, path, osp.isfile(path) and complete(path)


def main():
    args = parse_args()
    env = dict(os.environ, PYTHONPATH=args.repo, OMP_NUM_THREADS='1')
    base = [
        sys.executable, osp.join(args.repo, 'tools/train.py'),
        osp.join(args.repo, args.config), '--work-dir', args.work_dir
    ]
    options = [
        '--cfg-options', 'train_cfg.max_iters=100000',
        'train_dataloader.batch_size=2', 'custom_hooks=[]',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=1'
    ]
    print(f'{"delay s":>8} | {"killed at":>9} | last_checkpoint -> '
          f'{"complete":>8} | next --resume')
    results = []
    for trial, delay in enumerate(args.delays):
        resume = ['--resume'] if osp.isdir(args.work_dir) else []
        proc = subprocess.Popen(base + resume + options, cwd=args.repo,
                                env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        target, out, started_from = None, [], 'scratch'
        for line in proc.stdout:
            out.append(line)
            if 'Resuming from' in line or 'Auto resumed from' in line:
                started_from = line.strip().split(' from ')[-1].split()[0]
            if 'Saving checkpoint at' in line:
                k = int(line.split('Saving checkpoint at ')[1].split()[0])
                if target is None:
                    target = k + args.every
                if k >= target:
                    time.sleep(delay)
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait()
        if proc.returncode != -signal.SIGKILL:
            tail = ''.join(out).strip().splitlines()
            print(f'{"":8} | --resume after the previous kill failed: '
                  f'{tail[-1] if tail else ""}')
            results[-1] = False
            shutil.rmtree(args.work_dir)  # start afresh
            continue
        stored, path, ok = state(args.work_dir)
        results.append(ok)
        print(f'{delay:8.2f} | {target:9d} | {stored} -> {ok!s:>8} | '
              f'(this run resumed from {started_from})')
    print(f'{sum(results)} of {len(results)} kills left a complete '
          'checkpoint named in last_checkpoint that --resume could use')


if __name__ == '__main__':
    main()
