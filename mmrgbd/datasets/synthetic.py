"""Procedural RGB-D rooms rendered by vectorised ray casting.

``SyntheticRGBDScenes`` is the embedded default data of mmrgbd: it needs no
download, is deterministic and fast enough to be generated on the fly. Every
sample is a pure function of ``(seed, index)``.

World frame: z up, the room spans ``[0, Lx] x [0, Ly] x [0, Lz]`` metres.
Camera frame: OpenCV (x right, y down, z forward); pixel centres sit at
integer pixel coordinates, so ``K = [[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2],
[0, 0, 1]]``. Camera rays are cast with direction ``R @ (x_n, y_n, 1)``: the
ray parameter of a hit is then directly the z-depth along the optical axis.

LiDAR frame: x forward, y left, z up (a spinning sensor rigidly mounted just
above and behind the camera). ``lidar2img = K4 @ cam_from_lidar``.
"""
import functools
import hashlib
import json
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.logging import print_log

from mmrgbd.registry import DATASETS
from .base_rgbd import BaseRGBDDataset
from .errors import BadSampleError

__all__ = [
    'SyntheticRGBDScenes', 'SyntheticScene', 'generate_scene', 'cast_rays',
    'render_view', 'scan_lidar', 'render_sample', 'sample_rngs',
    'sample_scene', 'look_rotation', 'sample_trajectory', 'intrinsics_for',
    'lidar_to_cam', 'lidar_reflectivity', 'NIR_RATIO_RANGE',
    'simulate_pseudo_labels', 'PSEUDO_LABEL_CONFUSIONS',
    'PSEUDO_LABEL_DEFAULTS',
    'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE'
]

SYNTHETIC_CLASSES = ('floor', 'wall', 'ceiling', 'door', 'window', 'table',
                     'cabinet', 'bed', 'box', 'ball')
SYNTHETIC_PALETTE = [[128, 64, 128], [70, 70, 70], [190, 153, 153],
                     [153, 102, 51], [0, 191, 255], [220, 180, 50],
                     [120, 60, 200], [250, 120, 160], [60, 180, 75],
                     [230, 25, 75]]
_CLS = {name: i for i, name in enumerate(SYNTHETIC_CLASSES)}

# Room faces are the first six objects of every scene.
_FLOOR, _CEILING, _WALL_X0, _WALL_X1, _WALL_Y0, _WALL_Y1 = range(6)
# face id for (exit axis, ray goes to the positive side): index 2*axis + pos
_FACE_OF_EXIT = np.array(
    [_WALL_X0, _WALL_X1, _WALL_Y0, _WALL_Y1, _FLOOR, _CEILING], dtype=np.int16)

# Texture kinds.
_PLAIN, _CHECKER, _STRIPES, _NOISE = range(4)
_SPHERE_AXIS = 3  # ``axis`` code of sphere hits (0, 1, 2 = axis normal)

#: Range of the per-material ratio of near-infrared reflectance to visible
#: luminance (:func:`lidar_reflectivity`).
NIR_RATIO_RANGE = (0.75, 1.25)
_LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709 luminance weights

_NEAR = 0.05  # metres; near plane used for culling
_FPS = 30.0  # base frame rate of the clip trajectories
_LIDAR_FROM_CAM_R = np.array([[0., 0., 1.], [-1., 0., 0.], [0., -1., 0.]])
_LIDAR_OFFSET_IN_CAM = np.array([0., -0.10, -0.05])  # 10 cm up, 5 cm back


