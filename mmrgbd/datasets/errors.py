"""Errors raised for bad input files."""


class BadSampleError(ValueError):
    """A sample file is missing, corrupt or inconsistent.

    The message always starts with the offending file so that a log line is
    enough to find it.

    Args:
        path (str): The file (or the sample's main file) that is bad.
        problem (str): What is wrong, e.g. ``'depth contains NaN'``.
    """

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')

    def __reduce__(self):
        return (self.__class__, (self.path, self.problem))
