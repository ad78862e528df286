"""The optional C decoder (hotline/ami/_speedups.c); everything else is declared in pyproject.toml.

`optional=True`: without a compiler the install still succeeds and hotline.ami.frames uses its pure-Python
decoder, which gives the same frames (tests/ami/test_speedups.py checks both against each other).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("hotline.ami._speedups", ["hotline/ami/_speedups.c"], optional=True)])
