import os.path as osp

from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join('mmrgbd', 'version.py')) as f:
        exec(compile(f.read(), 'mmrgbd/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    reqs = []
    with open(fname) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                reqs.append(line)
    return reqs


setup(
    name='mmrgbd',
    version=get_version(),
    description='OpenMMLab plugin for self-supervised RGB-D and image+LiDAR pre-training',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'projects')),
    include_package_data=True,
    python_requires='>=3.8',
    license='Apache License 2.0',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'mim': parse_requirements('requirements/mminstall.txt'),
    },
    zip_safe=False)
