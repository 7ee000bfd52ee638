"""The built wheel is complete: installed into a fresh virtual environment (outside the
repository), its ``azc`` runs a short search from a bundled example and exports the winner,
and the exported module runs.  Catches a wheel without its templates or example configs."""
import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from azcompile.search.run.precompile import COMPILING_NOTE

ROOT = Path(__file__).resolve().parent.parent


def run(args, **kw):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def _site_dirs() -> list[str]:
    """This interpreter's package folders (a venv's, never the base interpreter's)."""
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def _venv_with_running_dependencies(env_dir: Path, *install: Path) -> Path:
    """A venv holding ``install`` (wheels) whose dependencies are the running environment's
    (no download), without the base interpreter's site-packages: ``system_site_packages=True``
    would expose the *base* interpreter's packages, not the running venv's, and pass only where
    numba was installed into the base Python by hand."""
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # Installed before the .pth below exists: pip would otherwise see the running
    # environment's own azcompile (CI installs the project there) and skip the wheel.
    for wheel in install:
        run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
             wheel])
    own_site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                   ).stdout.strip()
    # A .pth line adds a folder after the venv's own site-packages, so the wheel's azcompile
    # (installed into the venv) wins over any copy in the running environment.
    Path(own_site, "running_env_dependencies.pth").write_text("\n".join(_site_dirs()) + "\n")
    return python


def test_wheel_venv_takes_dependencies_from_the_running_environment(tmp_path):
    python = _venv_with_running_dependencies(tmp_path / "venv")
    numba_file = run([python, "-c", "import numba; print(numba.__file__)"]).stdout.strip()
    assert any(numba_file.startswith(d) for d in _site_dirs()), numba_file
    flags = run([python, "-c", "import sys; print(sys.prefix != sys.base_prefix)"]).stdout
    assert flags.strip() == "True"


def test_wheel_installs_searches_and_exports(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, ROOT])
    wheel = next(dist.glob("azcompile-*.whl"))
    env_dir = tmp_path / "venv"
    python = _venv_with_running_dependencies(env_dir, wheel)
    work = tmp_path / "work"    # not the repository: only the installed package is importable
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    found = run([python, "-c", "import importlib.util, azcompile.search; print(azcompile.__file__, "
                 "azcompile.search.__file__, importlib.util.find_spec('search'))"],
                cwd=work, env=env).stdout.split()
    assert all(str(env_dir) in path and str(ROOT) not in path for path in found[:2])
    assert found[2] == "None"   # search/ is installed as azcompile.search, not as "search"
    azc = env_dir / "bin" / "azc"
    # The generation loop was compiled when the wheel was built (setup.py): a search with
    # empty caches loads it instead of compiling.
    manifest = json.loads(zipfile.ZipFile(wheel).read("azcompile/_prebuilt/manifest.json"))
    assert manifest["fingerprints"] and manifest["python"] == sys.implementation.cache_tag
    env = dict(env, AZC_CACHE_DIR=str(tmp_path / "empty-cache"))
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("AZC_NUMBA_CACHE_ROOT", None)
    searched = run([azc, "search", "demo", "--out", work / "run", "--plain", "--max-individuals",
                    "3000", "--seed", "1"], cwd=work, env=env)
    assert COMPILING_NOTE not in searched.stdout + searched.stderr
    assert json.loads((work / "run" / "best_program.json").read_text())["format"] == \
        "azcompile.program"
    run([azc, "export", work / "run", "-o", work / "algo.py"], cwd=work, env=env)
    run([azc, "show", work / "run", "--view", "kernel"], cwd=work, env=env)
    check = ("import numpy as np, algo; m = algo.EvolvedAlgorithm().fit(np.ones((5, 4)), "
             "np.ones(5)); assert m.predict(np.ones((2, 4))).shape == (2,)")
    run([python, "-I", "-c", f"import sys; sys.path.insert(0, {str(work)!r}); {check}"],
        cwd=work, env=env)