class SyntheticScene:
    """A procedural room: six faces, axis-aligned boxes and spheres.

    Every object (faces first, then boxes, then spheres) has a material row in
    the per-object tables.

    Args:
        size (np.ndarray): Room size ``(Lx, Ly, Lz)`` in metres.
        boxes_lo (np.ndarray): (Nb, 3) box minimum corners.
        boxes_hi (np.ndarray): (Nb, 3) box maximum corners.
        spheres (np.ndarray): (Ns, 4) sphere centres and radii.
        obj_class (np.ndarray): (N_obj,) class ids.
        color1 (np.ndarray): (N_obj, 3) base colours in [0, 1].
        color2 (np.ndarray): (N_obj, 3) second texture colours in [0, 1].
        texture (np.ndarray): (N_obj,) texture kind (plain, checker, stripes,
            noise).
        tex_scale (np.ndarray): (N_obj,) texture period in metres.
        nir_ratio (np.ndarray): (N_obj,) ratio of the material's
            near-infrared (LiDAR) reflectance to the luminance of its visible
            albedo (see :func:`lidar_reflectivity`).
        light (np.ndarray): (3,) point light position.
        noise_tile (np.ndarray): (32, 32) periodic noise in [0, 1].
    """

    def __init__(self, size, boxes_lo, boxes_hi, spheres, obj_class, color1,
                 color2, texture, tex_scale, nir_ratio, light, noise_tile):
        self.size = np.asarray(size, dtype=np.float64)
        self.boxes_lo = np.asarray(boxes_lo, dtype=np.float64).reshape(-1, 3)
        self.boxes_hi = np.asarray(boxes_hi, dtype=np.float64).reshape(-1, 3)
        self.spheres = np.asarray(spheres, dtype=np.float64).reshape(-1, 4)
        self.obj_class = np.asarray(obj_class, dtype=np.int64)
        self.color1 = np.asarray(color1, dtype=np.float32)
        self.color2 = np.asarray(color2, dtype=np.float32)
        self.texture = np.asarray(texture, dtype=np.int8)
        self.tex_scale = np.asarray(tex_scale, dtype=np.float32)
        self.nir_ratio = np.asarray(nir_ratio, dtype=np.float32)
        self.light = np.asarray(light, dtype=np.float64)
        self.noise_tile = np.asarray(noise_tile, dtype=np.float32)

    @property
    def num_boxes(self) -> int:
        """int: Number of boxes."""
        return len(self.boxes_lo)

    @property
    def num_objects(self) -> int:
        """int: Faces + boxes + spheres."""
        return 6 + len(self.boxes_lo) + len(self.spheres)

    def object_bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds of the boxes and spheres (faces excluded).

        Returns:
            tuple[np.ndarray, np.ndarray]: (N_box + N_sphere, 3) lows, highs.
        """
        c, r = self.spheres[:, :3], self.spheres[:, 3:]
        lo = np.concatenate([self.boxes_lo, c - r], axis=0)
        hi = np.concatenate([self.boxes_hi, c + r], axis=0)
        return lo, hi


# ----------------------------------------------------------------------------
# scene generation
# ----------------------------------------------------------------------------
def _periodic_noise(rng: np.random.Generator, n: int = 32) -> np.ndarray:
    """A smooth tileable noise image in [0, 1] (sum of integer-frequency
    sinusoids)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) / n
    tile = np.zeros((n, n))
    for _ in range(7):
        fx, fy = rng.integers(-4, 5, size=2)
        amp = rng.uniform(0.3, 1.0) / (1.0 + np.hypot(fx, fy))
        tile += amp * np.sin(2 * np.pi *
                             (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
    tile -= tile.min()
    tile /= max(tile.max(), 1e-6)
    return tile.astype(np.float32)


def _random_color(rng, lo=0.15, hi=0.95) -> np.ndarray:
    """A random RGB colour with moderate saturation."""
    base = rng.uniform(lo, hi)
    return np.clip(base + rng.uniform(-0.3, 0.3, size=3), 0.05, 1.0)


def _overlaps(rect, rects, margin) -> bool:
    """Whether the 2D rectangle ``(x0, y0, x1, y1)`` overlaps any of
    ``rects`` grown by ``margin``."""
    x0, y0, x1, y1 = rect
    for a0, b0, a1, b1 in rects:
        if (x0 < a1 + margin and a0 - margin < x1 and y0 < b1 + margin
                and b0 - margin < y1):
            return True
    return False


def _against_wall(rng, size, w, d, gap=0.02):
    """Footprint (x0, y0, x1, y1) of a ``w`` x ``d`` object whose back
    touches a random wall (with a small gap)."""
    lx, ly = size[0], size[1]
    wall = rng.integers(4)
    if wall in (0, 1):  # against x = 0 or x = Lx: depth along x
        if ly - w < 0.2:
            return None
        y0 = rng.uniform(0.1, ly - w - 0.1)
        x0 = gap if wall == 0 else lx - gap - d
        return (x0, y0, x0 + d, y0 + w)
    if lx - w < 0.2:
        return None
    x0 = rng.uniform(0.1, lx - w - 0.1)
    y0 = gap if wall == 2 else ly - gap - d
    return (x0, y0, x0 + w, y0 + d)


def generate_scene(rng: np.random.Generator,
                   max_objects: int = 12) -> SyntheticScene:
    """Generate a random furnished room.

    The room has a door, 0-2 windows, a table (top + two panel legs), 1-2
    cabinets, maybe a bed, small boxes and balls (on the floor or on the
    table), 6-12 objects in total.

    Args:
        rng (np.random.Generator): The only source of randomness.
        max_objects (int): Cap on boxes + spheres. Defaults to 12.

    Returns:
        SyntheticScene: The scene.
    """
    size = np.array(
        [rng.uniform(3.5, 7.0),
         rng.uniform(3.0, 6.0),
         rng.uniform(2.4, 3.1)])
    lx, ly, lz = size
    boxes: List[Tuple[np.ndarray, np.ndarray, int]] = []
    spheres: List[Tuple[np.ndarray, float]] = []
    footprints: List[Tuple[float, float, float, float]] = []

    def add_box(lo, hi, cls):
        boxes.append((np.asarray(lo, float), np.asarray(hi, float), cls))

    # Door and windows: thin boxes protruding 3-5 cm from a wall.
    def wall_panel(w, z0, z1, cls, keep_clear):
        for _ in range(20):
            wall = rng.integers(4)
            t = rng.uniform(0.03, 0.05)
            along = ly if wall < 2 else lx
            if along - w < 0.4:
                continue
            a0 = rng.uniform(0.2, along - w - 0.2)
            if wall < 2:
                x0 = 0.0 if wall == 0 else lx - t
                rect = (x0, a0, x0 + t, a0 + w)
                clear = (max(x0 - 0.8, 0), a0, min(x0 + t + 0.8, lx), a0 + w)
            else:
                y0 = 0.0 if wall == 2 else ly - t
                rect = (a0, y0, a0 + w, y0 + t)
                clear = (a0, max(y0 - 0.8, 0), a0 + w, min(y0 + t + 0.8, ly))
            if _overlaps(rect, footprints, 0.05):
                continue
            add_box((rect[0], rect[1], z0), (rect[2], rect[3], z1), cls)
            footprints.append(clear if keep_clear else rect)
            return True
        return False

    wall_panel(rng.uniform(0.8, 1.0), 0.0, rng.uniform(1.95, 2.1),
               _CLS['door'], True)
    for _ in range(rng.integers(0, 3)):
        z0 = rng.uniform(0.8, 1.1)
        wall_panel(rng.uniform(0.6, 1.4), z0,
                   min(z0 + rng.uniform(0.7, 1.2), lz - 0.2), _CLS['window'],
                   False)

    table_top = None
    if rng.random() < 0.8:  # table: top + two panel legs
        for _ in range(20):
            w, d = rng.uniform(0.9, 1.6), rng.uniform(0.6, 0.9)
            if rng.random() < 0.5:
                fp = _against_wall(rng, size, w, d)
                if fp is None:
                    continue
            else:
                x0, y0 = rng.uniform(0.3, lx - w - 0.3), rng.uniform(
                    0.3, ly - d - 0.3)
                fp = (x0, y0, x0 + w, y0 + d)
            if _overlaps(fp, footprints, 0.1):
                continue
            h = rng.uniform(0.7, 0.8)
            th = 0.04
            x0, y0, x1, y1 = fp
            add_box((x0, y0, h - th), (x1, y1, h), _CLS['table'])
            leg = 0.05
            if x1 - x0 > y1 - y0:  # legs at the short ends
                add_box((x0 + 0.03, y0 + 0.05, 0),
                        (x0 + 0.03 + leg, y1 - 0.05, h - th), _CLS['table'])
                add_box((x1 - 0.03 - leg, y0 + 0.05, 0),
                        (x1 - 0.03, y1 - 0.05, h - th), _CLS['table'])
            else:
                add_box((x0 + 0.05, y0 + 0.03, 0),
                        (x1 - 0.05, y0 + 0.03 + leg, h - th), _CLS['table'])
                add_box((x0 + 0.05, y1 - 0.03 - leg, 0),
                        (x1 - 0.05, y1 - 0.03, h - th), _CLS['table'])
            footprints.append(fp)
            table_top = (fp, h)
            break

    def furniture(w_rng, d_rng, h_rng, cls):
        for _ in range(20):
            w, d = rng.uniform(*w_rng), rng.uniform(*d_rng)
            fp = _against_wall(rng, size, w, d)
            if fp is None or _overlaps(fp, footprints, 0.1):
                continue
            add_box((fp[0], fp[1], 0), (fp[2], fp[3], rng.uniform(*h_rng)),
                    cls)
            footprints.append(fp)
            return True
        return False

    for _ in range(rng.integers(1, 3)):
        furniture((0.5, 1.2), (0.4, 0.6), (0.8, 2.0), _CLS['cabinet'])
    if rng.random() < 0.4:
        furniture((1.4, 2.0), (1.9, 2.1), (0.45, 0.6), _CLS['bed'])

    # Small boxes and balls, on the floor or on the table.
    n_small = rng.integers(1, 4)
    n_balls = rng.integers(1, 4)
    for kind in ['box'] * n_small + ['ball'] * n_balls:
        if len(boxes) + len(spheres) >= max_objects:
            break
        s = rng.uniform(0.2, 0.5) if kind == 'box' else rng.uniform(0.1, 0.3)
        on_table = table_top is not None and rng.random() < 0.4
        for _ in range(20):
            if on_table:
                (x0, y0, x1, y1), z = table_top
                if min(x1 - x0, y1 - y0) < s + 0.1:
                    on_table = False
                    continue
                cx = rng.uniform(x0 + s / 2 + 0.05, x1 - s / 2 - 0.05)
                cy = rng.uniform(y0 + s / 2 + 0.05, y1 - s / 2 - 0.05)
            else:
                z = 0.0
                cx = rng.uniform(s / 2 + 0.1, lx - s / 2 - 0.1)
                cy = rng.uniform(s / 2 + 0.1, ly - s / 2 - 0.1)
            rect = (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)
            if not on_table and _overlaps(rect, footprints, 0.05):
                continue
            if kind == 'box':
                sh = s * rng.uniform(0.5, 1.2)
                add_box((rect[0], rect[1], z), (rect[2], rect[3], z + sh),
                        _CLS['box'])
            else:
                r = s / 2
                spheres.append((np.array([cx, cy, z + r]), r))
            if not on_table:
                footprints.append(rect)
            break

    # Materials. Faces first (floor, ceiling, walls), then boxes, spheres.
    n_obj = 6 + len(boxes) + len(spheres)
    obj_class = np.empty(n_obj, np.int64)
    color1 = np.empty((n_obj, 3))
    color2 = np.empty((n_obj, 3))
    texture = np.empty(n_obj, np.int8)
    tex_scale = np.empty(n_obj)
    # NIR / visible ratio per material (the same number of draws as the
    # former colour-independent reflectivity, so rooms and images are as
    # before)
    nir_ratio = rng.uniform(*NIR_RATIO_RANGE, size=n_obj)

    def material(i, cls, kinds, scale_rng, lo=0.15, hi=0.95):
        obj_class[i] = cls
        color1[i] = _random_color(rng, lo, hi)
        color2[i] = np.clip(
            color1[i] * rng.uniform(0.3, 0.7) + rng.uniform(0, 0.3, size=3), 0,
            1)
        texture[i] = kinds[rng.integers(len(kinds))]
        tex_scale[i] = rng.uniform(*scale_rng)

    material(_FLOOR, _CLS['floor'], (_CHECKER, _STRIPES, _NOISE), (0.2, 0.6))
    material(_CEILING, _CLS['ceiling'], (_PLAIN, _NOISE), (0.5, 1.0), 0.7,
             0.95)
    wall_col = _random_color(rng, 0.4, 0.95)
    wall_tex = (_PLAIN, _STRIPES, _NOISE)[rng.integers(3)]
    for i in range(_WALL_X0, _WALL_Y1 + 1):
        material(i, _CLS['wall'], (wall_tex, ), (0.1, 0.4))
        color1[i] = np.clip(wall_col * rng.uniform(0.85, 1.1), 0, 1)
    for j, (_, _, cls) in enumerate(boxes):
        material(6 + j, cls, (_PLAIN, _CHECKER, _STRIPES, _NOISE), (0.05, 0.3))
    for j in range(len(spheres)):
        material(6 + len(boxes) + j, _CLS['ball'],
                 (_PLAIN, _STRIPES, _CHECKER), (0.05, 0.15))
    light = np.array([
        lx / 2 + rng.uniform(-0.5, 0.5), ly / 2 + rng.uniform(-0.5, 0.5),
        lz - 0.15
    ])
    return SyntheticScene(size=size,
                          boxes_lo=[b[0] for b in boxes],
                          boxes_hi=[b[1] for b in boxes],
                          spheres=[np.append(c, r) for c, r in spheres],
                          obj_class=obj_class,
                          color1=color1,
                          color2=color2,
                          texture=texture,
                          tex_scale=tex_scale,
                          nir_ratio=nir_ratio,
                          light=light,
                          noise_tile=_periodic_noise(rng))


# ----------------------------------------------------------------------------
# cameras and trajectories
# ----------------------------------------------------------------------------
def look_rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """World-from-camera rotation of an OpenCV camera in a z-up world.

    Args:
        yaw (float): Heading of the optical axis, radians from +x towards +y.
        pitch (float): Elevation of the optical axis (negative looks down).
        roll (float): Rotation about the optical axis.

    Returns:
        np.ndarray: (3, 3) rotation whose columns are the camera x (right),
        y (down) and z (forward) axes in world coordinates.
    """
    f = np.array([
        np.cos(yaw) * np.cos(pitch),
        np.sin(yaw) * np.cos(pitch),
        np.sin(pitch)
    ])
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    c, s = np.cos(roll), np.sin(roll)
    r, d = c * r + s * d, -s * r + c * d
    return np.stack([r, d, f], axis=1)


def _free(scene: SyntheticScene, p: np.ndarray, margin: float) -> bool:
    """Whether ``p`` is inside the room and at least ``margin`` from every
    object's bounding box."""
    if np.any(p < margin) or np.any(p > scene.size - margin):
        return False
    lo, hi = scene.object_bounds()
    inside = np.all((p > lo - margin) & (p < hi + margin), axis=1)
    return not inside.any()


def sample_trajectory(scene: SyntheticScene,
                      rng: np.random.Generator,
                      times: np.ndarray,
                      margin: float = 0.35) -> np.ndarray:
    """A smooth camera trajectory inside the free space of the room.

    The camera walks on a straight line with a small sinusoidal bob, turns at
    a constant rate and sways its pitch slightly. A single frame is
    ``times = [0]``.

    Args:
        scene (SyntheticScene): The room.
        rng (np.random.Generator): Randomness.
        times (np.ndarray): (T,) time stamps in seconds.
        margin (float): Minimum clearance to walls and objects (metres).

    Returns:
        np.ndarray: (T, 4, 4) float64 camera-to-world poses.
    """
    times = np.asarray(times, dtype=np.float64)
    lo, hi = scene.object_bounds()
    targets = (lo + hi) / 2  # (N, 3) object centres
    for attempt in range(200):
        speed_scale = 1.0 if attempt < 100 else 0.3
        p0 = np.array([
            rng.uniform(margin, scene.size[0] - margin),
            rng.uniform(margin, scene.size[1] - margin),
            rng.uniform(1.0, min(1.7, scene.size[2] - 0.5))
        ])
        # look at an object most of the time, else at the room centre
        if len(targets) and rng.random() < 0.8:
            aim = targets[rng.integers(len(targets))]
            jitter = 0.4
        else:
            aim = np.append(scene.size[:2] / 2, 1.0)
            jitter = 1.0
        to_c = aim - p0
        yaw0 = np.arctan2(to_c[1], to_c[0]) + rng.uniform(-jitter, jitter)
        pitch0 = np.clip(
            np.arctan2(to_c[2], np.linalg.norm(to_c[:2])) +
            rng.uniform(-0.15, 0.15), -0.7, 0.1)
        roll0 = rng.uniform(-0.05, 0.05)
        heading = yaw0 + rng.uniform(-1.2, 1.2)
        speed = rng.uniform(0.2, 0.6) * speed_scale
        vel = speed * np.array([np.cos(heading), np.sin(heading), 0.0])
        yaw_rate = rng.uniform(-0.35, 0.35) * speed_scale
        bob_f, bob_a = rng.uniform(1.0, 2.0), rng.uniform(0.0, 0.02)
        sway_f, sway_a = rng.uniform(0.2, 0.6), rng.uniform(0.0, 0.05)
        pos = p0[None] + times[:, None] * vel[None]  # (T, 3)
        pos[:, 2] += bob_a * np.sin(2 * np.pi * bob_f * times)
        if not all(_free(scene, p, margin) for p in pos):
            continue
        poses = np.tile(np.eye(4), (len(times), 1, 1))  # (T, 4, 4)
        for k, t in enumerate(times):
            poses[k, :3, :3] = look_rotation(
                yaw0 + yaw_rate * t,
                pitch0 + sway_a * np.sin(2 * np.pi * sway_f * t), roll0)
            poses[k, :3, 3] = pos[k]
        return poses
    raise RuntimeError('could not place a camera in the synthetic room')


def intrinsics_for(img_size: Tuple[int, int], hfov: float) -> np.ndarray:
    """Pinhole K with square pixels and the principal point at the centre.

    Args:
        img_size (tuple[int, int]): (H, W).
        hfov (float): Horizontal field of view in radians.

    Returns:
        np.ndarray: (3, 3) float64 intrinsics; pixel centres are integers.
    """
    h, w = img_size
    f = w / (2 * np.tan(hfov / 2))
    return np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])


