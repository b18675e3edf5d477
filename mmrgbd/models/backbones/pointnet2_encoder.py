"""PointNet++ point encoder (mmdet3d's ``PointNet2SAMSG``) for SimIPU."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule

from mmrgbd.registry import MODELS, build_in_scope

#: SimIPU's KITTI encoder: 3 multi-scale set-abstraction layers; D-FPS in the
#: first, fusion sampling (F-FPS + D-FPS, 'FS') in the second, and F-FPS on
#: the first 512 points + D-FPS on the others in the third (as in 3DSSD).
#: ``use_xyz=False`` as in the official SimIPU config: the grouped features
#: are the point features only (intensity in the first layer), without the
#: relative coordinates, so its features are invariant to rotations,
#: translations and mirrors by construction (not to scaling, which changes
#: what falls into each ball).
SIMIPU_SAMSG = dict(
    type='mmdet3d.PointNet2SAMSG',
    in_channels=4,
    num_points=(4096, 1024, (512, 512)),
    radii=((0.2, 0.4, 0.8), (0.4, 0.8, 1.6), (1.6, 3.2, 4.8)),
    num_samples=((32, 32, 64), (32, 32, 64), (16, 16, 16)),
    sa_channels=(((32, 32, 64), (32, 32, 64), (64, 64, 128)),
                 ((64, 64, 128), (64, 64, 128), (128, 128, 256)),
                 ((128, 128, 256), (128, 128, 256), (256, 256, 512))),
    aggregation_channels=(128, 256, 1024),
    fps_mods=(('D-FPS'), ('FS'), ('F-FPS', 'D-FPS')),
    fps_sample_range_lists=((-1), (-1), (512, -1)),
    norm_cfg=dict(type='BN2d', eps=1e-3, momentum=0.1),
    sa_cfg=dict(
        type='PointSAModuleMSG',
        pool_mod='max',
        use_xyz=False,
        normalize_xyz=False))


@MODELS.register_module()
class PointNet2Encoder(BaseModule):
    """PointNet++ encoder returning the last set-abstraction level.

    A thin wrapper around mmdet3d's ``PointNet2SAMSG`` (built from
    ``sa_cfg`` through mmdet3d's registry, ``type='mmdet3d.PointNet2SAMSG'``),
    which takes a batch of equal-size point clouds and returns the
    down-sampled locations ``l`` and their features ``f``, channels last.

    mmcv has no CPU kernels for furthest point sampling, ball query and
    grouping; with ``cpu_point_ops=True`` (default) the encoder calls
    :func:`mmrgbd.ops.enable_cpu_point_ops` when it is built, so the
    unmodified mmdet3d modules run on CPU through mmrgbd's pure-torch ops
    (CUDA tensors still use mmcv's kernels, so this is harmless on GPUs).

    Args:
        sa_cfg (dict): The ``PointNet2SAMSG`` config (its ``out_indices``
            should include the last layer, the default of 3DSSD / SimIPU).
            Defaults to :data:`SIMIPU_SAMSG`.
        cpu_point_ops (bool): Enable the CPU point-op fallbacks. Default True.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 sa_cfg: dict = SIMIPU_SAMSG,
                 cpu_point_ops: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if cpu_point_ops:
            from mmrgbd.ops import enable_cpu_point_ops
            enable_cpu_point_ops()
        self.sa = build_in_scope(MODELS, sa_cfg)
        self.in_channels = int(sa_cfg['in_channels'])
        last = sa_cfg.get('aggregation_channels')
        self.out_channels = int(last[-1]) if last else None

    @staticmethod
    def stack_points(points: Union[torch.Tensor, Sequence[torch.Tensor]],
                     name: str = 'points') -> torch.Tensor:
        """Stack a list of (N, C) clouds into (B, N, C).

        Args:
            points (Tensor | Sequence[Tensor]): (B, N, C) or B clouds (N, C).
            name (str): Input name for the error message.

        Returns:
            Tensor: (B, N, C) float.

        Raises:
            ValueError: If the clouds differ in size (sample them to a fixed
                number of points in the pipeline).
        """
        if isinstance(points, torch.Tensor):
            if points.dim() != 3:
                raise ValueError(f'{name} must be (B, N, C), got '
                                 f'{tuple(points.shape)}')
            return points.float()
        shapes = [tuple(p.shape) for p in points]
        if len(set(shapes)) != 1:
            raise ValueError(
                f'the {name} clouds of a batch differ in size {shapes}; '
                'PointNet++ needs equal sizes: sample them to a fixed number '
                'in the pipeline (e.g. SimIPUTwoView(num_points=...))')
        return torch.stack(list(points)).float()  # (B, N, C)

    def forward(self, points: Union[torch.Tensor, List[torch.Tensor]]
                ) -> Dict[str, torch.Tensor]:
        """Encode a batch of point clouds.

        Args:
            points (Tensor | list[Tensor]): (B, N, C) or B clouds (N, C),
                ``C == in_channels`` (xyz first).

        Returns:
            dict[str, Tensor]: ``xyz`` (B, M, 3) down-sampled locations,
            ``features`` (B, M, C_out) and ``indices`` (B, M) into the
            input clouds.
        """
        points = self.stack_points(points)  # (B, N, C)
        if points.shape[-1] != self.in_channels:
            raise ValueError(f'expected {self.in_channels} point channels, '
                             f'got {points.shape[-1]}')
        out = self.sa(points.contiguous())
        return dict(
            xyz=out['sa_xyz'][-1],  # (B, M, 3)
            features=out['sa_features'][-1].transpose(1, 2),  # (B, M, C)
            indices=out['sa_indices'][-1])  # (B, M)
