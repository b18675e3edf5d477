"""SimIPU: simple 2D image and 3D point cloud unsupervised pre-training.

Li et al., AAAI 2022 (arXiv:2112.04680). Written from the paper; the official
implementation was read for the choices the paper leaves open (C5 features,
projection MLPs with BN, image query / point key in the inter-modal term,
which side of each term is detached).
"""
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from mmrgbd.registry import MODELS, build_in_scope
from mmrgbd.structures import RGBDDataSample
from ..losses.info_nce import info_nce
from ..utils.matching import auction_match, greedy_match, hungarian_match

MATCHERS = dict(
    hungarian=hungarian_match, auction=auction_match, greedy=greedy_match)


def match_points(cost: torch.Tensor,
                 matcher: str = 'hungarian',
                 metric_tol: float = 0.) -> Tuple[torch.Tensor,
                                                  torch.Tensor]:
    """One-to-one matching of every sample of a batch of cost matrices.

    Args:
        cost (Tensor): (B, N, M) costs with N <= M (detached here).
        matcher (str): ``'hungarian'`` (scipy, per sample, exact),
            ``'auction'`` (batched torch auction, on the cost's device) or
            ``'greedy'`` (per sample, the ablation).
        metric_tol (float): ``'hungarian'`` only: for distance costs, the
            allowed relative increase of the total cost over the optimum
            (see :func:`~mmrgbd.models.utils.matching.hungarian_match`);
            0 = exact for any cost. The samples are then solved in parallel
            threads (scipy releases the GIL).

    Returns:
        tuple[Tensor, Tensor]: ``rows`` and ``cols``, each (B, N) long:
        ``rows[b, k]`` of view a is matched with ``cols[b, k]`` of view b.
    """
    if matcher not in MATCHERS:
        raise ValueError(f'matcher must be one of {sorted(MATCHERS)}, got '
                         f'{matcher!r}')
    cost = cost.detach()
    if cost.shape[1] > cost.shape[2]:
        raise ValueError(f'match_points needs N <= M, got {tuple(cost.shape)}')
    if matcher == 'auction':
        return auction_match(cost)  # (B, N), (B, N)
    if matcher == 'hungarian' and metric_tol > 0 and len(cost) > 1:
        with ThreadPoolExecutor(max_workers=len(cost)) as pool:
            pairs = list(pool.map(
                lambda c: hungarian_match(c, metric_tol), cost))
    elif matcher == 'hungarian':
        pairs = [hungarian_match(c, metric_tol) for c in cost]
    else:
        pairs = [MATCHERS[matcher](c) for c in cost]
    return (torch.stack([p[0] for p in pairs]),
            torch.stack([p[1] for p in pairs]))  # (B, N), (B, N)


def transform_points(xyz: torch.Tensor, mat: torch.Tensor) -> torch.Tensor:
    """Apply (B, 4, 4) homogeneous transforms to (B, N, 3) points.

    Args:
        xyz (Tensor): (B, N, 3) points.
        mat (Tensor): (B, 4, 4) transforms.

    Returns:
        Tensor: (B, N, 3) transformed points.
    """
    mat = mat.to(xyz)
    return (xyz @ mat[:, :3, :3].transpose(1, 2) +
            mat[:, None, :3, 3])  # (B, N, 3)


