"""Build hook for the optional C accelerator; all metadata lives in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and the
codec runs its pure-Python implementation.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pyfixmsg_plus.engine.codec._speedups",
            ["engine/codec/_speedups.c"],
            optional=True,
        )
    ]
)
