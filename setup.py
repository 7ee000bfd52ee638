"""The build step pyproject.toml cannot declare: compiling the search kernels at install.

A non-editable install (``pip install .``, or a wheel) compiles the generation loop once for
this machine and ships numba's files in the package (azcompile/prebuilt_cache.py), so the
first ``azc search`` loads them instead of compiling for most of a minute.  Set
``AZC_PREBUILD=0`` to skip it; a build where it fails still installs (the first search then
compiles, as without it).  Everything else is in pyproject.toml.
"""
import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False) or os.environ.get("AZC_PREBUILD") == "0":
            return
        build_lib = os.path.abspath(self.build_lib)
        dest = os.path.join(build_lib, "azcompile", "_prebuilt")
        # The package just built, before pip's isolated build environment (which pip puts
        # on PYTHONPATH).
        inherited = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=build_lib + (os.pathsep + inherited if inherited else ""))
        done = subprocess.run([sys.executable, "-m", "azcompile.search.run.prebuild", dest],
                              env=env, cwd=build_lib, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            print("warning: compiling the search kernels at install failed; the first search "
                  "will compile them", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyWithKernels})