def project_to_image(xyz: torch.Tensor, lidar2img: torch.Tensor,
                     img_hw: Union[Tuple[int, int], torch.Tensor],
                     min_depth: float = 1e-3) -> Tuple[torch.Tensor,
                                                       torch.Tensor]:
    """Project LiDAR points into the (augmented) image.

    The torch, batched counterpart of
    :func:`mmrgbd.datasets.transforms.lidar.project_points` (same
    ``lidar2img`` convention: ``(u d, v d, d, 1)``).

    Args:
        xyz (Tensor): (B, N, 3) points in the LiDAR frame.
        lidar2img (Tensor): (B, 4, 4) projections to pixels of the current
            image (image augmentations included).
        img_hw (tuple[int, int] | Tensor): (H, W) of the images, or a (B, 2)
            tensor of per-sample sizes (unpadded images of a padded batch).
        min_depth (float): Points with depth <= this are invalid.

    Returns:
        tuple[Tensor, Tensor]: ``uv`` (B, N, 2) pixel coordinates (pixel
        centres at integers, see :mod:`mmrgbd.datasets.transforms.geometry`)
        and ``valid`` (B, N) bool: in front of the camera and inside the
        image area ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
    """
    cam = transform_points(xyz, lidar2img)  # (B, N, 3) = (u d, v d, d)
    depth = cam[..., 2]  # (B, N)
    front = depth > min_depth
    uv = cam[..., :2] / depth.clamp(min=min_depth)[..., None]  # (B, N, 2)
    hw = torch.as_tensor(img_hw, dtype=uv.dtype, device=uv.device)
    hw = hw.reshape(-1, 1, 2)  # (B or 1, 1, 2) = (H, W)
    inside = ((uv[..., 0] >= -0.5) & (uv[..., 0] <= hw[..., 1] - 0.5) &
              (uv[..., 1] >= -0.5) & (uv[..., 1] <= hw[..., 0] - 0.5))
    return uv, front & inside


def sample_image_features(feats: torch.Tensor, uv: torch.Tensor,
                          img_hw: Tuple[int, int]) -> torch.Tensor:
    """Bilinearly sample a feature map at pixel coordinates.

    The feature map is taken to cover the whole image (a stride-s map of an
    image whose size is a multiple of s covers it exactly), so the image area
    ``[-0.5, W - 0.5]`` maps to the map's outer edges: ``x = (u + 0.5) / W *
    2 - 1`` with ``F.grid_sample(align_corners=False)``. (mmdet3d's
    ``point_sample`` is not reused: it re-applies its own resize / crop /
    flip to a raw projection and pairs ``u / W`` with ``align_corners=True``,
    a half-cell shift; ``lidar2img`` here already includes the
    augmentations.)

    Args:
        feats (Tensor): (B, C, h, w) feature map.
        uv (Tensor): (B, N, 2) pixel coordinates of the (H, W) image.
        img_hw (tuple[int, int]): (H, W) of the image.

    Returns:
        Tensor: (B, N, C) sampled features (border values outside).
    """
    h, w = img_hw
    grid = torch.stack([(uv[..., 0] + 0.5) / w * 2 - 1,
                        (uv[..., 1] + 0.5) / h * 2 - 1], dim=-1)  # (B, N, 2)
    out = F.grid_sample(
        feats, grid[:, :, None].to(feats), mode='bilinear',
        padding_mode='border', align_corners=False)  # (B, C, N, 1)
    return out[..., 0].transpose(1, 2)  # (B, N, C)


