"""The helper process of ``precompile``: compiles the generation loop into numba's cache.

It builds an island of the bundled demo (the loop's argument types are the same for every
config) and runs the loop for no children, which compiles it and everything it calls.
"""
from __future__ import annotations

from .config import load
from .island_kit import IslandKit
from .precompile import lock_path


def main() -> None:
    lock = lock_path()
    try:
        cfg = load("demo")
        island = IslandKit.of(cfg).island(cfg.search_tasks, 0)
        island.evolve(0)
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
