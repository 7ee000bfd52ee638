"""The compiled tier's cache: cross-process reuse, concurrent builders, corrupt entries,
the feature size in the key, and where the cache lives.

Tests that must compile use small programs and fresh directories (a compile is ~1-2 s); the
others reuse kernels from the session cache directory (tests/conftest.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from azcompile import codegen, jit_cache
from azcompile.engine import run
from azcompile.jit_cache import ENV_VAR, KernelCache, atomic_write_text, default_cache_dir
from azcompile.liveness import canonical
from azcompile.program import Memory
from programs import readme_linear_regression

ROOT = Path(__file__).resolve().parent.parent


def small_program(lr, features=4):
    """A linear regression whose learning rate makes each kernel distinct."""
    return readme_linear_regression(lr, memory=Memory(4, 3, 1, features))


def task(features=4, n=40, seed=0):
    gen = np.random.default_rng(seed)
    w = gen.normal(size=features)
    x, xv = gen.normal(size=(n, features)), gen.normal(size=(10, features))
    return x, x @ w, xv, xv @ w


def interp_predictions(prog):
    x, y, xv, yv = task(prog.memory.features)
    return run(prog, x, y, xv, yv, engine="interp").valid_predictions[:, 0].tolist()


# ---- a worker process ----------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    from azcompile.engine import run
    from azcompile.jit_cache import KernelCache
    from azcompile.liveness import canonical
    from azcompile.program import loads

    args = json.loads(sys.argv[1])
    gen = np.random.default_rng(0)
    if args.get("ready"):                       # start line: wait until every worker is up
        open(args["ready"], "w").close()
        while not os.path.exists(args["go"]):
            time.sleep(0.001)
    report = []
    for _ in range(args.get("repeat", 1)):
        for path in args["programs"]:
            prog = loads(open(path).read())
            canon, h = canonical(prog)
            cache = KernelCache(args["cache_dir"])      # empty in-memory table: disk only
            t = time.perf_counter()
            module = cache.get(canon, h)
            load_s = time.perf_counter() - t
            stats = module.components.stats
            x, y, xv, yv = (np.array(a) for a in args["data"])
            r = run(prog, x, y, xv, yv, engine="compiled", cache=cache)
            report.append({"program": path, "hash": h, "load_s": load_s,
                           "cache_hits": sum(stats.cache_hits.values()),
                           "cache_misses": sum(stats.cache_misses.values()),
                           "rebuilds": cache.rebuilds,
                           "predictions": r.valid_predictions[:, 0].tolist()})
    print(json.dumps(report))
""")