@MODELS.register_module()
class SimIPU(BaseModel):
    r"""SimIPU: contrastive image + LiDAR pre-training of an image encoder.

    For a scan ``p_a`` (view alpha, aligned with the image) the pipeline
    (:class:`~mmrgbd.datasets.transforms.SimIPUTwoView`) gives
    ``p_b = T(p_a)`` with a random similarity ``T`` (``beta_transform``).
    The point encoder (PointNet++, :class:`PointNet2Encoder`) maps both views
    to down-sampled locations ``l_a, l_b`` and features ``f_a, f_b``.

    * **Intra-modal** (weight ``lambda``, ``loss_intra``): the pairs ``M1``
      are the one-to-one matching of ``T(l_a)`` and ``l_b`` minimising the
      summed L2 distance (``matcher``: scipy Hungarian, batched auction or
      the greedy ablation; the cost is detached; ``T`` may include a
      mirror). The Hungarian matching first fixes the locations that
      coincide in both views (``match_tol``, see
      :func:`~mmrgbd.models.utils.matching.coincident_pairs`) and, when the
      image term is on, is solved in a background thread while the image
      encoder runs. Over at most ``max_intra_pairs`` random pairs of ``M1``,
      InfoNCE with query ``g(f_a_i)``, positive ``sg(g(f_b_j))`` and as
      negatives the ``sg(g(f_b_k))`` of the other pairs; ``g`` =
      ``intra_proj`` (shared by both views) and ``sg`` is stop-gradient: as
      in the official code only view alpha's branch gets gradients (view
      beta is encoded without a graph).
    * **Inter-modal** (weight ``mu``, ``loss_inter``): ``l_a`` is projected
      with the sample's ``lidar2img`` (which includes the image
      augmentations, see ``img_aug_matrix``); points behind the camera or
      outside their (unpadded) image are dropped; image features ``f_g`` are
      sampled bilinearly at the others (:func:`sample_image_features`).
      Over at most ``max_inter_pairs`` random such points, InfoNCE with
      query ``h_img(f_g_i)``, positive ``sg(h_pts(f_a_i))`` and the other
      points' ``sg(h_pts(f_a_k))`` as negatives. The stop-gradient sits
      after the point head, as in the official code: this term trains the
      image encoder and ``inter_img_proj`` only; ``h_pts`` =
      ``inter_pts_proj`` stays the fixed random MLP it is initialised to
      (its parameters are built with ``requires_grad=False``; its BN layers
      still normalise with batch statistics in training mode).

    ``loss = lambda * loss_intra + mu * loss_inter``; a term with weight 0 is
    not computed (and with ``mu = 0`` the image encoder is not run).

    The image feature map is output ``img_feat_index`` of ``img_backbone``
    (default: the last one, C5 of ResNet-50, 2048 channels at stride 32, as
    in the official code, so that every ResNet stage is pre-trained). The
    first linear layer of ``inter_img_proj`` applied to the sampled features
    equals a 1x1 convolution of the map followed by the bilinear sampling
    (both are linear), i.e. the FPN-free 1x1 projection.

    Projection heads are configs of any module mapping ``(x, )`` with
    ``x`` (P, C) to ``(z, )`` (P, D) such as ``mmpretrain.NonLinearNeck`` with
    ``with_avg_pool=False`` (128-d outputs by default in the configs).

    Args:
        img_backbone (dict): Image encoder, e.g. ``type='mmdet.ResNet'``.
            ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``
            starts it from any checkpoint (double fine-tuning).
        pts_backbone (dict): Point encoder, e.g. ``PointNet2Encoder``.
        intra_proj (dict): Projection of point features (intra term).
        inter_img_proj (dict): Projection of sampled image features.
        inter_pts_proj (dict): Projection of point features (inter term; a
            fixed random MLP, see above).
        img_feat_index (int): Which image-backbone output to sample.
        intra_weight (float): ``lambda``. Default 1.
        inter_weight (float): ``mu``. Default 1.
        temperature (float): InfoNCE ``tau``. Default 0.07.
        matcher (str): ``'hungarian'``, ``'auction'`` or ``'greedy'``.
        match_tol (float): ``'hungarian'``: the matched total cost may
            exceed the optimum by at most this fraction, which lets the
            solver fix the coinciding locations first (a proven bound, see
            :func:`~mmrgbd.models.utils.matching.coincident_pairs`; on KITTI
            scans the pairs are in practice scipy's). 0 = scipy on the full
            cost matrix. Default 1e-4.
        max_intra_pairs (int): Random subset size of ``M1``. Default 4096.
        max_inter_pairs (int): Random subset size of the projected points.
            Default 4096.
        negatives (str): ``'batch'`` (default, as the official code): every
            other pair of the batch is a negative; ``'sample'``: only the
            pairs of the same sample.
        min_depth (float): Points with camera depth <= this are dropped.
        data_preprocessor (dict, optional): Defaults to
            ``RGBDDataPreprocessor``.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 img_backbone: dict,
                 pts_backbone: dict,
                 intra_proj: dict,
                 inter_img_proj: dict,
                 inter_pts_proj: dict,
                 img_feat_index: int = -1,
                 intra_weight: float = 1.0,
                 inter_weight: float = 1.0,
                 temperature: float = 0.07,
                 matcher: str = 'hungarian',
                 match_tol: float = 1e-4,
                 max_intra_pairs: int = 4096,
                 max_inter_pairs: int = 4096,
                 negatives: str = 'batch',
                 min_depth: float = 1e-3,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='RGBDDataPreprocessor')
        data_preprocessor = build_in_scope(MODELS, data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if matcher not in MATCHERS:
            raise ValueError(f'matcher must be one of {sorted(MATCHERS)}, '
                             f'got {matcher!r}')
        if negatives not in ('batch', 'sample'):
            raise ValueError("negatives must be 'batch' or 'sample', got "
                             f'{negatives!r}')
        if intra_weight < 0 or inter_weight < 0:
            raise ValueError('loss weights must be >= 0')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.img_backbone = build_in_scope(MODELS, img_backbone)
        self.pts_backbone = build_in_scope(MODELS, pts_backbone)
        self.intra_proj = build_in_scope(MODELS, intra_proj)
        self.inter_img_proj = build_in_scope(MODELS, inter_img_proj)
        self.inter_pts_proj = build_in_scope(MODELS, inter_pts_proj)
        # official: the key is detached after this head, which therefore
        # never gets a gradient; freezing it says so (and keeps DDP from
        # waiting for gradients that never come)
        self.inter_pts_proj.requires_grad_(False)
        self.img_feat_index = img_feat_index
        self.intra_weight = float(intra_weight)
        self.inter_weight = float(inter_weight)
        self.temperature = float(temperature)
        self.matcher = matcher
        if match_tol < 0:
            raise ValueError(f'match_tol must be >= 0, got {match_tol}')
        self.match_tol = float(match_tol)
        self.max_intra_pairs = int(max_intra_pairs)
        self.max_inter_pairs = int(max_inter_pairs)
        self.negatives = negatives
        self.min_depth = float(min_depth)

    # ------------------------------------------------------------------ #
    # features
    # ------------------------------------------------------------------ #
    def extract_img_feat(self, rgb: torch.Tensor) -> torch.Tensor:
        """The sampled image feature map (B, C, h, w)."""
        outs = self.img_backbone(rgb)
        if isinstance(outs, (list, tuple)):
            outs = outs[self.img_feat_index]
        return outs  # (B, C, h, w)

    def extract_pts_feat(self, points) -> Dict[str, torch.Tensor]:
        """Point-encoder output: ``xyz`` (B, M, 3), ``features`` (B, M, C)."""
        return self.pts_backbone(points)

    def extract_feat(self, inputs: dict) -> dict:
        """Image feature map and point features of view alpha."""
        return dict(
            img=self.extract_img_feat(inputs['rgb']),
            pts=self.extract_pts_feat(inputs['points']))

    @staticmethod
    def _meta_matrix(data_samples: Sequence[RGBDDataSample], key: str,
                     like: torch.Tensor) -> torch.Tensor:
        """Stack a (4, 4) metainfo matrix of every sample: (B, 4, 4)."""
        mats = []
        for ds in data_samples:
            if key not in ds.metainfo:
                raise KeyError(
                    f'SimIPU needs `{key}` in the data-sample metainfo (pack '
                    'it with PackSimIPUInputs / meta_keys)')
            mats.append(torch.as_tensor(ds.metainfo[key], dtype=torch.float64))
        return torch.stack(mats).to(device=like.device,
                                    dtype=like.dtype)  # (B, 4, 4)

    def _project(self, proj: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply a projection head to (P, C) features: (P, D)."""
        out = proj((x, ))
        return out[0] if isinstance(out, (list, tuple)) else out

    @staticmethod
    def _subsample(num: int, max_num: int, device) -> Optional[torch.Tensor]:
        """Random subset indices of size ``max_num`` (None = keep all)."""
        if num <= max_num:
            return None
        return torch.randperm(num, device=device)[:max_num]  # (max_num,)

    def _contrast(self, proj_q, proj_k, q: torch.Tensor, k: torch.Tensor,
                  groups: torch.Tensor, max_pairs: int
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Subsample pairs, project and compute InfoNCE (loss, accuracy).

        The projected keys are detached (as in the official code): only the
        query side, and through it ``proj_q``, receives gradients.
        """
        keep = self._subsample(q.shape[0], max_pairs, q.device)
        if keep is not None:
            q, k, groups = q[keep], k[keep], groups[keep]  # (P', C)
        if q.shape[0] < 2:
            # InfoNCE over <= 1 pair is log(1) = 0 (and BN needs 2 values)
            zero = q.sum() * 0.
            return zero, zero.detach()
        zq = self._project(proj_q, q)  # (P, D)
        zk = self._project(proj_k, k).detach()  # (P, D): stop-gradient
        return info_nce(
            zq, zk, self.temperature,
            groups=groups if self.negatives == 'sample' else None,
            return_accuracy=True)

    # ------------------------------------------------------------------ #
    # the two terms
    # ------------------------------------------------------------------ #
    def start_matching(self, feat_a: dict, points_beta,
                       beta_transform: torch.Tensor, background: bool = True
                       ) -> Tuple[dict, Future]:
        """Encode view beta and start matching ``T(l_a)`` to ``l_b``.

        Args:
            feat_a (dict): Point-encoder output of view alpha.
            points_beta (Tensor | list[Tensor]): View beta (B, N, C).
            beta_transform (Tensor): (B, 4, 4) ``T`` (alpha -> beta).
            background (bool): Solve the CPU matchers in a background thread
                (one per batch; scipy releases the GIL), so that the caller
                can run the image encoder meanwhile.

        Returns:
            tuple[dict, Future]: View beta's point features (no graph) and
            the future of :func:`match_points`' ``(rows, cols)``.
        """
        with torch.no_grad():  # the keys are detached: no graph for beta
            feat_b = self.extract_pts_feat(points_beta)
        xyz_ab = transform_points(feat_a['xyz'], beta_transform)  # (B, M, 3)
        cost = torch.cdist(xyz_ab.detach(), feat_b['xyz'].detach())  # (B,M,M)
        args = (cost, self.matcher)
        kwargs = dict(metric_tol=self.match_tol) \
            if self.matcher == 'hungarian' else {}
        if background and self.matcher != 'auction':
            pool = ThreadPoolExecutor(max_workers=1)
            future = pool.submit(match_points, *args, **kwargs)
            pool.shutdown(wait=False)  # the thread ends with its task
        else:
            future = Future()
            future.set_result(match_points(*args, **kwargs))
        return feat_b, future

    def intra_loss(self, feat_a: dict, points_beta,
                   beta_transform: torch.Tensor,
                   matching: Optional[Tuple[dict, Future]] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Intra-modal InfoNCE over the matched pairs ``M1``.

        Args:
            feat_a (dict): Point-encoder output of view alpha.
            points_beta (Tensor | list[Tensor]): View beta (B, N, C).
            beta_transform (Tensor): (B, 4, 4) ``T`` (alpha -> beta).
            matching (tuple, optional): The output of
                :meth:`start_matching` when it was started before; else it
                is run here.

        Returns:
            tuple[Tensor, Tensor]: Unweighted loss and top-1 accuracy.
        """
        if matching is None:
            matching = self.start_matching(feat_a, points_beta,
                                           beta_transform, background=False)
        feat_b, future = matching
        rows, cols = future.result()  # (B, K), (B, K)
        bidx = torch.arange(rows.shape[0], device=rows.device)[:, None]
        q = feat_a['features'][bidx, rows].flatten(0, 1)  # (B*K, C)
        k = feat_b['features'][bidx, cols].flatten(0, 1)  # (B*K, C), no grad
        groups = bidx.expand_as(rows).flatten()  # (B*K,)
        return self._contrast(self.intra_proj, self.intra_proj, q, k, groups,
                              self.max_intra_pairs)

    def inter_loss(self, rgb: torch.Tensor, feat_a: dict,
                   lidar2img: torch.Tensor,
                   img_shapes: Optional[torch.Tensor] = None,
                   img_feats: Optional[torch.Tensor] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Inter-modal InfoNCE between image and (stop-gradient) points.

        Args:
            rgb (Tensor): (B, 3, H, W) normalised (possibly padded) images.
            feat_a (dict): Point-encoder output of view alpha.
            lidar2img (Tensor): (B, 4, 4) projections into ``rgb``.
            img_shapes (Tensor, optional): (B, 2) unpadded (H, W) of each
                image; points outside them are dropped. Default: (H, W).
            img_feats (Tensor, optional): ``extract_img_feat(rgb)`` if
                already computed.

        Returns:
            tuple[Tensor, Tensor]: Unweighted loss and top-1 accuracy.
        """
        img_hw = tuple(rgb.shape[-2:])
        if img_feats is None:
            img_feats = self.extract_img_feat(rgb)  # (B, C_img, h, w)
        xyz = feat_a['xyz'].detach()  # (B, M, 3)
        uv, valid = project_to_image(
            xyz, lidar2img, img_hw if img_shapes is None else img_shapes,
            self.min_depth)  # (B, M, 2), (B, M)
        f_img = sample_image_features(img_feats, uv, img_hw)  # (B, M, C_img)
        f_pts = feat_a['features'].detach()  # (B, M, C): stop-gradient
        groups = torch.arange(
            valid.shape[0], device=valid.device)[:, None].expand_as(valid)
        q, k = f_img[valid], f_pts[valid]  # (P, C_img), (P, C)
        if q.shape[0] < 2:
            zero = img_feats.sum() * 0.  # keeps the image graph alive
            return zero, zero.detach()
        return self._contrast(self.inter_img_proj, self.inter_pts_proj, q, k,
                              groups[valid], self.max_inter_pairs)

    @staticmethod
    def _image_shapes(data_samples: Sequence[RGBDDataSample],
                      like: torch.Tensor) -> Optional[torch.Tensor]:
        """(B, 2) ``img_shape`` of every sample, or None if one lacks it."""
        shapes = [ds.metainfo.get('img_shape') for ds in data_samples]
        if any(s is None for s in shapes):
            return None
        return torch.tensor([tuple(s[:2]) for s in shapes],
                            device=like.device)  # (B, 2)

    # ------------------------------------------------------------------ #
    # mmengine interface
    # ------------------------------------------------------------------ #
    def loss(self, inputs: dict, data_samples: Sequence[RGBDDataSample]
             ) -> Dict[str, torch.Tensor]:
        """Compute ``loss_intra`` and ``loss_inter`` (weighted).

        Args:
            inputs (dict): ``rgb`` (B, 3, H, W), ``points`` and
                ``points_beta`` (B clouds (N, C) or (B, N, C)).
            data_samples (list[RGBDDataSample]): With ``lidar2img`` and
                ``beta_transform`` metainfo.

        Returns:
            dict[str, Tensor]: ``loss_intra`` / ``loss_inter`` for the terms
            with a non-zero weight, and their top-1 accuracies
            ``acc_intra`` / ``acc_inter``.
        """
        if self.intra_weight == 0 and self.inter_weight == 0:
            raise ValueError('both SimIPU loss weights are 0')
        feat_a = self.extract_pts_feat(inputs['points'])
        losses = {}
        img_feats = None
        if self.intra_weight > 0:
            if 'points_beta' not in inputs:
                raise KeyError('SimIPU needs `points_beta` in the inputs '
                               '(SimIPUTwoView + PackSimIPUInputs)')
            mat = self._meta_matrix(data_samples, 'beta_transform',
                                    feat_a['xyz'])  # (B, 4, 4)
            matching = self.start_matching(
                feat_a, inputs['points_beta'], mat,
                background=self.inter_weight > 0)
            if self.inter_weight > 0:  # runs while the matching is solved
                img_feats = self.extract_img_feat(inputs['rgb'])
            loss, acc = self.intra_loss(feat_a, inputs['points_beta'], mat,
                                        matching)
            losses['loss_intra'] = self.intra_weight * loss
            losses['acc_intra'] = acc
        if self.inter_weight > 0:
            mat = self._meta_matrix(data_samples, 'lidar2img',
                                    feat_a['xyz'])  # (B, 4, 4)
            loss, acc = self.inter_loss(
                inputs['rgb'], feat_a, mat,
                self._image_shapes(data_samples, inputs['rgb']), img_feats)
            losses['loss_inter'] = self.inter_weight * loss
            losses['acc_inter'] = acc
        return losses

    def forward(self,
                inputs: dict,
                data_samples: Optional[List[RGBDDataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'``: :meth:`loss`; ``'tensor'``: :meth:`extract_feat`.

        Args:
            inputs (dict): Preprocessed inputs.
            data_samples (list[RGBDDataSample], optional): Data samples.
            mode (str): ``'loss'`` or ``'tensor'`` (SimIPU has no
                predictions; ``'predict'`` raises).
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'SimIPU supports modes "loss" and "tensor", got '
                           f'"{mode}" (it is a pre-training method without '
                           'predictions)')
