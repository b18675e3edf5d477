"""Samples/s of a config's training pipeline per data worker (one core).

The config's dataset is pointed at its official on-disk layout, arranged in a
temporary folder from the real frames of ``../shared/samples`` by the
builders of ``tests/real_layouts`` (ImageNet pseudo labels and ScanNet
frames from the real NYUv2 frame, SUN RGB-D from its real Kinect frame,
KITTI from the three real ``kitti_object_vis`` frames); only the data paths
change, the pipeline runs as shipped. Synthetic datasets run as they are.

The pipeline is timed in this process with one thread (OpenCV, torch and
BLAS limited to one), i.e. one core = one data worker, as
``DataLoader(num_workers=N)`` runs it: ``dataset[i]``, including the
dataset's own ``get_data_info``. Each of ``--repeats`` runs times
``--num-samples`` samples; the median is printed with the load average of
the machine (samples/s in one thread drops when other processes share the
core). With ``--profile`` the time of every transform is listed.

Next to it, what one training process consumes: samples/s of a training
step (forward, backward, optimiser) of the config's model on batches of the
same pipeline, measured here on the CPU with a plain ``model.train_step``
(a small wrapper, not ``tools/analysis/benchmark_pretrain.py``); the number
of data workers one training process needs is their ratio.

Examples::

    python tools/analysis/benchmark_data.py \
        configs/pretrain/multimae_vit-b_rgb-depth-semseg_1600e_in1k.py
    python tools/analysis/benchmark_data.py \
        configs/pretrain/mask3d_vit-b_scannet.py --profile --no-model-step
    python tools/analysis/benchmark_data.py \
        configs/pretrain/simipu_r50_kitti.py --num-samples 30
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--num-samples', type=int, default=200,
                        help='samples per timed run')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed runs; the median is reported')
    parser.add_argument('--samples-dir', default=str(ROOT.parent / 'shared'
                                                     / 'samples'),
                        help='the real sample data (../shared/samples)')
    parser.add_argument('--profile', action='store_true',
                        help='also print ms per transform')
    parser.add_argument('--no-model-step', action='store_true',
                        help='skip timing the training step')
    parser.add_argument('--model-batch', type=int, default=None,
                        help='batch of the timed training step; default: '
                        'the config batch, at most 16')
    parser.add_argument('--model-steps', type=int, default=3,
                        help='timed training steps (after one warm-up)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    return parser.parse_args(argv)


def single_thread() -> None:
    """One core per worker: OpenCV, torch and BLAS in one thread."""
    import cv2
    import torch
    cv2.setNumThreads(0)  # as mmengine's env_cfg opencv_num_threads=0
    torch.set_num_threads(1)


def _load_tool(path: Path, name: str):
    spec = spec_from_file_location(name, str(path))
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _real_layouts():
    """The ``tests/real_layouts`` package (the layout builders)."""
    tests = str(ROOT / 'tests')
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import real_layouts
    return real_layouts


def _needs_semseg(pipeline) -> bool:
    return any(t.get('with_semseg', False) for t in pipeline)


def arrange_layout(ds_cfg, root: str, samples_dir: str) -> dict:
    """Point ``ds_cfg`` (a dataset config, changed in place) at its layout.

    Returns:
        dict: what was arranged, for the printout.
    """
    _real_layouts()
    kind = ds_cfg.type
    if kind == 'ConcatDataset':
        for i, sub in enumerate(ds_cfg.datasets):
            arrange_layout(sub, osp.join(root, str(i)), samples_dir)
        return ds_cfg
    if kind == 'RGBDListDataset':
        from real_layouts.imagenet_pseudo import build_imagenet_pseudo_list
        paths = build_imagenet_pseudo_list(
            osp.join(root, 'imagenet'), samples_dir,
            with_semseg=_needs_semseg(ds_cfg.pipeline))
        ds_cfg.update(paths)
    elif kind == 'ScanNetFrames':
        from real_layouts.scannet import build_scannet_frames
        paths = build_scannet_frames(osp.join(root, 'scannet'), samples_dir)
        ds_cfg.update(paths)
    elif kind == 'SUNRGBDDataset':
        from real_layouts.sunrgbd import build_sunrgbd
        sun = build_sunrgbd(osp.join(root, 'SUNRGBD'), samples_dir)
        infos = _load_tool(
            ROOT / 'tools' / 'dataset_converters' / 'sunrgbd_infos.py',
            'sunrgbd_infos')
        ann = ds_cfg.get('ann_file', 'sunrgbd_train.txt')
        infos.main([sun['data_root'], osp.join(sun['data_root'], ann),
                    '--split-file', sun['train_split']])
        ds_cfg.data_root = sun['data_root']
    elif kind == 'KITTIRawObjectDataset':
        from real_layouts.kitti import build_kitti_object
        ds_cfg.update(build_kitti_object(osp.join(root, 'kitti'),
                                         samples_dir))
    elif kind.startswith('Synthetic'):
        pass  # generated in memory
    else:
        raise SystemExit(f'benchmark_data.py: no real layout for dataset '
                         f'type {kind!r}; add a builder to tests/real_layouts')
    return ds_cfg


def _pipelines(dataset):
    """The ``Compose`` pipelines of ``dataset`` (one per sub-dataset)."""
    if hasattr(dataset, 'datasets'):
        return [p for d in dataset.datasets for p in _pipelines(d)]
    return [dataset.pipeline]


def _leaf(dataset, idx):
    """``(sub-dataset, local index)`` of ``idx`` in a (concat) dataset."""
    if hasattr(dataset, 'datasets'):
        for sub in dataset.datasets:
            if idx < len(sub):
                return _leaf(sub, idx)
            idx -= len(sub)
        raise IndexError(idx)
    return dataset, idx


def time_pipeline(dataset, num_samples: int, seed: int):
    """``(CPU, wall)`` seconds per ``dataset[i]`` over ``num_samples``.

    CPU time is the time this (single-threaded) process ran, which other
    processes sharing the core hardly change; wall time includes waiting for
    the core.
    """
    import numpy as np
    np.random.seed(seed)
    n = len(dataset)
    dataset[0]  # warm-up (lazy init, caches)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(num_samples):
        dataset[i % n]
    return ((time.process_time() - c0) / num_samples,
            (time.perf_counter() - t0) / num_samples)


def profile_pipeline(dataset, num_samples: int, seed: int) -> dict:
    """Mean CPU ms of ``get_data_info`` and of every transform."""
    import numpy as np
    np.random.seed(seed)
    totals = {}
    n = len(dataset)
    for i in range(num_samples):
        leaf, j = _leaf(dataset, i % n)
        t0 = time.process_time()
        results = leaf.get_data_info(j)
        t1 = time.process_time()
        totals['get_data_info'] = totals.get('get_data_info', 0.) + t1 - t0
        for k, t in enumerate(leaf.pipeline.transforms):
            t0 = time.process_time()
            results = t(results)
            t1 = time.process_time()
            key = f'{k}:{type(t).__name__}'
            totals[key] = totals.get(key, 0.) + t1 - t0
    return {k: 1e3 * v / num_samples for k, v in totals.items()}


def time_model_step(cfg, dataset, batch: int, steps: int) -> float:
    """Seconds per training step (forward, backward, optimiser) on CPU."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from mmrgbd.registry import MODELS
    torch.set_num_threads(len(os.sched_getaffinity(0)))  # the whole process
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.train()
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    n = len(dataset)
    data = pseudo_collate([dataset[i % n] for i in range(batch)])
    model.train_step(data, optim)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_step(data, optim)
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    args = parse_args(argv)
    import mmrgbd  # noqa: F401  (registers everything, sets OpenCV env)
    single_thread()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmrgbd.registry import DATASETS
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmrgbd'))
    if not osp.isdir(args.samples_dir):
        raise SystemExit(f'real sample data not found at {args.samples_dir}'
                         ' (--samples-dir)')
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    with tempfile.TemporaryDirectory(prefix='benchmark_data_') as tmp:
        arrange_layout(ds_cfg, tmp, args.samples_dir)
        dataset = DATASETS.build(ds_cfg)
        print(f'config: {args.config}')
        print(f'dataset: {ds_cfg.type}, {len(dataset)} real samples in the '
              f'official layout (cycled)')
        for pipe in _pipelines(dataset)[:1]:
            print('pipeline: ' + ' -> '.join(
                type(t).__name__ for t in pipe.transforms))
        if args.profile:
            ms = profile_pipeline(dataset, args.num_samples, args.seed)
            print(f'{"step (CPU time)":<34} {"ms / sample":>12}')
            for key, value in ms.items():
                print(f'{key:<34} {value:>12.3f}')
            print(f'{"sum":<34} {sum(ms.values()):>12.3f}')
        runs = []
        for r in range(args.repeats):
            runs.append(time_pipeline(dataset, args.num_samples,
                                      args.seed + r))
        load = os.getloadavg()
        data_rate = 1. / statistics.median(cpu for cpu, _ in runs)
        wall_rate = 1. / statistics.median(wall for _, wall in runs)
        print(f'data pipeline: {data_rate:.1f} samples/s per worker by CPU '
              f'time, {wall_rate:.1f} by wall time (one thread; median of '
              f'{args.repeats} runs of {args.num_samples}: CPU '
              f'{", ".join(f"{1 / c:.1f}" for c, _ in runs)}; wall '
              f'{", ".join(f"{1 / w:.1f}" for _, w in runs)}); load average '
              f'{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on '
              f'{os.cpu_count()} cores')
        if args.no_model_step:
            return data_rate
        cfg_batch = int(cfg.train_dataloader.batch_size)
        batch = args.model_batch or min(cfg_batch, 16)
        step = time_model_step(cfg, dataset, batch, args.model_steps)
        import torch
        model_rate = batch / step
        print(f'training step (CPU, {torch.get_num_threads()} threads, '
              f'batch {batch} of the config\'s {cfg_batch}, plain '
              f'model.train_step): {step:.3f} s = {model_rate:.2f} '
              f'samples/s consumed by one training process')
        print(f'data workers needed per training process: '
              f'{model_rate / data_rate:.2f}')
    return data_rate


if __name__ == '__main__':
    main()
