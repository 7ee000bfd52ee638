"""``azc bench``: the performance suite, printed as a table and written as JSON.

Figures:
  machine              CPU model, cores, Python / numba / numpy versions
  cold_start           `azc search demo` and `digits_binary` with empty caches (a fresh
                       install): seconds to the first progress line, and to exit on Ctrl-C
  warm_up              a short demo and nonlinear search first: numba compiles (or loads)
                       the search kernels here, not inside a timed run
  core                 azcompile.benchmark: microseconds per program evaluation on 4/8/16-
                       feature tasks with 100 and 1000 examples, interpreted and compiled,
                       from numba (as the search runs) and from Python; numba compile time
                       per candidate; its load time from the disk cache in a new process
  export               time to export a program as a standalone module
  demo_throughput      the demo config on one worker: individuals/s, executed train steps/s
                       and instructions/s (the measure GP systems publish),
                       canonical-cache and FEC hit rates, where the time goes
  time_to_solve        the demo, seeds 1-5: seconds until select fitness > 0.9999, with the
                       reference's experiment semantics and with the early select check
  nonlinear            the reference's nonlinear integration test config
  scaling              the demo with 1 and 2 workers (processes deterministic and async, Ray
                       actors async), interleaved rounds: individuals/s and the ratios
  coordinator          one coordinator's cost per island reply, migration and progress
                       report with 64 simulated islands (run.bench_coordinator)

Searches run as ``azc search`` subprocesses, two at a time on a 2-core machine (one core each),
so every figure is per core.  ``--quick`` shortens only the fixed-time measurements.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np

from azcompile.export import export_program
from azcompile.program import Memory
from azcompile.reference_programs import neural_net

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from ..run.config import bundled_examples

def _example(name: str, workdir: Path, edit=None) -> Path:
    """A bundled example config written into the bench's work folder (optionally edited)."""
    text = bundled_examples()[name]
    path = workdir / f"{name}{'_edited' if edit else ''}.toml"
    path.write_text(edit(text) if edit else text)
    return path


# ---- machine -----------------------------------------------------------------------------------

def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "numba": numba.__version__, "numpy": np.__version__, "platform": platform.platform()}


# ---- the compiler core: evaluation per tier, compile, load (azcompile.benchmark) ---------------

def core(quick: bool) -> dict:
    # Imported here: the compiled candidates' driver compiles (or loads) when imported.
    from azcompile.benchmark import measure
    return measure(sizes=(4, 8, 16), target_s=0.05 if quick else 0.6)


def _nn_program(F):
    return neural_net(Memory(5, 9, 2, F))


def export_time() -> dict:
    prog = _nn_program(4)
    start = time.perf_counter()
    export_program(prog)
    first = time.perf_counter() - start
    start = time.perf_counter()
    export_program(prog)
    return {"export_s_first": round(first, 3), "export_s": round(time.perf_counter() - start, 3)}


# ---- searches in subprocesses ---------------------------------------------------------------

def _search_env(drop=()) -> dict:
    """The environment of an ``azc search`` subprocess: this one's, without ``drop``."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_search(config: Path, out: Path, *args) -> dict:
    """One ``azc search`` run; returns its final event and its progress events."""
    env = _search_env()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "azcompile.search.cli", "search", str(config), "--out",
                           str(out), "--plain", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=7200)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return read_run(out, wall)


def read_run(out: Path, wall: float | None = None) -> dict:
    """A finished run directory's final event, summed statistics, profile and events."""
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    final = next(e for e in reversed(events) if e["event"] == "final")
    ends = [e for e in events if e["event"] == "experiment_end"]
    stats = {}
    for e in ends:
        for k, v in e["stats"].items():
            stats[k] = stats.get(k, 0) + v
    profile = ends[0].get("profile") if ends else None
    return {"wall_s": None if wall is None else round(wall, 2), "elapsed_s": final["elapsed"],
            "final": final,
            "profile": profile,
            "experiments": final["experiments"], "individuals": final["individuals"],
            "stats": stats, "events": events}