def _child_cmd(tmp_path, **args):
    script = tmp_path / "child.py"
    if not script.exists():
        script.write_text(CHILD)
    x, y, xv, yv = task()
    args["data"] = [x.tolist(), y.tolist(), xv.tolist(), yv.tolist()]
    return [sys.executable, str(script), json.dumps(args)]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(tmp_path, **args):
    out = subprocess.run(_child_cmd(tmp_path, **args), capture_output=True, text=True,
                         env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def save_program(tmp_path, prog, name):
    path = tmp_path / f"{name}.json"
    prog.save(path)
    return str(path)


# ---- across processes ----------------------------------------------------------------------

def test_second_process_loads_without_compiling(tmp_path):
    prog = small_program(0.0125)
    path = save_program(tmp_path, prog, "p")
    cache_dir = tmp_path / "cache"
    first = run_child(tmp_path, programs=[path], cache_dir=str(cache_dir))[0]
    second = run_child(tmp_path, programs=[path], cache_dir=str(cache_dir))[0]
    # The first process compiled, the second loaded numba's machine code from disk.
    assert first["cache_misses"] >= 1 and first["cache_hits"] == 0
    assert second["cache_misses"] == 0 and second["cache_hits"] >= 1
    assert second["load_s"] < 0.25 * first["load_s"], (first["load_s"], second["load_s"])
    # The hash (the disk key) is the same in every process, and so are the answers.
    assert first["hash"] == second["hash"] == canonical(prog)[1]
    assert first["predictions"] == second["predictions"] == interp_predictions(prog)
    assert first["rebuilds"] == second["rebuilds"] == 0
    assert (cache_dir / "kernels" / f"c_{first['hash']:016x}_f4.py").exists()


def test_concurrent_builders_share_one_directory(tmp_path):
    """Three processes start together and build the same kernel and one of their own, three
    times each: every load succeeds first time (no half-written source or numba file is ever
    seen, so nothing is rebuilt) and every answer is right."""
    shared = small_program(0.0375)
    paths = {"shared": save_program(tmp_path, shared, "shared")}
    own = {k: small_program(0.05 + 0.0125 * k) for k in range(3)}
    for k, prog in own.items():
        paths[k] = save_program(tmp_path, prog, f"own{k}")
    cache_dir = tmp_path / "cache"
    go = tmp_path / "go"
    procs = []
    for k in range(3):
        ready = tmp_path / f"ready{k}"
        cmd = _child_cmd(tmp_path, programs=[paths["shared"], paths[k]], repeat=3,
                         cache_dir=str(cache_dir), ready=str(ready), go=str(go))
        procs.append((k, ready, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True,
                                                 env=_env())))
    deadline = time.time() + 120
    while not all(ready.exists() for _, ready, _ in procs):
        assert time.time() < deadline and all(p.poll() is None for _, _, p in procs)
        time.sleep(0.01)
    go.touch()
    expected = {paths["shared"]: interp_predictions(shared),
                **{paths[k]: interp_predictions(own[k]) for k in own}}
    for k, _, proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        report = json.loads(stdout.strip().splitlines()[-1])
        assert len(report) == 6
        for entry in report:
            assert entry["rebuilds"] == 0, entry
            assert entry["predictions"] == expected[entry["program"]]
    kernels = cache_dir / "kernels"
    files = sorted(p.name for p in kernels.iterdir())
    assert not [f for f in files if f.endswith(".tmp") or f.startswith(".")], files
    for prog in [shared, *own.values()]:
        canon, h = canonical(prog)
        path = kernels / f"c_{h:016x}_f4.py"
        assert path.read_text() == codegen.candidate_source(canon, h)


