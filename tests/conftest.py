"""Test-session setup: one numba cache and one kernel cache directory for the whole session.

numba compiles cost seconds cold; sharing one cache directory (kept between local runs under
.pytest_cache, fresh in CI) keeps the suite within its time budget.
"""
import os
import pathlib

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_CACHE = pathlib.Path(os.environ.get("AZC_TEST_CACHE", _ROOT / ".pytest_cache" / "azc"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(_CACHE / "numba"))
os.environ.setdefault("AZC_CACHE_DIR", str(_CACHE / "kernels"))

import pytest  # noqa: E402


def pytest_sessionstart(session):
    """Before the test workers start (xdist starts them after this hook): compile the search
    kernels into the session's numba cache once, with a short demo search.  On a cold cache
    (CI) that is about a minute on both cores (azc's two-process cold compile); without it
    each worker compiled the same generation loop itself at the same time.  A warm cache
    loads in seconds.  A failure here is only reported: the tests that need the kernels fail
    on their own, with their own messages."""
    if hasattr(session.config, "workerinput"):       # an xdist worker: the controller did it
        return
    import sys
    import tempfile

    from cli_checks import run_azc

    with tempfile.TemporaryDirectory(prefix="azc-warm-") as tmp:
        done = run_azc("search", "demo", "--max-individuals", 2000, "--plain", "--out",
                       tmp + "/run", timeout=900)
    if done.returncode != 0:
        print(f"conftest: warming the kernel cache failed ({done.returncode}):\n"
              f"{done.stderr[-2000:]}", file=sys.stderr)


def pytest_addoption(parser):
    parser.addoption("--fuzz-programs", type=int, default=300,
                     help="programs per differential fuzz test (CI: 300; a slow pass: 5000)")


@pytest.fixture(scope="session")
def fuzz_programs(request):
    return request.config.getoption("--fuzz-programs")


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """A finished run directory of tests/data/tiny.toml (seed 11), made once per session."""
    from cli_checks import run_azc

    out = tmp_path_factory.mktemp("tiny") / "run"
    done = run_azc("search", _ROOT / "tests" / "data" / "tiny.toml", "--out", out, "--plain",
                   "--seed", 11, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def tiny_multiclass_run(tmp_path_factory):
    """(run directory, what `azc search` printed) for tests/data/tiny_multiclass.toml."""
    from cli_checks import run_azc

    out = tmp_path_factory.mktemp("tiny_multiclass") / "run"
    done = run_azc("search", _ROOT / "tests" / "data" / "tiny_multiclass.toml", "--out", out,
                   "--plain", timeout=900)
    assert done.returncode == 0, done.stderr
    return out, done.stdout