def _parallel(jobs, width=2):
    with ThreadPoolExecutor(max_workers=width) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _seeded_runs(config: Path, workdir: Path, label: str, seeds, *args):
    """``azc search config --seed s *args`` for each seed, two at a time: (seed, result)
    pairs, where a failed run's result holds only its ``error``."""
    jobs = [lambda s=s: run_search(config, workdir / f"{label}_{s}", "--seed", s, *args)
            for s in seeds]
    return list(zip(seeds, _parallel(jobs)))


def time_to_solve(seeds, workdir: Path, cap_s: float) -> dict:
    """The demo per seed until select fitness > 0.9999, with the reference's experiment
    semantics and with the early select check.  All runs share one queue, two at a time
    (one core each), so a long run of one kind overlaps short ones of the other."""
    configs = {"reference": _example("demo", workdir),
               "early_select": _example("demo", workdir, lambda t: t.replace(
                   "early_select = false", "early_select = true"))}
    labels = {"reference": "tts_ref", "early_select": "tts_early"}
    jobs = [lambda kind=kind, s=s: run_search(configs[kind], workdir / f"{labels[kind]}_{s}",
                                             "--seed", s, "--max-time", cap_s)
            for kind in configs for s in seeds]
    results = iter(_parallel(jobs))
    return {kind: _solve_table([(s, next(results)) for s in seeds]) for kind in configs}


def _solve_table(runs) -> dict:
    rows = []
    for seed, res in runs:
        if "error" in res:
            rows.append({"seed": seed, "error": res["error"]})
            continue
        sel = res["final"]["select_fitness"]
        solved = sel is not None and sel > 0.9999
        rows.append({"seed": seed, "solved": solved, "seconds": res["elapsed_s"],
                     "experiments": res["experiments"], "individuals": res["individuals"],
                     "final_fitness": res["final"]["final_fitness"],
                     "individuals_per_s": round(res["individuals"] / max(res["elapsed_s"], 1e-9))})
    solved = [r["seconds"] for r in rows if r.get("solved")]
    return {"runs": rows, "median_s": round(float(np.median(solved)), 1) if len(solved) == len(rows) else None,
            "solved": f"{len(solved)}/{len(rows)}"}


def cold_start(workdir: Path, configs=("demo", "digits_binary"), interrupt_after: float = 0.0) -> dict:
    """``azc search NAME --plain`` as on a fresh install: empty kernel and numba caches.
    Seconds from the command's start to its first line, to the experiment's start and to
    the first progress line; then Ctrl-C (SIGINT) and the seconds it takes to exit."""
    return {name: _cold_run(name, workdir, interrupt_after) for name in configs}


def _cold_run(name: str, workdir: Path, interrupt_after: float) -> dict:
    env = _search_env(drop=("NUMBA_CACHE_DIR", "AZC_NUMBA_CACHE_ROOT"))
    env["AZC_CACHE_DIR"] = str(workdir / f"cold_cache_{name}")
    env["PYTHONUNBUFFERED"] = "1"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "azcompile.search.cli", "search", name,
                             "--plain", "--out", str(workdir / f"cold_{name}")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    marks = {}
    for line in proc.stdout:
        now = round(time.perf_counter() - start, 1)
        marks.setdefault("first_line_s", now)
        if line.startswith("experiment ") and "started" in line:
            marks.setdefault("experiment_start_s", now)
        if line.startswith("indivs="):
            marks["first_progress_s"] = now
            break
    time.sleep(interrupt_after)
    stop = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    marks["exit_after_interrupt_s"] = round(time.perf_counter() - stop, 2)
    marks["exit_status"] = proc.returncode
    return marks