def test_atomic_write_never_shows_half_a_file(tmp_path):
    """A writer process replaces a 1 MB file 100 times with alternating contents while this
    process reads it continuously: every read is one whole version."""
    target = tmp_path / "f.txt"
    a, b = "A" * 1_000_000, "B" * 999_999 + "\n"
    atomic_write_text(target, a)
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            from pathlib import Path
            from azcompile.jit_cache import atomic_write_text
            p = Path({str(target)!r})
            a, b = "A" * 1_000_000, "B" * 999_999 + "\\n"
            for i in range(100):
                atomic_write_text(p, a if i % 2 else b)
            """)], env=_env())
    seen = set()
    while writer.poll() is None:
        text = target.read_text()
        assert text in (a, b), (len(text), text[:1], text[-1:])
        seen.add(text[0])
    assert writer.returncode == 0
    assert target.read_text() in (a, b)
    assert not [p for p in tmp_path.iterdir() if p.name != "f.txt"]
    assert seen        # the reader did read while the writer wrote


# ---- corrupt entries -----------------------------------------------------------------------

def _numba_files(module, path):
    folder = Path(module.components.stats.cache_path)
    return sorted(folder / n for n in os.listdir(folder) if n.startswith(path.stem + "."))


def test_corrupt_entries_are_rebuilt(tmp_path):
    prog = small_program(0.0625)
    canon, h = canonical(prog)
    expected = interp_predictions(prog)
    x, y, xv, yv = task()

    def predictions(cache):
        return run(prog, x, y, xv, yv, engine="compiled", cache=cache).valid_predictions[:, 0].tolist()

    cache = KernelCache(tmp_path)                     # an explicit directory ...
    cache.get(canon, h)
    path = cache.path_for(h, 4)
    assert path == tmp_path / "kernels" / f"c_{h:016x}_f4.py" and path.exists()   # ... is used
    assert predictions(cache) == expected

    # 1. A truncated source file is rewritten (not imported half-way).
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    fresh = KernelCache(tmp_path)
    assert predictions(fresh) == expected
    assert path.read_text() == text

    # 2. Garbage in numba's index files: a miss inside numba (compiled again, the entry is not
    #    rebuilt), and the files are written again, healthy.
    files = _numba_files(fresh.get(canon, h), path)
    assert any(f.suffix == ".nbi" for f in files) and any(f.suffix == ".nbc" for f in files)
    for f in files:
        if f.suffix == ".nbi":
            f.write_bytes(b"\x80\x04garbage" * 3)
    again = KernelCache(tmp_path)
    assert predictions(again) == expected
    assert again.rebuilds == 0 and _compiled(again.get(canon, h))

    # 3. Truncated numba data files (index intact): the same.
    for f in _numba_files(again.get(canon, h), path):
        if f.suffix == ".nbc":
            f.write_bytes(f.read_bytes()[:40])
    last = KernelCache(tmp_path)
    assert predictions(last) == expected
    assert last.rebuilds == 0 and _compiled(last.get(canon, h))

    # And afterwards the entry is healthy: a new cache loads it without compiling.
    healthy = KernelCache(tmp_path)
    assert predictions(healthy) == expected and healthy.rebuilds == 0
    assert not _compiled(healthy.get(canon, h))


def _compiled(module) -> bool:
    """Whether numba compiled the module's kernel (a miss) rather than loading it."""
    stats = module.components.stats
    return sum(stats.cache_misses.values()) >= 1 and sum(stats.cache_hits.values()) == 0


# ---- keys and the in-memory table ------------------------------------------------------------

@pytest.fixture(scope="module")
def session_cache():
    return KernelCache()


def test_feature_size_is_part_of_the_key(session_cache):
    """The same code at F = 3 and F = 4 has one canonical hash but needs two kernels."""
    p3, p4 = small_program(0.02, features=3), small_program(0.02, features=4)
    (c3, h3), (c4, h4) = canonical(p3), canonical(p4)
    assert h3 == h4
    m3, m4 = session_cache.get(c3, h3), session_cache.get(c4, h4)
    assert m3 is not m4 and m3.F == 3 and m4.F == 4
    for prog in (p3, p4):
        x, y, xv, yv = task(prog.memory.features)
        r = run(prog, x, y, xv, yv, engine="compiled", cache=session_cache)
        assert r.valid_predictions[:, 0].tolist() == interp_predictions(prog)


def test_in_memory_table(session_cache):
    cache = KernelCache(session_cache.root, capacity=1)
    (ca, ha), (cb, hb) = canonical(small_program(0.02)), canonical(small_program(0.02, 3))
    a = cache.get(ca, ha)
    assert cache.get(ca, ha) is a and (cache.hits, cache.misses) == (1, 1)
    cache.get(cb, hb)                  # evicts a (capacity 1)
    cache.get(ca, ha)
    assert (cache.hits, cache.misses) == (1, 3)


# ---- where the cache lives -------------------------------------------------------------------

def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "azcompile"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "azcompile"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_cache_dir() == tmp_path / "home" / "Library" / "Caches" / "azcompile"
    monkeypatch.setattr(sys, "platform", "linux")
    # The environment variable beats the platform default...
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert KernelCache().root == tmp_path / "env"
    assert jit_cache.default_cache().root == tmp_path / "env"
    # ... and an explicit argument beats both.
    assert KernelCache(tmp_path / "arg").root == tmp_path / "arg"
    assert KernelCache(str(tmp_path / "arg")).kernels == tmp_path / "arg" / "kernels"
    # The default cache follows the environment.
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env2"))
    assert jit_cache.default_cache().root == tmp_path / "env2"
