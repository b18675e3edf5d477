import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmrgbd module so that it registers, and set the scope.

    Args:
        init_default_scope (bool): Whether to make ``mmrgbd`` the default
            scope. Defaults to True.
    """
    import mmrgbd.datasets  # noqa: F401,F403
    import mmrgbd.engine  # noqa: F401,F403
    import mmrgbd.evaluation  # noqa: F401,F403
    import mmrgbd.models  # noqa: F401,F403
    import mmrgbd.visualization  # noqa: F401,F403

    if not init_default_scope:
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope is None:
        DefaultScope.get_instance('mmrgbd', scope_name='mmrgbd')
    elif current_scope.scope_name != 'mmrgbd':
        warnings.warn(f'The current default scope "{current_scope.scope_name}"'
                      ' is not "mmrgbd"; `register_all_modules` forces it to '
                      '"mmrgbd".')
        new_instance_name = f'mmrgbd-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mmrgbd')