def warm_up(workdir: Path) -> dict:
    """Compile (or load from numba's cache) the search kernels of the demo and nonlinear
    configs, so the timed runs below measure searching, not compiling; returns the seconds
    it took (a cold cache: the one-off compile cost)."""
    out = {}
    for name in ("demo", "nonlinear"):
        res = run_search(_example(name, workdir), workdir / f"warm_up_{name}", "--seed", 1,
                         "--max-individuals", 3000)
        out[f"{name}_s"] = res.get("wall_s", res.get("error"))
    return out


def demo_throughput(workdir: Path, seconds: float | None) -> dict:
    """The demo on one worker, seed 1, for ``seconds``; ``None``: read the seed-1 run of
    the time-to-solve step instead (the same config and worker count: ``--quick``)."""
    if seconds is None:
        run = workdir / "tts_ref_1"
        if not (run / "events.jsonl").exists():
            return {"error": "the time-to-solve run of seed 1 did not finish"}
        res = read_run(run)
    else:
        res = run_search(_example("demo", workdir), workdir / "throughput", "--seed", 1,
                         "--max-time", seconds)
    if "error" in res:
        return res
    st = res["stats"]
    n = max(res["individuals"], 1)
    el = res["elapsed_s"]
    fec_total = max(st.get("fec_hits", 0) + st.get("fec_misses", 0), 1)
    return {"seconds": el, "individuals": res["individuals"],
            "individuals_per_s": round(n / el), "executed_train_steps_per_s":
            round(st.get("executed_train_steps", 0) / el),
            "executed_instructions_per_s": round(st.get("executed_instructions", 0) / el),
            "reference_accounted_train_steps_per_s": round(st.get("train_steps", 0) / el),
            "canonical_hit_rate": round(st.get("canonical_hits", 0) / n, 3),
            "fec_hit_rate": round(st.get("fec_hits", 0) / fec_total, 3),
            "evaluated_fraction": round(st.get("evaluations", 0) / n, 3),
            "profile": res["profile"]}


def random_vs_evolution(workdir: Path, seeds, individuals: int) -> dict:
    """The paper's baseline: random search and evolution on the demo over the same number
    of individuals; how many runs reach select fitness > 0.9999."""
    random_cfg = _example("demo", workdir, lambda t: t.replace(
        "population_size = 1000", 'population_size = 1000\nstrategy = "random"'))
    evo_cfg = _example("demo", workdir)
    out = {"individuals_per_run": individuals}
    for name, cfg in (("evolution", evo_cfg), ("random_search", random_cfg)):
        rows = []
        for seed, res in _seeded_runs(cfg, workdir, name, seeds, "--max-individuals", individuals):
            if "error" in res:
                rows.append({"seed": seed, "error": res["error"]})
                continue
            sel = res["final"]["select_fitness"]
            rows.append({"seed": seed, "best_select_fitness": sel,
                         "best_search_fitness": res["final"]["search_fitness"],
                         "solved": sel is not None and sel > 0.9999})
        out[name] = {"runs": rows, "solved": f"{sum(r.get('solved', False) for r in rows)}/{len(rows)}"}
    return out


