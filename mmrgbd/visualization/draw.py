"""Drawing helpers shared by the dataset browser and the reconstruction hook."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

INVALID_COLOR = (255, 0, 255)  # magenta marks invalid depth


def _to_numpy(x):
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def colorize_depth(depth,
                   valid=None,
                   vmin: Optional[float] = None,
                   vmax: Optional[float] = None,
                   cmap: str = 'turbo') -> np.ndarray:
    """Colour-map a depth map, marking invalid pixels in magenta.

    Args:
        depth (array): (H, W) depth.
        valid (array, optional): (H, W) bool; defaults to finite and > 0.
        vmin (float, optional): Value mapped to the low end of the map;
            defaults to the 2nd percentile of the valid values.
        vmax (float, optional): Value mapped to the high end; defaults to the
            98th percentile of the valid values.
        cmap (str): A matplotlib colour-map name.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB image.
    """
    import matplotlib
    depth = _to_numpy(depth).astype(np.float32).squeeze()
    if valid is None:
        valid = np.isfinite(depth) & (depth > 0)
    valid = _to_numpy(valid).astype(bool).squeeze() & np.isfinite(depth)
    values = depth[valid]
    if vmin is None:
        vmin = float(np.percentile(values, 2)) if values.size else 0.
    if vmax is None:
        vmax = float(np.percentile(values, 98)) if values.size else 1.
    scaled = np.clip((depth - vmin) / max(vmax - vmin, 1e-6), 0, 1)
    scaled = np.where(valid, scaled, 0)
    rgb = (matplotlib.colormaps[cmap](scaled)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = INVALID_COLOR
    return rgb


def colorize_semseg(semseg,
                    palette: Optional[Sequence[Sequence[int]]] = None,
                    ignore_index: int = 255) -> np.ndarray:
    """Colour class ids with ``palette`` (a fixed random one by default).

    Ignored pixels are black.
    """
    semseg = _to_numpy(semseg).astype(np.int64).squeeze()
    if palette is None:
        rng = np.random.RandomState(42)
        palette = rng.randint(0, 255, size=(256, 3))
    palette = np.asarray(palette, dtype=np.uint8)
    out = np.zeros(semseg.shape + (3, ), np.uint8)
    known = (semseg != ignore_index) & (semseg >= 0) & (semseg < len(palette))
    out[known] = palette[semseg[known]]
    return out


def project_points(points, lidar2img):
    """Project (N, >=3) points with a 4x4 ``lidar2img``.

    Returns:
        tuple: (uv (N, 2) float pixel coordinates, z (N,) camera depth).
    """
    points = _to_numpy(points)[:, :3].astype(np.float64)
    lidar2img = _to_numpy(lidar2img).astype(np.float64)
    homo = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    proj = homo @ lidar2img.T  # (N, 4)
    z = proj[:, 2]
    uv = proj[:, :2] / np.where(np.abs(z) < 1e-9, 1e-9, z)[:, None]
    return uv, z


def draw_points_on_image(rgb, points, lidar2img, radius: int = 1,
                         max_depth: Optional[float] = None) -> np.ndarray:
    """Draw the points that land in the image, coloured by depth."""
    import matplotlib
    img = np.ascontiguousarray(_to_numpy(rgb).astype(np.uint8).copy())
    h, w = img.shape[:2]
    uv, z = project_points(points, lidar2img)
    inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (
        uv[:, 1] < h)
    uv, z = uv[inside], z[inside]
    if max_depth is None:
        max_depth = float(np.percentile(z, 98)) if len(z) else 1.
    colors = (matplotlib.colormaps['jet'](np.clip(z / max_depth, 0, 1))[:, :3]
              * 255).astype(np.uint8)
    for (u, v), c in zip(uv.astype(int), colors):
        cv2.circle(img, (int(u), int(v)), radius, tuple(int(x) for x in c), -1)
    return img


#: font of the tile titles
TITLE_FONT = cv2.FONT_HERSHEY_SIMPLEX
TITLE_MARGIN = 3  # pixels between a title and the tile border


def fit_title(text: str,
              width: int,
              max_scale: float = 0.45,
              min_scale: float = 0.3,
              max_lines: int = 2) -> Tuple[List[str], float]:
    """Lines and font scale so that ``text`` fits a ``width``-pixel tile.

    The font shrinks from ``max_scale`` to ``min_scale``; if the text is
    still too wide it is wrapped at spaces into at most ``max_lines`` lines,
    and what still does not fit is cut with ``'..'``. Every returned line is
    at most ``width - 2 * TITLE_MARGIN`` pixels wide (outline included).

    Returns:
        tuple[list[str], float]: The lines and the font scale.
    """
    avail = max(1, width - 2 * TITLE_MARGIN - 2)  # 2: the white outline

    def fits(line):
        return cv2.getTextSize(line, TITLE_FONT, scale, 1)[0][0] <= avail

    def cut(line):
        while line and not fits(line + '..'):
            line = line[:-1]
        return line.rstrip() + '..'

    scale = max_scale
    while scale > min_scale + 1e-9 and not fits(text):
        scale = round(scale - 0.05, 2)
    if fits(text):
        return [text], scale
    lines: List[str] = []
    words = text.split()
    while words and len(lines) < max_lines - 1:
        line = words.pop(0)
        while words and fits(f'{line} {words[0]}'):
            line = f'{line} {words.pop(0)}'
        lines.append(line if fits(line) else cut(line))
    if words:
        rest = ' '.join(words)
        lines.append(rest if fits(rest) else cut(rest))
    return lines, scale


def title_baselines(text: str, width: int) -> Tuple[List[str], float, List[int]]:
    """Lines, font scale and the baseline row of each line of a tile title.

    Args:
        text (str): The title.
        width (int): Width of the tile in pixels.

    Returns:
        tuple: ``(lines, scale, baselines)`` as :func:`draw_title` draws
        them; the title occupies the rows above ``title_height``.
    """
    lines, scale = fit_title(text, width)
    (_, line_h), baseline = cv2.getTextSize('Ag', TITLE_FONT, scale, 1)
    ys = [TITLE_MARGIN + line_h + i * (line_h + baseline + 1)
          for i in range(len(lines))]
    return lines, scale, ys


def title_height(text: str, width: int) -> int:
    """Number of rows from the top of a tile that its title may cover."""
    lines, scale, ys = title_baselines(text, width)
    _, baseline = cv2.getTextSize('Ag', TITLE_FONT, scale, 1)
    return ys[-1] + baseline + 2 if lines else 0  # 2: the white outline


def draw_title(im: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of ``im`` so that it fits."""
    lines, scale, ys = title_baselines(text, im.shape[1])
    for line, y in zip(lines, ys):
        for colour, thick in (((255, 255, 255), 2), ((0, 0, 0), 1)):
            cv2.putText(im, line, (TITLE_MARGIN, y), TITLE_FONT, scale,
                        colour, thick, cv2.LINE_AA)
    return im


def make_panel(images: Sequence[np.ndarray],
               titles: Optional[Sequence[str]] = None,
               height: Optional[int] = None) -> np.ndarray:
    """Place RGB images side by side (resized to one height) with titles.

    Each title is fitted into its own tile (:func:`fit_title`): it never
    runs into the next tile.
    """
    height = height or max(im.shape[0] for im in images)
    tiles = []
    for i, im in enumerate(images):
        im = _to_numpy(im)
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=2)
        scale = height / im.shape[0]
        im = cv2.resize(
            im.astype(np.uint8), (max(1, int(round(im.shape[1] * scale))),
                                  height),
            interpolation=cv2.INTER_NEAREST)
        im = np.ascontiguousarray(im)
        if titles is not None:
            draw_title(im, str(titles[i]))
        tiles.append(im)
        tiles.append(np.full((height, 2, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)
