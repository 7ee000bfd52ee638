"""Class pairs and projection seeds of binary tasks, drawn as the reference draws them."""
import numpy as np
import pytest
from data_helpers import binary, fresh_cache  # noqa: F401

from azcompile.search.data import cache, pairs
from azcompile.search.data.datafiles import MAX_CLASSES, DatasetError


def test_hash_mix_matches_the_reference():
    # Values printed by the reference's HashMix (definitions.h) compiled with g++.
    assert pairs.hash_mix(1, 2) == 4095696974
    assert pairs.hash_mix(856572777, 11001) == 3893094001
    assert pairs.hash_mix(856572777, 0) == 2254264047
    assert pairs.hash_mix(4000000000, 7) == 487685854


def test_pair_split_36_9():
    search, held = pairs.pair_split()
    assert len(search) == 36 and len(held) == 9
    assert set(held) == {tuple(sorted(p)) for p in pairs.RECOMMENDED_HELD_OUT_PAIRS}
    assert not set(search) & set(held) and len(set(search) | set(held)) == 45


def test_fixed_pair_seed_rule_and_determinism():
    a = binary(data_seed=23, positive_class=1, negative_class=7, min_supported_data_seed=5,
               max_supported_data_seed=15)
    assert a.info["projection_seed"] == 5 + 23 % 10
    cache.clear()
    b = binary(data_seed=23, positive_class=1, negative_class=7, min_supported_data_seed=5,
               max_supported_data_seed=15)
    c = binary(data_seed=24, positive_class=1, negative_class=7, min_supported_data_seed=5,
               max_supported_data_seed=15)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_valid, b.y_valid)
    assert not np.array_equal(a.x_train, c.x_train)


def test_drawn_pairs_respect_held_out_pairs_and_seed_range():
    held = set(pairs.RECOMMENDED_HELD_OUT_PAIRS)
    seen = set()
    for seed in range(60):
        t = binary(data_seed=seed, held_out_pairs=[list(p) for p in held],
                   min_supported_data_seed=20, max_supported_data_seed=25)
        pair = (t.info["positive_class"], t.info["negative_class"])
        assert pair not in held and pair[0] < pair[1]
        assert 20 <= t.info["projection_seed"] < 25
        seen.add(pair)
    assert len(seen) > 20   # uniform over 36 pairs: 60 draws cover most of them
    for seed in range(10):
        t = binary(data_seed=seed, pairs="held_out")
        assert (t.info["positive_class"], t.info["negative_class"]) in held
    again = binary(data_seed=5, pairs="search")
    assert again.name == binary(data_seed=5, held_out_pairs=[list(p) for p in held]).name


def test_too_many_classes_are_refused_before_any_pair_is_built(tmp_path, monkeypatch):
    # 20,000 labels used to build all 2e8 class pairs and exhaust memory.
    path = tmp_path / "ids.csv"
    path.write_text("".join(f"{i % 7},{i}\n" for i in range(20000)))
    monkeypatch.setattr(pairs, "all_pairs", lambda classes: pytest.fail("pairs were built"))
    with pytest.raises(DatasetError, match=r"20000 distinct labels.*limit of 1000 classes"):
        binary(path=str(path))
    assert MAX_CLASSES == 1000


def test_pairs_are_built_from_the_classes_present_only(tmp_path, monkeypatch):
    # pairs = 'search' used to enumerate every pair of range(max label + 1).
    path = tmp_path / "sparse.csv"
    path.write_text("".join(f"{i % 5}.5,{i % 3},{(i % 2) * 2_000_000_000}\n" for i in range(60)))
    built = []
    real = pairs.all_pairs
    monkeypatch.setattr(pairs, "all_pairs", lambda classes: built.append(len(classes)) or real(classes))
    task = binary(features=2, n_train=30, n_valid=5, path=str(path), pairs="search")
    assert built == [2]
    assert (task.info["positive_class"], task.info["negative_class"]) == (0, 2_000_000_000)
