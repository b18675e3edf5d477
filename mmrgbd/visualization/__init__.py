from .draw import (colorize_depth, colorize_semseg, draw_points_on_image,
                   fit_title, make_panel, project_points)

__all__ = [
    'colorize_depth', 'colorize_semseg', 'draw_points_on_image', 'fit_title',
    'make_panel', 'project_points'
]
