"""The built wheel is complete: installed into a fresh virtual environment (outside the
repository), its ``azc`` runs a short search from a bundled example and exports the winner,
and the exported module runs.  Catches a wheel without its templates or example configs."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args, **kw):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def test_wheel_installs_searches_and_exports(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, ROOT])
    wheel = next(dist.glob("azcompile-*.whl"))
    env_dir = tmp_path / "venv"
    # The dependencies come from this interpreter's site-packages (no download); azcompile
    # itself only from the wheel.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         wheel])
    work = tmp_path / "work"    # not the repository: only the installed package is importable
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    found = run([python, "-c", "import azcompile, search; print(azcompile.__file__)"],
                cwd=work, env=env).stdout
    assert str(env_dir) in found and str(ROOT) not in found
    azc = env_dir / "bin" / "azc"
    run([azc, "search", "demo", "--out", work / "run", "--plain", "--max-individuals", "3000",
         "--seed", "1"], cwd=work, env=env)
    assert json.loads((work / "run" / "best_program.json").read_text())["format"] == \
        "azcompile.program"
    run([azc, "export", work / "run", "-o", work / "algo.py"], cwd=work, env=env)
    run([azc, "show", work / "run", "--view", "kernel"], cwd=work, env=env)
    check = ("import numpy as np, algo; m = algo.EvolvedAlgorithm().fit(np.ones((5, 4)), "
             "np.ones(5)); assert m.predict(np.ones((2, 4))).shape == (2,)")
    run([python, "-I", "-c", f"import sys; sys.path.insert(0, {str(work)!r}); {check}"],
        cwd=work, env=env)
