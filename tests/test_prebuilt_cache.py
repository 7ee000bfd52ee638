"""The kernels compiled at install: numba's files collected from one package location and
seeded into a fresh numba folder under the names numba gives another location."""
import json
import os
from pathlib import Path

from numba.core import caching

from azcompile import prebuilt_cache
from azcompile.jit_cache import atomic_write_bytes
from azcompile.prebuilt_cache import collect, numba_subfolder, seed

FP = "0123456789abcdef"
BASE = "evolution.evolve-161.py311"


def _package(root: Path) -> Path:
    for rel in ("azcompile", "azcompile/search/engine"):
        (root / rel).mkdir(parents=True)
    return root


def _numba_tree(tmp_path: Path, package: Path) -> Path:
    """A numba cache root as a search leaves it: one of our folders, one generated kernel's."""
    root = tmp_path / "numba"
    ours = root / FP / numba_subfolder(str(package / "azcompile/search/engine"))
    ours.mkdir(parents=True)
    (ours / f"{BASE}.nbi").write_bytes(b"index")
    (ours / f"{BASE}.1.nbc").write_bytes(b"data")
    kernels = root / FP / numba_subfolder(str(tmp_path / "kernels"))
    kernels.mkdir()
    (kernels / "interp_x.evaluate-9.py311.nbi").write_bytes(b"kernel")
    return root


def _make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def test_subfolder_names_are_numbas_own():
    source = os.path.abspath(prebuilt_cache.__file__)
    assert numba_subfolder(os.path.dirname(source)) == \
        caching._CacheLocator.get_suitable_cache_subpath(source)


def test_a_real_functions_cache_folder_is_where_seed_writes():
    from azcompile.rng import next_u64
    expected = numba_subfolder(str(prebuilt_cache.installed_package_root() / "azcompile"))
    assert Path(next_u64._cache._cache_path).name == expected


def test_collect_then_seed_into_another_location(tmp_path):
    built = _package(tmp_path / "build")
    installed = _package(tmp_path / "site")
    shipped = tmp_path / "shipped"
    assert collect(_numba_tree(tmp_path, built), built, shipped) == 2
    manifest = json.loads((shipped / "manifest.json").read_text())
    assert manifest["fingerprints"] == {FP: {"azcompile/search/engine": [
        f"{BASE}.1.nbc", f"{BASE}.nbi"]}}          # the generated kernel is not shipped
    target = tmp_path / "user" / FP
    target.mkdir(parents=True)
    assert seed(target, FP, _make_dir, atomic_write_bytes, shipped, installed) == 2
    folder = target / numba_subfolder(str(installed / "azcompile/search/engine"))
    assert (folder / f"{BASE}.nbi").read_bytes() == b"index"
    assert (folder / f"{BASE}.1.nbc").read_bytes() == b"data"
    names = sorted(p.name for p in target.iterdir())
    assert names[1:] == [folder.name] and names[0].startswith(".prebuilt-seeded-")
    assert seed(target, FP, _make_dir, atomic_write_bytes, shipped, installed) == 0  # once
    # Another environment with the same sources shares the folder: it is seeded too.
    second = _package(tmp_path / "venv2")
    assert seed(target, FP, _make_dir, atomic_write_bytes, shipped, second) == 2
    assert (target / numba_subfolder(str(second / "azcompile/search/engine")) /
            f"{BASE}.nbi").read_bytes() == b"index"


def test_an_index_numba_wrote_is_never_replaced(tmp_path):
    built, installed = _package(tmp_path / "build"), _package(tmp_path / "site")
    shipped = tmp_path / "shipped"
    collect(_numba_tree(tmp_path, built), built, shipped)
    target = tmp_path / "user" / FP
    folder = target / numba_subfolder(str(installed / "azcompile/search/engine"))
    folder.mkdir(parents=True)
    (folder / f"{BASE}.nbi").write_bytes(b"numba's own")
    assert seed(target, FP, _make_dir, atomic_write_bytes, shipped, installed) == 0
    assert (folder / f"{BASE}.nbi").read_bytes() == b"numba's own"
    assert not (folder / f"{BASE}.1.nbc").exists()   # no data file an index did not write


def test_nothing_is_seeded_for_another_numba_or_fingerprint(tmp_path):
    built, installed = _package(tmp_path / "build"), _package(tmp_path / "site")
    shipped = tmp_path / "shipped"
    collect(_numba_tree(tmp_path, built), built, shipped)
    target = tmp_path / "user" / "fedcba9876543210"
    target.mkdir(parents=True)
    assert seed(target, target.name, _make_dir, atomic_write_bytes, shipped, installed) == 0
    manifest = json.loads((shipped / "manifest.json").read_text())
    (shipped / "manifest.json").write_text(json.dumps(dict(manifest, numba="0.0.1")))
    other = tmp_path / "user2" / FP
    other.mkdir(parents=True)
    assert seed(other, FP, _make_dir, atomic_write_bytes, shipped, installed) == 0
    assert list(other.iterdir()) == []


def test_a_broken_shipment_means_compiling_not_an_error(tmp_path):
    shipped = tmp_path / "shipped"
    (shipped / FP).mkdir(parents=True)
    (shipped / "manifest.json").write_text("{not json")
    target = tmp_path / "user" / FP
    target.mkdir(parents=True)
    assert seed(target, FP, _make_dir, atomic_write_bytes, shipped, tmp_path) == 0
