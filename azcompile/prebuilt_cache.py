"""The search kernels compiled at install: numba's cache files shipped inside the package.

A cold start used to spend 35-60 s in numba compiling the generation loop, which is the same
for every config (its arguments are arrays, numbers and the interpreter's pointer).  A
non-editable install compiles it once (``setup.py`` runs ``azcompile.search.run.prebuild``)
and ``collect`` stores numba's files under ``azcompile/_prebuilt/<fingerprint>/<package
folder>/``.  At import, ``seed`` copies them into the user's numba folder for the same
fingerprint, under the names numba's locator gives the installed package's folders; numba
then loads them as its own.  Only what numba would itself accept is copied: the same numba
version and Python; numba checks the rest (the source files' hash, the CPU) per entry and
compiles on a mismatch, as without this.  Op-set interpreters are not shipped (they depend on
the config); they compile on first use in a few seconds.

A function's index is copied only where the user's folder has none, with its data files
before it, so an entry numba wrote is never replaced and no index names a file it did not
write.  Nothing here raises: a failed copy means numba compiles.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

PREBUILT_DIR = Path(__file__).parent / "_prebuilt"
MANIFEST = "manifest.json"
_SEEDED_MARKER = ".prebuilt-seeded"
_FORMAT = 1


def numba_subfolder(source_dir: str) -> str:
    """The folder name numba's NUMBA_CACHE_DIR locator gives the modules of ``source_dir``
    (``_CacheLocator.get_suitable_cache_subpath``: the folder's name and the SHA-1 of its
    absolute path)."""
    path = os.path.abspath(source_dir)
    return os.path.split(path)[-1] + "_" + hashlib.sha1(path.encode()).hexdigest()


def _package_dirs(package_root: Path) -> dict[str, str]:
    """numba subfolder name -> folder relative to ``package_root``, for azcompile's folders."""
    found = {}
    for folder, _, _ in os.walk(package_root / "azcompile"):
        found[numba_subfolder(folder)] = os.path.relpath(folder, package_root)
    return found


def installed_package_root() -> Path:
    """The folder holding the ``azcompile`` package, as Python imported it (unresolved:
    numba names cache folders by the path a module was imported from)."""
    import azcompile
    return Path(os.path.dirname(os.path.abspath(azcompile.__file__))).parent


def _versions() -> dict:
    from importlib.metadata import version
    return {"numba": version("numba"), "python": sys.implementation.cache_tag}


def collect(numba_root: Path, package_root: Path, dest: Path) -> int:
    """Copy numba's files for azcompile's own modules from ``numba_root`` (a folder of
    fingerprint folders) into ``dest``, keyed by package-relative folder; returns the number
    of files.  ``package_root`` is the folder holding the ``azcompile`` package that
    compiled them."""
    dirs = _package_dirs(package_root)
    manifest = {"format": _FORMAT, **_versions(), "fingerprints": {}}
    count = 0
    for fingerprint in sorted(p for p in Path(numba_root).iterdir() if p.is_dir()):
        folders = {}
        for sub in sorted(p for p in fingerprint.iterdir() if p.is_dir()):
            relative = dirs.get(sub.name)
            if relative is None:        # generated kernels (op-set interpreters): not shipped
                continue
            files = sorted(f.name for f in sub.iterdir() if f.suffix in (".nbi", ".nbc"))
            if not files:
                continue
            out = Path(dest, fingerprint.name, relative)
            out.mkdir(parents=True, exist_ok=True)
            for name in files:
                shutil.copyfile(sub / name, out / name)
            folders[Path(relative).as_posix()] = files
            count += len(files)
        if folders:
            manifest["fingerprints"][fingerprint.name] = folders
    Path(dest).mkdir(parents=True, exist_ok=True)
    Path(dest, MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return count


def _manifest(prebuilt: Path) -> dict | None:
    try:
        manifest = json.loads((prebuilt / MANIFEST).read_text())
        if manifest.get("format") != _FORMAT:
            return None
        if {k: manifest.get(k) for k in ("numba", "python")} != _versions():
            return None
        return manifest
    except Exception:
        return None


def _groups(files: list[str]) -> dict[str, list[str]]:
    """Each index file with the data files of its function (``<base>.nbi`` and
    ``<base>.<n>.nbc``)."""
    groups: dict[str, list[str]] = {}
    for name in files:
        if name.endswith(".nbi"):
            groups.setdefault(name[:-4], [])
    for name in files:
        if name.endswith(".nbc"):
            base = name[:-4].rsplit(".", 1)[0]
            if base in groups:
                groups[base].append(name)
    return groups


def seed(target: Path, fingerprint: str, make_dir, write, prebuilt: Path = PREBUILT_DIR,
         package_root: Path | None = None) -> int:
    """Copy the shipped files for ``fingerprint`` into numba's folder ``target``, once per
    folder and install location.  The cache's own primitives do the writing:
    ``make_dir(path)`` creates a folder under its trust rules, ``write(path, data)`` writes a
    file atomically (jit_cache.atomic_write_bytes).  Returns the number of files copied."""
    try:
        if not (prebuilt / fingerprint).is_dir():
            return 0
        if package_root is None:
            package_root = installed_package_root()
        # One marker per install location: two environments with the same sources share the
        # folder, under different subfolder names.
        marker = target / (_SEEDED_MARKER + "-" + numba_subfolder(str(package_root))[-16:])
        if marker.exists():
            return 0
        manifest = _manifest(prebuilt)
        folders = manifest and manifest["fingerprints"].get(fingerprint)
        if not folders:
            return 0
        copied = 0
        for relative, files in folders.items():
            source = prebuilt / fingerprint / relative
            out = target / numba_subfolder(str(package_root / relative))
            make_dir(out)
            for index, data in _groups(files).items():
                if (out / (index + ".nbi")).exists():
                    continue                        # numba's own entry: never replaced
                for name in [*data, index + ".nbi"]:
                    write(out / name, (source / name).read_bytes())
                    copied += 1
        marker.write_text(f"{copied}\n")
        return copied
    except Exception:
        return 0
