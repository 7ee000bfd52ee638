"""Compile the search kernels at install: ``python -m azcompile.search.run.prebuild DEST``.

``setup.py`` runs this on the built package (a non-editable install or a wheel): a short
demo search in a fresh, private cache compiles the generation loop and everything a search
calls (on two cores, as a cold start does: search.run.precompile), then
``azcompile.prebuilt_cache.collect`` stores numba's files in DEST (the package's
``_prebuilt`` folder).  The search runs in a child process so that its cache folder is set
before numba's first function is defined.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SEARCH = ("from azcompile.search.api import run_search; "
           "run_search('demo', out={out!r}, seed=1, workers=1, max_individuals=2000, "
           "progress=False)")


def build(dest: Path) -> int:
    """Compile into a temporary cache and collect numba's files into ``dest``; returns how
    many files it stored."""
    from azcompile import prebuilt_cache
    package_root = prebuilt_cache.installed_package_root()
    shutil.rmtree(dest, ignore_errors=True)     # an earlier build's files
    with tempfile.TemporaryDirectory(prefix="azc-prebuild-") as tmp:
        env = {k: v for k, v in os.environ.items()
               if k not in ("NUMBA_CACHE_DIR", "AZC_NUMBA_CACHE_ROOT")}
        env["AZC_CACHE_DIR"] = str(Path(tmp, "cache"))
        subprocess.run([sys.executable, "-c", _SEARCH.format(out=str(Path(tmp, "run")))],
                       env=env, check=True, stdin=subprocess.DEVNULL)
        return prebuilt_cache.collect(Path(tmp, "cache", "numba"), package_root, dest)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m azcompile.search.run.prebuild DEST", file=sys.stderr)
        return 2
    start = time.perf_counter()
    count = build(Path(argv[0]))
    print(f"compiled the search kernels: {count} numba files in "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