def hurdles_effect(workdir: Path, seeds, cap_s: float) -> dict:
    """Time to solve with early select, with and without hurdles (75th percentile, a quarter
    of the training examples), and the share of evaluations the hurdles stopped."""
    def edit(with_hurdles):
        def apply(text):
            text = text.replace("early_select = false", "early_select = true")
            if with_hurdles:
                text = text.replace("[experiment]", "[hurdles]\ntrain_fraction = 0.25\n"
                                    "percentile = 75\n\n[experiment]")
            return text
        return apply
    out = {}
    for label, flag in (("without_hurdles", False), ("with_hurdles", True)):
        cfg = _example("demo", workdir, edit(flag))
        rows = []
        for seed, res in _seeded_runs(cfg, workdir, label, seeds, "--max-time", cap_s):
            if "error" in res:
                rows.append({"seed": seed, "error": res["error"]})
                continue
            st = res["stats"]
            sel = res["final"]["select_fitness"]
            rows.append({"seed": seed, "seconds": res["elapsed_s"],
                         "solved": sel is not None and sel > 0.9999,
                         "individuals_per_s": round(res["individuals"] / max(res["elapsed_s"], 1e-9)),
                         "executed_steps_per_individual": round(
                             st.get("executed_train_steps", 0) / max(res["individuals"], 1), 1),
                         "hurdle_stops": st.get("hurdle_stops", 0),
                         "hurdle_tests": st.get("hurdle_tests", 0)})
        secs = [r["seconds"] for r in rows if r.get("solved")]
        out[label] = {"runs": rows, "median_s": round(float(np.median(secs)), 1) if secs else None,
                      "solved": f"{len(secs)}/{len(rows)}"}
    return out


def nonlinear(workdir: Path, cap_s: float, seeds=(100001, 1, 2, 3, 4)) -> dict:
    """The reference's nonlinear integration test (its own seed 100001, then 1-4): one
    experiment of 1e8 train steps from the damaged neural net."""
    config = _example("nonlinear", workdir)
    rows = []
    for seed, res in _seeded_runs(config, workdir, "nonlinear", seeds, "--max-time", cap_s):
        if "error" in res:
            rows.append({"seed": seed, "error": res["error"]})
            continue
        first = next((e for e in res["events"]
                      if e["event"] == "new_best" and e["fitness"] > 0.9999), None)
        st, seconds = res["stats"], max(res["elapsed_s"], 1e-9)
        rows.append({"seed": seed, "seconds": res["elapsed_s"], "individuals": res["individuals"],
                     "individuals_per_s": round(res["individuals"] / seconds),
                     "executed_train_steps_per_s": round(st.get("executed_train_steps", 0) / seconds),
                     "executed_instructions_per_s": round(st.get("executed_instructions", 0)
                                                          / seconds),
                     "best_search_fitness": res["final"]["search_fitness"],
                     "select_fitness": res["final"]["select_fitness"],
                     "final_fitness": res["final"]["final_fitness"],
                     "individuals_to_0.9999": first["individuals"] if first else None})
    return {"runs": rows}


_SCALING = {      # label: (config edit, azc search arguments)
    "1 worker": (None, ("--workers", 1)),
    "2 workers, process, deterministic": (None, ("--workers", 2)),
    "2 workers, process, async": ("async", ("--workers", 2)),
    "2 actors, ray, async": ("async", ("--workers", 2, "--backend", "ray")),
}


def _async(text: str) -> str:
    return text.replace("[run]", '[run]\nmigration = "async"')


def search_rate(res: dict) -> int:
    """Individuals per second from the first experiment's start to the stop: the search
    alone (process start, imports and a Ray cluster's start-up are left out)."""
    events = res["events"]
    begin = next(e["time"] for e in events if e["event"] == "experiment_start")
    end = next(e["time"] for e in reversed(events) if e["event"] in ("stopped", "final"))
    return round(res["individuals"] / max(end - begin, 1e-9))


def scaling(workdir: Path, seconds: float, rounds: int = 1, variants=None) -> dict:
    """The demo on 1 and 2 workers (each backend and mode), one run at a time with nothing
    else of the bench beside it, in interleaved rounds (1, 2, 2, 2, then again) so a change in
    the machine's load touches every variant alike.  Rates per round, their medians and the
    ratios of the medians to one worker's."""
    configs = {None: _example("demo", workdir),
               "async": _example("demo", workdir, _async)}
    variants = variants or list(_SCALING)
    out = {label: [] for label in variants}
    for r in range(rounds):
        for label in variants:
            edit, args = _SCALING[label]
            run = workdir / f"scale_{r}_{label.replace(' ', '_').replace(',', '')}"
            res = run_search(configs[edit], run, "--seed", 3, "--max-time", seconds, *args)
            out[label].append(res.get("error") or search_rate(res))
    medians = {label: float(np.median(rates)) for label, rates in out.items()
               if rates and all(isinstance(x, int) for x in rates)}
    base = medians.get("1 worker")
    return {"seconds": seconds, "rounds": out, "median": medians,
            "ratio": {label: round(m / base, 2) for label, m in medians.items()} if base else {},
            "load_before": os.getloadavg()[0]}


