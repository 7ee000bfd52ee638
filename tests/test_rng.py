"""The random draws have one source: the kernels' jitted functions and the text copied into
exported modules are the same Python, and give the bits the previous pure-Python twin gave."""
from __future__ import annotations

import math
import warnings

import numpy as np

from azcompile import rng

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


# The independent oracle: the Python-int implementation the export carried before.
def _oracle_mix64(z):
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _oracle_stream_base(seed, stream, call):
    h = _oracle_mix64(seed + _GOLDEN * (stream + 1))
    return _oracle_mix64(h ^ ((_GOLDEN * (call + 1)) & _MASK))


def _oracle_open_unit(base, e):
    return (float(_oracle_mix64(base + _GOLDEN * (e + 1)) >> 11) + 0.5) / 9007199254740992.0


def _exported():
    namespace = {"np": np, "math": math}
    exec(compile(rng.py_rng_source(), "<exported rng>", "exec"), namespace)
    return namespace


def _cases(n=400):
    gen = np.random.default_rng(20261201)
    for _ in range(n):
        seed = int(gen.integers(0, 2**63)) * 2 + int(gen.integers(0, 2))   # all 64 bits
        yield seed, int(gen.integers(0, 200)), int(gen.integers(0, 10**7)), int(gen.integers(0, 256))


def test_jitted_and_exported_draws_agree_bit_for_bit():
    py = _exported()
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the exported text must not warn on uint64 wraparound
        for seed, stream, call, e in _cases():
            base = np.uint64(rng.stream_base(np.uint64(seed), stream, call))  # boxed as int
            py_base = py["_stream_base"](seed, stream, call)
            assert int(base) == int(py_base) == _oracle_stream_base(seed, stream, call)
            assert rng.open_unit(base, e) == py["_open_unit"](py_base, e) \
                == _oracle_open_unit(int(base), e)
            for low, high in ((-0.5, 2.0), (1.0, 1.0), (3.0, -3.0)):
                assert rng.uniform_at(base, e, low, high) == py["_uniform"](py_base, e, low, high)
            assert rng.gaussian_at(base, e, 0.25, 3.0) == py["_gaussian"](py_base, e, 0.25, 3.0)


def test_mix64_and_the_sequential_generator_are_unchanged():
    for z in (0, 1, _GOLDEN, _MASK, 123456789):
        assert int(rng.mix64(np.uint64(z))) == _oracle_mix64(z)
    state = rng.new_state(7)
    assert int(state[0]) == _oracle_mix64(7)
    assert int(rng.next_u64(state)) == _oracle_mix64((_oracle_mix64(7) + _GOLDEN) & _MASK)


def test_the_source_text_is_the_kernels_source():
    text = rng.py_rng_source()
    for name in ("_mix64", "_stream_base", "_open_unit", "_uniform", "_gaussian"):
        assert f"def {name}(" in text
        assert getattr(rng, name).py_func.__name__ == name   # jitted from that very function
    assert "njit" not in text and "import" not in text