def lidar_to_cam() -> np.ndarray:
    """Fixed rig extrinsic: (4, 4) camera-from-LiDAR transform.

    The LiDAR (x forward, y left, z up) sits 10 cm above and 5 cm behind the
    camera and looks in the same direction.
    """
    cam_from_lidar = np.eye(4)
    cam_from_lidar[:3, :3] = _LIDAR_FROM_CAM_R.T
    cam_from_lidar[:3, 3] = _LIDAR_OFFSET_IN_CAM
    return cam_from_lidar


# ----------------------------------------------------------------------------
# ray casting
# ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _camera_rays(h: int, w: int, fx: float, fy: float, cx: float,
                 cy: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised image coordinates of the pixel centres and 1/|ray|."""
    xn = ((np.arange(w, dtype=np.float32) - cx) / fx)[None, :]  # (1, W)
    yn = ((np.arange(h, dtype=np.float32) - cy) / fy)[:, None]  # (H, 1)
    inv_norm = (1.0 / np.sqrt(1.0 + xn * xn + yn * yn)).astype(np.float32)
    for a in (xn, yn, inv_norm):
        a.setflags(write=False)
    return xn, yn, inv_norm  # (1, W), (H, 1), (H, W)


def _f(v) -> List[float]:
    """Python floats (weak scalars keep float32 arrays in float32)."""
    return [float(x) for x in np.ravel(v)]


def cast_rays(scene: SyntheticScene,
              origin: np.ndarray,
              dirs: Sequence[np.ndarray],
              cull: Optional[List[Optional[tuple]]] = None):
    """Cast rays from one origin against the room, its boxes and spheres.

    Closed-form intersections over all rays at once: exit of the room box
    (slabs), entry of each box (slab method) and the nearest root of each
    sphere's quadratic. A ray starting outside every object always hits
    something (the room is closed).

    Args:
        scene (SyntheticScene): The scene.
        origin (np.ndarray): (3,) ray origin (world), strictly inside the room
            and outside every object.
        dirs (Sequence[np.ndarray]): World direction components
            ``(dx, dy, dz)``, float32 arrays of one shape S (need not be
            unit length; the returned ``t`` is in units of the direction).
        cull (list[tuple | None], optional): Per box/sphere index expression
            (e.g. a pair of slices) of the rays that can hit it, or None
            for all rays. Default None (test every ray).

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``t`` (S) float32 ray
        parameter of the hit, ``obj`` (S) int16 object id, ``axis`` (S) int8
        normal axis (0, 1, 2) or 3 for spheres.
    """
    dx, dy, dz = dirs
    ox, oy, oz = _f(origin)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = [np.float32(1.0) / d for d in (dx, dy, dz)]
    lo, hi = (0.0, 0.0, 0.0), _f(scene.size)
    o = (ox, oy, oz)
    # room exit: for each axis the wall in the ray's direction
    t = None
    for a in range(3):
        ta = np.maximum((lo[a] - o[a]) * inv[a], (hi[a] - o[a]) * inv[a])
        if t is None:
            t, axis = ta, np.zeros(ta.shape, np.int8)
        else:
            closer = ta < t
            t = np.where(closer, ta, t)
            axis[closer] = a
    pos_dir = np.where(axis == 0, dx > 0, np.where(axis == 1, dy > 0, dz > 0))
    obj = _FACE_OF_EXIT[2 * axis + pos_dir]  # (S,) int16

    def region(k):
        return Ellipsis if cull is None or cull[k] is None else cull[k]

    for j in range(scene.num_boxes):
        sl = region(j)
        blo, bhi = _f(scene.boxes_lo[j]), _f(scene.boxes_hi[j])
        tn = tf = None
        near = []
        for a in range(3):
            ia = inv[a][sl] if inv[a].ndim else inv[a]
            t1 = (blo[a] - o[a]) * ia
            t2 = (bhi[a] - o[a]) * ia
            n_a, f_a = np.minimum(t1, t2), np.maximum(t1, t2)
            near.append(n_a)
            tn = n_a if tn is None else np.maximum(tn, n_a)
            tf = f_a if tf is None else np.minimum(tf, f_a)
        t_sl = t[sl]
        hit = (tn <= tf) & (tn > 0) & (tn < t_sl)
        if not hit.any():
            continue
        ax = np.where(near[0][hit] == tn[hit], 0,
                      np.where(near[1][hit] == tn[hit], 1, 2))
        t_sl[hit] = tn[hit]
        obj[sl][hit] = 6 + j
        axis[sl][hit] = ax
    for j, (cx, cy, cz, r) in enumerate(scene.spheres.tolist()):
        sl = region(scene.num_boxes + j)
        sx, sy, sz = dx[sl], dy[sl], dz[sl]
        ocx, ocy, ocz = ox - cx, oy - cy, oz - cz
        b = sx * ocx + sy * ocy + sz * ocz
        a2 = sx * sx + sy * sy + sz * sz
        c = ocx * ocx + ocy * ocy + ocz * ocz - r * r
        disc = b * b - a2 * c
        hit = disc > 0
        if not hit.any():
            continue
        ts = (-b - np.sqrt(np.maximum(disc, 0))) / a2
        t_sl = t[sl]
        hit &= (ts > 0) & (ts < t_sl)
        t_sl[hit] = ts[hit]
        obj[sl][hit] = 6 + scene.num_boxes + j
        axis[sl][hit] = _SPHERE_AXIS
    return t, obj, axis


def _surface(scene, origin, dirs, t, obj, axis):
    """Hit points and unit normals of cast rays.

    Returns:
        tuple: ``(px, py, pz), (nx, ny, nz)`` float32 arrays of shape S.
    """
    ox, oy, oz = _f(origin)
    p = [ox + t * dirs[0], oy + t * dirs[1], oz + t * dirs[2]]
    n = []
    for a in range(3):  # axis faces face the incoming ray
        n.append(
            np.where(axis == a, -np.sign(dirs[a]),
                     np.float32(0)).astype(np.float32))
    sph = axis == _SPHERE_AXIS
    if sph.any():
        k = obj[sph] - 6 - scene.num_boxes
        cen = scene.spheres[k].astype(np.float32)  # (M, 4)
        for a in range(3):
            n[a][sph] = (p[a][sph] - cen[:, a]) / cen[:, 3]
    return p, n


def _texture(scene, p, axis, obj):
    """Per-pixel texture mix factor from the object's procedural texture.

    Surface coordinates are the two world coordinates across the normal
    axis (spheres use x and z). Checker and stripes are parities of the
    integer cell, noise samples the scene's tileable noise image.

    Returns:
        np.ndarray: (S) float32 in [0, 1]: 0 = ``color1``, 1 = ``color2``.
    """
    u = np.where(axis == 0, p[1], p[0])
    v = np.where(axis == 2, p[1], p[2])
    kind = scene.texture
    inv_s = (1.0 / scene.tex_scale)[obj]
    # +64 keeps the values positive so that truncation is the floor
    uu = (u * inv_s + 64).astype(np.int32)
    vv = (v * inv_s + 64).astype(np.int32)
    use_v = (kind == _CHECKER).astype(np.int32)[obj]
    parity = ((uu + use_v * vv) & 1).astype(np.float32)
    parity_gain = np.isin(kind, (_CHECKER, _STRIPES)).astype(np.float32)
    m = parity * parity_gain[obj]
    if (kind == _NOISE).any():
        noise_gain = (kind == _NOISE).astype(np.float32)[obj]
        nu = (u * inv_s * 8 + 512).astype(np.int32) & 31
        nv = (v * inv_s * 8 + 512).astype(np.int32) & 31
        m += scene.noise_tile[nv, nu] * noise_gain
    return m


def _albedo(scene, p, axis, obj) -> List[np.ndarray]:
    """Visible albedo of every hit: ``color1 + m * (color2 - color1)`` of the
    hit object with its texture mix ``m`` (:func:`_texture`).

    Returns:
        list[np.ndarray]: R, G, B arrays of shape S (float32, [0, 1]).
    """
    m = _texture(scene, p, axis, obj)
    out = []
    for c in range(3):
        c1 = scene.color1[:, c]
        diff = scene.color2[:, c] - c1
        out.append(c1[obj] + m * diff[obj])
    return out


def lidar_reflectivity(scene: SyntheticScene, p, axis: np.ndarray,
                       obj: np.ndarray) -> np.ndarray:
    """Near-infrared (LiDAR) reflectivity of surface hits.

    Model: the reflectivity of a diffuse surface at the LiDAR wavelength
    follows its visible albedo -- bright paint, paper or fabric return more
    than dark ones -- but not exactly (dyes and pigments differ between the
    visible and the near infrared). So the reflectivity of a hit is the
    Rec. 709 luminance of the **local** albedo (texture included, as the
    camera sees it before shading) times the material's ``nir_ratio``
    (drawn per object in ``NIR_RATIO_RANGE``), clipped to [0, 1]. The LiDAR
    intensity is this reflectivity times ``|cos incidence|``
    (:func:`scan_lidar`); the image shows the same albedo under the room's
    lighting, so the image predicts the intensity up to shading and the
    material's ratio -- as on real scans, where intensity follows road
    paint, plates and vegetation that the image shows.

    Args:
        scene (SyntheticScene): The scene.
        p (Sequence[np.ndarray]): World hit coordinates (x, y, z), shape S.
        axis (np.ndarray): Normal axis code of the hits (S).
        obj (np.ndarray): Object id of the hits (S).

    Returns:
        np.ndarray: (S) float32 reflectivity in [0, 1].
    """
    r, g, b = _albedo(scene, p, axis, obj)
    luma = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    return np.clip(scene.nir_ratio[obj] * luma, 0, 1).astype(np.float32)


def _cull_regions(scene, cam2world, K, img_size):
    """Pixel rectangles that can see each box / sphere (projected bounds)."""
    h, w = img_size
    lo, hi = scene.object_bounds()
    if len(lo) == 0:
        return []
    corners = np.stack([
        np.where(np.array(m, bool)[None], hi, lo) for m in np.ndindex(2, 2, 2)
    ],
                       axis=1)  # (N, 8, 3)
    rot, trans = cam2world[:3, :3], cam2world[:3, 3]
    pc = (corners - trans) @ rot  # (N, 8, 3) camera coordinates
    regions = []
    for c in pc:
        if np.any(c[:, 2] <= _NEAR):
            regions.append(None)
            continue
        uv = c[:, :2] / c[:, 2:] * np.diag(K)[:2] + K[:2, 2]  # (8, 2)
        u0 = int(np.clip(np.floor(uv[:, 0].min()) - 1, 0, w))
        u1 = int(np.clip(np.ceil(uv[:, 0].max()) + 2, 0, w))
        v0 = int(np.clip(np.floor(uv[:, 1].min()) - 1, 0, h))
        v1 = int(np.clip(np.ceil(uv[:, 1].max()) + 2, 0, h))
        regions.append((slice(v0, max(v0, v1)), slice(u0, max(u0, u1))))
    return regions


def render_view(scene: SyntheticScene,
                cam2world: np.ndarray,
                K: np.ndarray,
                img_size: Tuple[int, int],
                rng: Optional[np.random.Generator] = None,
                max_depth: float = 10.0) -> Dict[str, np.ndarray]:
    """Ray-cast one RGB-D view with semantics and sensor-like depth holes.

    Shading is Lambertian under a ceiling point light plus ambient, on top of
    the per-object colour and texture. Depth holes: depth discontinuities
    (both sides of a jump), grazing angles, random blobs and pixel dropout,
    and anything beyond ``max_depth``. Without ``rng`` only the
    deterministic holes (edges, grazing, range) are made.

    Args:
        scene (SyntheticScene): The scene.
        cam2world (np.ndarray): (4, 4) camera pose (OpenCV camera axes).
        K (np.ndarray): (3, 3) intrinsics for ``img_size``.
        img_size (tuple[int, int]): (H, W).
        rng (np.random.Generator, optional): Randomness for the holes.
        max_depth (float): Sensor range in metres. Defaults to 10.

    Returns:
        dict: ``rgb`` uint8 (H, W, 3), ``depth`` float32 (H, W) metres
        (0 where invalid), ``depth_valid`` bool (H, W), ``semseg`` int64
        (H, W) class ids, ``instance`` int16 (H, W) object ids (faces 0-5,
        then boxes, spheres), ``depth_gt`` float32 (H, W) hole-free
        z-depth.
    """
    h, w = img_size
    xn, yn, inv_norm = _camera_rays(h, w, float(K[0, 0]), float(K[1, 1]),
                                    float(K[0, 2]), float(K[1, 2]))
    R = cam2world[:3, :3].astype(np.float32)
    origin = cam2world[:3, 3]
    # world directions with unit z in the camera frame -> t is the z-depth
    dirs = [R[a, 0] * xn + R[a, 1] * yn + R[a, 2] for a in range(3)]  # (H, W)
    regions = _cull_regions(scene, cam2world, K, img_size)
    t, obj, axis = cast_rays(scene, origin, dirs, regions)
    p, n = _surface(scene, origin, dirs, t, obj, axis)

    # shading: ambient + Lambert from the point light, inverse-square falloff
    lx, ly, lz = _f(scene.light)
    vx, vy, vz = lx - p[0], ly - p[1], lz - p[2]
    dist2 = vx * vx + vy * vy + vz * vz
    ndotl = (n[0] * vx + n[1] * vy + n[2] * vz) / np.sqrt(dist2)
    lambert = np.maximum(ndotl, 0) * (6.0 / (4.0 + dist2))
    shade = (0.35 * 255) + (0.8 * 255) * lambert  # (H, W)
    channels = [a * shade for a in _albedo(scene, p, axis, obj)]
    rgb = cv2.convertScaleAbs(cv2.merge(channels))  # (H, W, 3) uint8

    # depth holes
    cos_inc = np.abs(n[0] * dirs[0] + n[1] * dirs[1] + n[2] * dirs[2])
    invalid = (cos_inc * inv_norm < 0.1) | (t > max_depth)
    jump_x = np.abs(t[:, 1:] - t[:, :-1]) > 0.03 + 0.03 * t[:, 1:]
    jump_y = np.abs(t[1:] - t[:-1]) > 0.03 + 0.03 * t[1:]
    invalid[:, 1:] |= jump_x
    invalid[:, :-1] |= jump_x
    invalid[1:] |= jump_y
    invalid[:-1] |= jump_y
    if rng is not None:
        gh, gw = max(h // 24, 2), max(w // 24, 2)
        coarse = rng.random((gh, gw), dtype=np.float32)
        field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
        invalid |= field < rng.uniform(0.06, 0.2)
        invalid |= rng.random((h, w), dtype=np.float32) < 0.005
    valid = ~invalid
    depth = np.where(valid, t, np.float32(0)).astype(np.float32)
    return dict(rgb=rgb,
                depth=depth,
                depth_valid=valid,
                semseg=scene.obj_class[obj],
                instance=obj,
                depth_gt=t.astype(np.float32))


def scan_lidar(scene: SyntheticScene,
               lidar2world: np.ndarray,
               rng: Optional[np.random.Generator] = None,
               num_beams: int = 16,
               num_azimuths: int = 720,
               elevation_range: Tuple[float, float] = (-15.0, 15.0),
               max_range: float = 30.0,
               range_noise: float = 0.005,
               dropout: float = 0.02) -> np.ndarray:
    """Scan the room with a virtual spinning LiDAR (same ray caster).

    ``num_beams`` elevation rings times ``num_azimuths`` full-circle azimuths;
    intensity = reflectivity x |cos incidence|, the reflectivity following
    the local albedo (:func:`lidar_reflectivity`). Some returns drop out at
    random; ranges get Gaussian noise (along the ray).

    Args:
        scene (SyntheticScene): The scene.
        lidar2world (np.ndarray): (4, 4) LiDAR pose (x fwd, y left, z up).
        rng (np.random.Generator, optional): Randomness for noise/dropout.
        num_beams (int): Elevation rings. Defaults to 16.
        num_azimuths (int): Azimuth steps per ring. Defaults to 720.
        elevation_range (tuple[float, float]): Degrees. Defaults to ±15.
        max_range (float): Metres. Defaults to 30.
        range_noise (float): Std of the range noise (m). Defaults to 0.005.
        dropout (float): Fraction of lost returns. Defaults to 0.02.

    Returns:
        np.ndarray: (N, 4) float32 points ``(x, y, z, intensity)`` in the
        LiDAR frame.
    """
    el = np.deg2rad(np.linspace(*elevation_range, num_beams))[:, None]
    az = (2 * np.pi * np.arange(num_azimuths) / num_azimuths)[None, :]
    local = [
        np.cos(el) * np.cos(az),
        np.cos(el) * np.sin(az),
        np.sin(el) * np.ones_like(az)
    ]  # 3 x (B, A)
    local = [c.astype(np.float32) for c in local]
    R = lidar2world[:3, :3].astype(np.float32)
    dirs = [
        R[a, 0] * local[0] + R[a, 1] * local[1] + R[a, 2] * local[2]
        for a in range(3)
    ]  # 3 x (B, A) unit world directions
    origin = lidar2world[:3, 3]
    t, obj, axis = cast_rays(scene, origin, dirs)
    p, n = _surface(scene, origin, dirs, t, obj, axis)
    cos_inc = np.abs(n[0] * dirs[0] + n[1] * dirs[1] + n[2] * dirs[2])
    intensity = np.clip(
        lidar_reflectivity(scene, p, axis, obj) * cos_inc, 0, 1)
    keep = t < max_range
    if rng is not None:
        t = t + rng.normal(0, range_noise, t.shape).astype(np.float32)
        keep &= rng.random(t.shape) >= dropout
    pts = np.stack([local[0] * t, local[1] * t, local[2] * t, intensity],
                   axis=-1)  # (B, A, 4)
    return pts[keep].astype(np.float32)  # (N, 4)


# ----------------------------------------------------------------------------
# pseudo labels
# ----------------------------------------------------------------------------
#: Classes an off-the-shelf segmenter confuses with each class (similar
#: shape or context); room faces (floor, wall, ceiling) are never confused.
PSEUDO_LABEL_CONFUSIONS = {
    _CLS['door']: (_CLS['wall'], _CLS['cabinet']),
    _CLS['window']: (_CLS['wall'], ),
    _CLS['table']: (_CLS['cabinet'], _CLS['bed']),
    _CLS['cabinet']: (_CLS['box'], _CLS['table'], _CLS['door']),
    _CLS['bed']: (_CLS['table'], ),
    _CLS['box']: (_CLS['cabinet'], _CLS['ball']),
    _CLS['ball']: (_CLS['box'], ),
}

#: ``semseg_source`` values of :func:`render_sample`.
SEMSEG_SOURCES = ('gt', 'pseudo')

#: Default error model of :func:`simulate_pseudo_labels`.
PSEUDO_LABEL_DEFAULTS = dict(
    confusion_prob=0.2, min_area=0.004, boundary_jitter=0.02)


def simulate_pseudo_labels(semseg: np.ndarray,
                           instance: np.ndarray,
                           rng: np.random.Generator,
                           confusion_prob: float = 0.2,
                           min_area: float = 0.004,
                           boundary_jitter: float = 0.02) -> np.ndarray:
    """Degrade a ground-truth label map as an off-the-shelf segmenter would.

    MultiMAE pre-trains on **pseudo labels** (a COCO Mask2Former run on
    ImageNet), not on ground truth. This is a documented model of such a
    labeller's errors, applied in this order:

    1. **Class confusions per segment**: every object that is not a room face
       is, with probability ``confusion_prob``, labelled as a confusable
       class (:data:`PSEUDO_LABEL_CONFUSIONS`, uniformly among them) --
       the whole segment, as a segmenter labels masks, not pixels.
    2. **Missed small objects**: an object covering less than ``min_area``
       of the image takes the most frequent label around it (a 1-pixel ring
       outside its mask).
    3. **Imprecise boundaries**: the map is resampled (nearest) through a
       smooth random displacement field (a 4 x 5 grid of Gaussian offsets,
       std ``boundary_jitter`` x image width, bilinearly upsampled), so
       boundaries wander by a few pixels while region interiors stay.

    Args:
        semseg (np.ndarray): (H, W) ground-truth class ids.
        instance (np.ndarray): (H, W) object ids; room faces are 0-5.
        rng (np.random.Generator): The only source of randomness.
        confusion_prob (float): Per-object confusion probability.
        min_area (float): Smallest detected object, fraction of the image.
        boundary_jitter (float): Displacement std, fraction of the width.

    Returns:
        np.ndarray: (H, W) int64 pseudo labels.
    """
    h, w = semseg.shape
    out = semseg.astype(np.int64).copy()
    ids, first, counts = np.unique(instance, return_index=True,
                                   return_counts=True)
    classes = out.ravel()[first]
    objects = ids >= 6  # room faces are never confused nor missed
    draws = rng.random(len(ids))  # one draw per object, faces included
    picks = rng.random(len(ids))
    for k in np.flatnonzero(objects):
        alts = PSEUDO_LABEL_CONFUSIONS.get(int(classes[k]))
        if alts and draws[k] < confusion_prob:
            out[instance == ids[k]] = alts[int(picks[k] * len(alts))]
    kernel = np.ones((3, 3), np.uint8)
    for k in np.flatnonzero(objects & (counts < min_area * h * w)):
        mask = (instance == ids[k]).astype(np.uint8)
        ring = cv2.dilate(mask, kernel).astype(bool) & ~mask.astype(bool)
        if ring.any():
            vals, n = np.unique(out[ring], return_counts=True)
            out[mask.astype(bool)] = vals[np.argmax(n)]
    if boundary_jitter > 0:
        coarse = rng.normal(0, boundary_jitter * w, size=(2, 4, 5))
        dx, dy = (cv2.resize(c.astype(np.float32), (w, h),
                             interpolation=cv2.INTER_LINEAR) for c in coarse)
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)  # (H, W) each
        out = cv2.remap(out.astype(np.float32), gx + dx, gy + dy,
                        interpolation=cv2.INTER_NEAREST,
                        borderMode=cv2.BORDER_REPLICATE).astype(np.int64)
    return out


# ----------------------------------------------------------------------------
# samples
# ----------------------------------------------------------------------------
def sample_rngs(seed: int, index: int) -> Dict[str, np.random.Generator]:
    """Independent random streams of sample ``index``.

    Args:
        seed (int): Dataset seed.
        index (int): Sample index.

    Returns:
        dict[str, np.random.Generator]: ``scene``, ``camera``, ``holes``,
        ``lidar`` and ``pseudo`` (pseudo-label errors) generators spawned
        from ``SeedSequence([seed, index])`` (a child's stream does not
        depend on how many are spawned).
    """
    children = np.random.SeedSequence([int(seed), int(index)]).spawn(5)
    names = ('scene', 'camera', 'holes', 'lidar', 'pseudo')
    return {n: np.random.default_rng(c) for n, c in zip(names, children)}


def sample_scene(seed: int, index: int) -> SyntheticScene:
    """The room of sample ``index`` (as used by :func:`render_sample`).

    Args:
        seed (int): Dataset seed.
        index (int): Sample index.

    Returns:
        SyntheticScene: The scene.
    """
    return generate_scene(sample_rngs(seed, index)['scene'])


def render_sample(seed: int,
                  index: int,
                  img_size: Tuple[int, int] = (240, 320),
                  mode: str = 'frame',
                  with_points: bool = False,
                  num_frames: int = 16,
                  frame_interval: int = 4,
                  lidar_cfg: Optional[dict] = None,
                  semseg_source: str = 'gt',
                  pseudo_label_cfg: Optional[dict] = None,
                  with_depth_gt: bool = False) -> dict:
    """Render sample ``index`` of the synthetic dataset with ``seed``.

    A pure function of its arguments: the scene, the camera, the depth holes,
    the LiDAR noise and the pseudo-label errors come from independent
    streams of :func:`sample_rngs`, so the scene and the camera do not
    depend on the image size, ``with_points`` or ``semseg_source``.

    Args:
        seed (int): Dataset seed.
        index (int): Sample index.
        img_size (tuple[int, int]): (H, W). Defaults to (240, 320).
        mode (str): ``'frame'`` or ``'clip'``.
        with_points (bool): Add a LiDAR scan (frame mode only).
        num_frames (int): Clip length T. Defaults to 16.
        frame_interval (int): Clip stride in 30 fps base frames.
        lidar_cfg (dict, optional): Extra arguments of :func:`scan_lidar`.
        semseg_source (str): ``'gt'`` (the rendered classes) or
            ``'pseudo'`` (:func:`simulate_pseudo_labels` of them, each frame
            on its own as a per-image labeller).
        pseudo_label_cfg (dict, optional): Arguments of
            :func:`simulate_pseudo_labels` (default
            :data:`PSEUDO_LABEL_DEFAULTS`).
        with_depth_gt (bool): Also return ``depth_gt``, the hole-free
            z-depth (what a dataset's in-painted "filled" depth stands for).

    Returns:
        dict: Arrays following the sample contract (``rgb``, ``depth``,
        ``depth_valid``, ``semseg``, ``intrinsics``, ``cam2world``, and
        ``points`` + ``lidar2img`` + ``lidar2cam`` with points). Clips have a
        leading T axis on ``rgb``, ``depth``, ``depth_valid``, ``semseg``,
        ``cam2world``.
    """
    if mode not in ('frame', 'clip'):
        raise ValueError(f"mode must be 'frame' or 'clip', got {mode!r}")
    if semseg_source not in SEMSEG_SOURCES:
        raise ValueError(f'semseg_source must be one of {SEMSEG_SOURCES}, '
                         f'got {semseg_source!r}')
    rngs = sample_rngs(seed, index)
    scene = generate_scene(rngs['scene'])
    K = intrinsics_for(img_size, np.deg2rad(rngs['camera'].uniform(55.0,
                                                                   70.0)))
    if mode == 'frame':
        times = np.zeros(1)
    else:
        times = np.arange(num_frames) * frame_interval / _FPS
    poses = sample_trajectory(scene, rngs['camera'], times)
    views = [
        render_view(scene, pose, K, img_size, rngs['holes']) for pose in poses
    ]
    if semseg_source == 'pseudo':
        cfg = dict(PSEUDO_LABEL_DEFAULTS, **(pseudo_label_cfg or {}))
        for v in views:
            v['semseg'] = simulate_pseudo_labels(v['semseg'], v['instance'],
                                                 rngs['pseudo'], **cfg)
    out = dict(intrinsics=K)
    keys = ('rgb', 'depth', 'depth_valid', 'semseg') + (
        ('depth_gt', ) if with_depth_gt else ())
    for key in keys:
        out[key] = views[0][key] if mode == 'frame' else np.stack(
            [v[key] for v in views])
    out['cam2world'] = poses[0] if mode == 'frame' else poses
    if with_points:
        if mode != 'frame':
            raise ValueError('with_points is only supported in frame mode')
        cam_from_lidar = lidar_to_cam()
        lidar2world = poses[0] @ cam_from_lidar
        out['points'] = scan_lidar(scene, lidar2world, rngs['lidar'],
                                   **(lidar_cfg or {}))
        K4 = np.eye(4)
        K4[:3, :3] = K
        out['lidar2cam'] = cam_from_lidar
        out['lidar2img'] = K4 @ cam_from_lidar
    return out


@DATASETS.register_module()
class SyntheticRGBDScenes(BaseRGBDDataset):
    """Procedural indoor RGB-D rooms, ray-cast on the fly (no download).

    Each sample is a random room (floor, walls, ceiling, door, windows,
    table, cabinets, bed, boxes, balls; textured and shaded) seen from a
    random camera inside it. Sample ``i`` is a pure function of
    ``(seed, i)``: identical across processes and workers.

    Frame samples carry ``rgb`` uint8 (H, W, 3), ``depth`` float32 metres
    (z-depth, 0 in sensor-like holes), ``depth_valid``, ``semseg`` int64,
    ``intrinsics`` (3, 3), ``cam2world`` (4, 4) and, with ``with_points``,
    a LiDAR scan ``points`` (N, 4: x, y, z, intensity) in the LiDAR frame
    with ``lidar2img`` (4, 4). ``mode='clip'`` gives ``num_frames`` frames
    of a smooth camera walk with a leading T axis.

    Args:
        num_samples (int): Dataset length. Defaults to 1000.
        img_size (tuple[int, int]): (H, W). Defaults to (240, 320).
        seed (int): Dataset seed. Defaults to 0.
        mode (str): ``'frame'`` or ``'clip'``. Defaults to ``'frame'``.
        with_points (bool): Add LiDAR points (frame mode). Defaults to False.
        num_frames (int): Clip length. Defaults to 16.
        frame_interval (int): Clip stride in 30 fps base frames. Defaults
            to 4.
        num_classes (int, optional): Keep the first ``num_classes`` classes
            of :data:`SYNTHETIC_CLASSES`; the others become ``ignore_index``.
            Defaults to None (all 10).
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
        lidar_cfg (dict, optional): Extra arguments of :func:`scan_lidar`.
        semseg_source (str): ``'gt'`` (default): the rendered classes;
            ``'pseudo'``: the labels an imperfect off-the-shelf segmenter
            would give (:func:`simulate_pseudo_labels`), as MultiMAE's
            pseudo-labelled pre-training data.
        pseudo_label_cfg (dict, optional): Arguments of
            :func:`simulate_pseudo_labels`.
        cache_dir (str, optional): Store rendered samples as ``.npz`` here and
            reuse them. Defaults to None (render every time).
        pipeline (list): Data transforms.
        test_mode (bool): Test mode of ``BaseDataset``.
        **kwargs: Other arguments of the base dataset.
    """

    METAINFO = dict(classes=SYNTHETIC_CLASSES,
                    palette=SYNTHETIC_PALETTE,
                    ignore_index=255)

    def __init__(self,
                 num_samples: int = 1000,
                 img_size: Tuple[int, int] = (240, 320),
                 seed: int = 0,
                 mode: str = 'frame',
                 with_points: bool = False,
                 num_frames: int = 16,
                 frame_interval: int = 4,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 lidar_cfg: Optional[dict] = None,
                 semseg_source: str = 'gt',
                 pseudo_label_cfg: Optional[dict] = None,
                 cache_dir: Optional[str] = None,
                 pipeline: Sequence[Union[dict, callable]] = (),
                 test_mode: bool = False,
                 **kwargs):
        if mode not in ('frame', 'clip'):
            raise ValueError(f"mode must be 'frame' or 'clip', got {mode!r}")
        if with_points and mode != 'frame':
            raise ValueError('with_points is only supported in frame mode')
        if semseg_source not in SEMSEG_SOURCES:
            raise ValueError(f'semseg_source must be one of '
                             f'{SEMSEG_SOURCES}, got {semseg_source!r}')
        if num_classes is None:
            num_classes = len(SYNTHETIC_CLASSES)
        if not 1 <= num_classes <= len(SYNTHETIC_CLASSES):
            raise ValueError(f'num_classes must be in [1, '
                             f'{len(SYNTHETIC_CLASSES)}], got {num_classes}')
        if int(num_samples) < 0:
            raise ValueError(f'num_samples must be >= 0, got {num_samples}')
        self.num_samples = int(num_samples)
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.seed = int(seed)
        self.mode = mode
        self.with_points = with_points
        self.num_frames = int(num_frames)
        self.frame_interval = int(frame_interval)
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.lidar_cfg = dict(lidar_cfg or {})
        self.semseg_source = semseg_source
        self.pseudo_label_cfg = dict(pseudo_label_cfg or {})
        self.cache_dir = cache_dir
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('classes', SYNTHETIC_CLASSES[:self.num_classes])
        metainfo.setdefault('palette', SYNTHETIC_PALETTE[:self.num_classes])
        metainfo.setdefault('ignore_index', self.ignore_index)
        kwargs.setdefault('depth_unit', 'm')
        kwargs.setdefault('depth_source', 'synthetic')
        super().__init__(metainfo=metainfo,
                         pipeline=list(pipeline),
                         test_mode=test_mode,
                         **kwargs)

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """One entry per generated sample (nothing is read from disk).

        Returns:
            list[dict]: ``scene_idx`` and the ``synthetic://seed/index``
            pseudo paths.
        """
        infos = []
        for i in range(self.num_samples):
            path = f'synthetic://{self.seed}/{i}'
            infos.append(
                dict(scene_idx=i,
                     rgb_path=path,
                     depth_path=path,
                     semseg_path=path,
                     points_path=path if self.with_points else None,
                     calib_path=path,
                     depth_unit='m',
                     depth_source='synthetic'))
        return infos

    def _cache_file(self, index: int) -> Optional[str]:
        """Cache path of sample ``index`` (the key covers every generation
        argument)."""
        if not self.cache_dir:
            return None
        key = json.dumps(dict(v=2,
                              seed=self.seed,
                              size=self.img_size,
                              mode=self.mode,
                              points=self.with_points,
                              T=self.num_frames,
                              s=self.frame_interval,
                              lidar=self.lidar_cfg,
                              semseg=self.semseg_source,
                              pseudo=self.pseudo_label_cfg),
                         sort_keys=True)
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        return osp.join(self.cache_dir, f'synthetic_{digest}',
                        f'{index:08d}.npz')

    def render(self, index: int) -> dict:
        """Arrays of sample ``index`` (from the cache when enabled).

        Args:
            index (int): Generator index (``scene_idx``).

        Returns:
            dict: The arrays returned by :func:`render_sample`, with classes
            beyond ``num_classes`` set to ``ignore_index``.
        """
        path = self._cache_file(index)
        arrays = None
        if path is not None and osp.exists(path):
            try:
                with np.load(path, allow_pickle=False) as f:
                    arrays = {k: f[k] for k in f.files}
            except (OSError, ValueError, EOFError) as e:
                print_log(
                    f'{path}: unreadable cache entry ({e}); '
                    're-rendering',
                    logger='current',
                    level=30)
        if arrays is None:
            arrays = render_sample(self.seed, index, self.img_size, self.mode,
                                   self.with_points, self.num_frames,
                                   self.frame_interval, self.lidar_cfg,
                                   self.semseg_source, self.pseudo_label_cfg)
            if path is not None:
                os.makedirs(osp.dirname(path), exist_ok=True)
                fd, tmp = tempfile.mkstemp(suffix='.npz',
                                           dir=osp.dirname(path))
                with os.fdopen(fd, 'wb') as f:
                    np.savez(f, **arrays)
                os.replace(tmp, path)  # atomic for concurrent workers
        semseg = arrays['semseg']
        if self.num_classes < len(SYNTHETIC_CLASSES):
            semseg = np.where(semseg < self.num_classes, semseg,
                              self.ignore_index)
        arrays['semseg'] = semseg.astype(np.int64)
        return arrays

    def get_data_info(self, idx: int) -> dict:
        """Data info of position ``idx`` with the rendered arrays.

        Args:
            idx (int): Position in the dataset.

        Returns:
            dict: A sample following the mmrgbd sample contract.
        """
        info = super().get_data_info(idx)
        index = info['scene_idx']
        try:
            info.update(self.render(index))
        except BadSampleError:
            raise
        except Exception as e:  # keep the sample address in the message
            raise BadSampleError(info['rgb_path'],
                                 f'synthetic rendering failed: {e!r}') from e
        shape = self.img_size
        info['ori_shape'] = shape
        info['img_shape'] = shape
        if not self.with_points:
            info.pop('points_path', None)
        return info
