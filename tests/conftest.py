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


def pytest_addoption(parser):
    parser.addoption("--fuzz-programs", type=int, default=300,
                     help="programs per differential fuzz test (CI: 300; a slow pass: 5000)")


@pytest.fixture(scope="session")
def fuzz_programs(request):
    return request.config.getoption("--fuzz-programs")