def coordinator(islands: int = 64) -> dict:
    from .bench_coordinator import coordinator_cost

    return coordinator_cost(islands=islands)


# ---- the suite -----------------------------------------------------------------------------

def run_suite(quick: bool, json_path: Path | None, echo=print, only=None) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="azc-bench-runs-"))
    results = {"quick": quick, "machine": machine()}
    steps = [
        ("cold_start", lambda: cold_start(workdir)),      # first: alone on the machine
        ("warm_up", lambda: warm_up(workdir)),
        ("core", lambda: core(quick)),
        ("export", export_time),
        ("time_to_solve", lambda: time_to_solve([1, 2, 3, 4, 5], workdir,
                                                300 if quick else 1800)),
        # --quick reads the throughput off the seed-1 run above (a whole demo experiment).
        ("demo_throughput", lambda: demo_throughput(workdir, None if quick else 60)),
        ("nonlinear", lambda: nonlinear(workdir, 20 if quick else 120,
                                        (100001, 1) if quick else (100001, 1, 2, 3, 4))),
        ("scaling", lambda: scaling(workdir, 10 if quick else 60, 1 if quick else 3)),
        ("coordinator", coordinator),
    ]
    if not quick:
        steps += [
            ("hurdles", lambda: hurdles_effect(workdir, [1, 2, 3, 4, 5], 1800)),
            ("random_vs_evolution", lambda: random_vs_evolution(workdir, [1, 2, 3], 2_000_000)),
        ]
    if only:        # the steps named (after the warm-up, when a search is timed)
        untimed = {"coordinator", "core", "export", "cold_start"}
        wanted = set(only) | ({"warm_up"} if set(only) - untimed else set())
        steps = [(name, step) for name, step in steps if name in wanted]
        results["only"] = list(only)
    for name, step in steps:
        start = time.perf_counter()
        echo(f"bench: {name} ...")
        results[name] = step()
        results[name + "_bench_s"] = round(time.perf_counter() - start, 1)
        if json_path:       # after every step: a failing step later keeps what was measured
            json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return results


def format_scaling(s: dict) -> list[str]:
    lines = [f"scaling (demo, {s['seconds']:g} s runs, individuals/s per round; load before "
             f"{s.get('load_before', 0):.2f}):"]
    for label, rates in s["rounds"].items():
        ratio = s["ratio"].get(label)
        lines.append(f"  {label}: {', '.join(map(str, rates))}"
                     + (f"; median {s['median'][label]:,.0f}, x{ratio}" if ratio else ""))
    return lines


def format_cold_start(c: dict) -> list[str]:
    lines = ["cold start (empty caches; seconds from the command's start):"]
    for name, m in c.items():
        lines.append(f"  azc search {name} --plain: first line {m.get('first_line_s')} s, "
                     f"experiment started {m.get('experiment_start_s')} s, first progress line "
                     f"{m.get('first_progress_s')} s; Ctrl-C then exit in "
                     f"{m.get('exit_after_interrupt_s')} s (status {m.get('exit_status')})")
    return lines


def format_coordinator(c: dict) -> str:
    return (f"coordinator, {c['islands']} simulated islands (population {c['population']}, "
            f"batch {c['batch']}, {c.get('migrants')} migrants): {c['us_per_reply']} us per "
            f"island reply "
            f"({c['replies_per_s']:,}/s), {c['us_per_migration']} us per migration, "
            f"{c['us_per_progress_report']} us per progress report")


def format_results(r: dict) -> str:
    lines = []
    m = r["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
                 f"numba {m['numba']}, numpy {m['numpy']}")
    if "cold_start" in r:
        lines.extend(format_cold_start(r["cold_start"]))
    if r.get("only"):
        if "scaling" in r:
            lines.extend(format_scaling(r["scaling"]))
        if "coordinator" in r:
            lines.append(format_coordinator(r["coordinator"]))
        return "\n".join(lines)
    w = r.get("warm_up", {})
    lines.append(f"search kernels compiled or loaded first: demo {w.get('demo_s')} s, "
                 f"nonlinear {w.get('nonlinear_s')} s (wall, whole azc search process)")
    lines.append("")

    lines.append("per-program evaluation (us), numba compile per candidate (s), disk-cache load in a "
                 "new process (ms):")
    from azcompile.benchmark import format_table
    lines.append(format_table(r["core"]))
    e = r["export"]
    if "export_s" in e:
        lines.append(f"export: {e['export_s']} s per module (first {e['export_s_first']} s)")
    d = r["demo_throughput"]
    if "error" not in d:
        lines.append(f"demo, 1 worker: {d['individuals_per_s']:,} individuals/s, "
                     f"{d['executed_train_steps_per_s']:,} executed train steps/s, "
                     f"{d.get('executed_instructions_per_s', 0):,} executed instructions/s "
                     f"({d['reference_accounted_train_steps_per_s']:,}/s as the reference counts), "
                     f"canonical hits {d['canonical_hit_rate']:.0%}, FEC hits {d['fec_hit_rate']:.0%}")
        if d.get("profile"):
            lines.append("  where the time goes (share of search wall time): " + ", ".join(
                f"{k} {v:.1%}" for k, v in d["profile"].items() if k != "seconds"))
    for key, label in (("reference", "reference semantics"), ("early_select", "early select")):
        t = r["time_to_solve"][key]
        runs = ", ".join(f"seed {x['seed']}: {x['seconds']:.1f}s" + ("" if x.get("solved") else " (unsolved)")
                         for x in t["runs"] if "seconds" in x)
        lines.append(f"time to solve ({label}): {runs}; median {t['median_s']} s; solved {t['solved']}")
    for x in r["nonlinear"]["runs"]:
        if "error" in x:
            lines.append(f"nonlinear seed {x['seed']}: {x['error']}")
            continue
        lines.append(f"nonlinear seed {x['seed']}: {x['individuals']:,} individuals in "
                     f"{x['seconds']:.1f} s ({x['individuals_per_s']:,}/s; "
                     f"{x.get('executed_train_steps_per_s', 0):,} train steps/s, "
                     f"{x.get('executed_instructions_per_s', 0):,} instructions/s), best search fitness "
                     f"{x['best_search_fitness']:.6f} (0.9999 after "
                     f"{x['individuals_to_0.9999'] or '-'} individuals), select "
                     f"{x['select_fitness']:.6f}, final {x['final_fitness']:.6f}")
    lines.extend(format_scaling(r["scaling"]))
    if "coordinator" in r:
        lines.append(format_coordinator(r["coordinator"]))
    if "hurdles" in r:
        h = r["hurdles"]
        lines.append(f"hurdles (early select): median time to solve {h['without_hurdles']['median_s']} s "
                     f"without, {h['with_hurdles']['median_s']} s with "
                     f"(solved {h['without_hurdles']['solved']} / {h['with_hurdles']['solved']})")
    if "random_vs_evolution" in r:
        rv = r["random_vs_evolution"]
        lines.append(f"random search vs evolution over {rv['individuals_per_run']:,} individuals: "
                     f"evolution solved {rv['evolution']['solved']}, random search solved "
                     f"{rv['random_search']['solved']}")
    return "\n".join(lines)
