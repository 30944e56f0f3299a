"""Registry of the external reference files the book validates against.

The files are never committed to the project. Each entry knows its public
origin and sha256; :func:`fetch` resolves a name to a local path by looking

1. in ``$MRS_DATA_DIR`` (the project's ``make`` targets and ``.ci/run`` point it
   at ``../shared/data`` when that folder exists), then
2. in the download cache (``$MRS_CACHE_DIR`` or the OS cache dir), downloading
   from the public origin with :mod:`pooch` when missing,

and verifies the sha256 of whatever it returns. ``mrs data list`` prints the
registry; ``mrs data verify`` checks every file that is present.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import DataRegistryError

ENV_DATA_DIR = "MRS_DATA_DIR"
ENV_CACHE_DIR = "MRS_CACHE_DIR"

_ISBI_COMMIT = "247d51b272821b0084d9180c237beabdc32ad3c9"
_ISBI_URL = (
    f"https://raw.githubusercontent.com/julianmer/ISBI-Edited-MRS-Challenge/{_ISBI_COMMIT}/basis/"
)
_SUSPECT_URL = "https://github.com/openmrslab/suspect/raw/82993a0e/tests/test_data/"
_LCMODEL_COMMIT = "c9d95ff9b1fd2e7e8b256088ba1f5cf4df5fb207"
_LCMODEL_URL = f"https://raw.githubusercontent.com/schorschinho/LCModel/{_LCMODEL_COMMIT}/"
# (path in the LCModel repository, sha256, what it is): `make lcmodel` builds and checks with them
_LCMODEL_FILES: tuple[tuple[str, str, str], ...] = (
    (
        "LICENSE.md",
        "b04f876f773a2b50d7cace86e3f7713b1d3ddb9cbe3e5a602479096da8131cd9",
        "licence (BSD-3-Clause)",
    ),
    (
        "source/LCModel.f",
        "c4821f706778dc9bf2cc192ff2469663bc3881c43c611ae1bcabad7030f6f092",
        "Fortran 77 source",
    ),
    *(
        (f"source/{inc}", sha, f"Fortran include file {inc}")
        for inc, sha in (
            ("lcmodel.inc", "f6ed96762fd74325b6a4602a468d22c81059a37da8109026cc948ad54a5a46f1"),
            ("lipid-1.inc", "f2fd9b53d1a80ce0b8ca0f6f9e3224072b4257b23e09f03df2d2b1161ff5a26f"),
            ("liver-1.inc", "e4c26a2e73c79ae1d66ea38df26ae7232e77466b05bfb12ec3c1244fb29a9cfd"),
            ("muscle-1.inc", "298213282e76b8a9e87b4cab7b00118810e820ef1b0c66315776a1aa9979803e"),
            ("nml_lcmodel.inc", "ce5fdd9878aec7d78bb04fb601c5c830ca0ffb6ea588da7eabbe28f3210cad68"),
            ("nml_lcmodl.inc", "a39628625536831a038be394a3ca690b826b33482bd7293b5d983c6c2fee4e9c"),
        )
    ),
    (
        "test_lcm/3t.basis",
        "bdad9e7fbf607c39d269a03e6f16a0f726f47553f3b76006f65633f643c36671",
        "test case: 3 T PRESS basis set",
    ),
    (
        "test_lcm/control.file",
        "ee1547fe2d46116aff671652aba39d41e13c89266a3a8435c748774104627184",
        "test case: control file",
    ),
    (
        "test_lcm/data.raw",
        "b5c55a2b43249a15a2eb19620833e631ba3986d463006dd0e2ff792eddfec560",
        "test case: in vivo 3 T spectrum (.RAW)",
    ),
    (
        "test_lcm/out_ref_build.ps",
        "fd2fa78a73e9afca08605541957d042dd6e4e289a4137291a539d16caf190215",
        "test case: PostScript output of the reference build (its concentration table)",
    ),
)


@dataclass(frozen=True)
class DataFile:
    """One registered file.

    ``name`` is what callers pass to :func:`fetch`; ``relpath`` is its place below
    ``$MRS_DATA_DIR``; ``url`` its public origin (``None`` for facts tables that
    have no downloadable origin and must come from ``$MRS_DATA_DIR``).
    """

    name: str
    relpath: str
    sha256: str
    url: str | None
    licence: str
    description: str


def _isbi(met: str, state: str, sha: str) -> DataFile:
    fname = f"{met}_{state}.mat"
    return DataFile(
        name=f"isbi-fida-megapress/{fname}",
        relpath=f"external/isbi-fida-megapress/{fname}",
        sha256=sha,
        url=_ISBI_URL + fname,
        licence="MIT",
        description=(
            f"FID-A MEGA-PRESS basis, {met} edit-{state}: ideal refocusing, 20 ms Gaussian "
            "editing 1.88/7.4 ppm, TE 68 ms, 127.731 MHz, 2048 pts, 2000 Hz, 2 Hz Lorentzian"
        ),
    )


_ENTRIES: tuple[DataFile, ...] = (
    _isbi("Cr", "OFF", "d91e35a1cb11a661739a9974359b72812e5ba6fc2362d1c1dc3fefaeb4f88459"),
    _isbi("Cr", "ON", "ae1770fddcf4dc430514406556fbf26882f2d8d8dfe3ad44f665daa1a906eed1"),
    _isbi("GABA", "OFF", "feee5ac6b77d937aa52beb43f277e2330f7f69fdf35a78845f3894c567c6c34a"),
    _isbi("GABA", "ON", "c232e5ce37f1aa942d68168317eab2f116420363047da3d91384e1c175390cca"),
    _isbi("Gln", "OFF", "3ea088299fa7d362e6a4371b436d61e4ee0c0d464fcb6155050c0be8d5328894"),
    _isbi("Gln", "ON", "e65008b2e8f041fe2cc9595bf5825a086fcba8bdb7b613259c6b1f8783c364cc"),
    _isbi("Glu", "OFF", "c4e2b4a36870516e1f984760bec71b74cd38559515a117bce30076a804ccd251"),
    _isbi("Glu", "ON", "45d0bd02ddf41923e1d75c8fe1421f93bbfba658e580289bac6331f18d521c17"),
    _isbi("NAA", "OFF", "681b0bea2de5121023738b3f71c1a3cc26edfe62d825cd1a7e2f7afbd2bcb7e7"),
    _isbi("NAA", "ON", "dfd6081c6d24320154c500e71f9aa1ddea5fb2fa11e1cf677f33851d0ccadfd0"),
    DataFile(
        name="tarquin-megapress-diff/tarquin_megapress_fit.txt",
        relpath="external/tarquin-megapress-diff/tarquin_megapress_fit.txt",
        sha256="bc5b96d57178a524367c78e8fd598da0d9c3e6bb6c2c4fc3d64d2516554fe823",
        url=_SUSPECT_URL + "tarquin/tarquin_megapress_fit.txt",
        licence="MIT",
        description="TARQUIN 4.3.5 fit export of a real in vivo MEGA-PRESS DIFF spectrum",
    ),
    *(
        DataFile(
            name=f"lcmodel-output-example/svs_97.{ext}",
            relpath=f"external/lcmodel-output-example/svs_97.{ext}",
            sha256=sha,
            url=_SUSPECT_URL + f"lcmodel/svs_97.{ext}",
            licence="MIT",
            description=f"real LCModel 6.3-1B .{ext} output of an unedited in vivo spectrum",
        )
        for ext, sha in (
            ("COORD", "9ae410903852fc8844fbc2748da8c57a7b72ec11d646dcb6f27c60100ac42d0c"),
            ("CSV", "ba7bb76aaa5eec561bfa87c3f693159b93f68dd1a7909088688e22b3c6ae9f03"),
            ("TABLE", "ecacf57842c1e6cc64397f383f0d9f5f09467febc47ac101c0968d8ab477192d"),
        )
    ),
    *(
        DataFile(
            name=f"lcmodel-source/{path}",
            relpath=f"external/lcmodel-source/{path}",
            sha256=sha,
            url=_LCMODEL_URL + path,
            licence="BSD-3-Clause",
            description=f"LCModel 6.3 (S. W. Provencher) {what}",
        )
        for path, sha, what in _LCMODEL_FILES
    ),
    DataFile(
        name="swansea_phantom_design_mM.csv",
        relpath="reference/swansea_phantom_design_mM.csv",
        # facts table compiled for this project
        sha256="7aaba0d53dbc078efe12bcee42b24e5996c776ec951b0275fe26b2893d9224c6",
        url=None,
        licence="facts",
        description="known concentrations (mM) of the Swansea phantom series E1-E4d",
    ),
)

REGISTRY: dict[str, DataFile] = {e.name: e for e in _ENTRIES}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verify(entry: DataFile, path: Path) -> Path:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _VERIFIED.get(key) or _sha256(path)
    if entry.sha256 and digest != entry.sha256:
        raise DataRegistryError(
            f"file '{path}' (registry name '{entry.name}'): sha256 {digest} does not match the "
            f"registered {entry.sha256}; the file is corrupt or a different version"
        )
    _VERIFIED[key] = digest
    return path


def data_dir() -> Path | None:
    """The directory named by ``$MRS_DATA_DIR``, or ``None`` when unset."""
    value = os.environ.get(ENV_DATA_DIR)
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where downloads go: ``$MRS_CACHE_DIR/data`` or the OS cache dir of ``mrs_lib``."""
    value = os.environ.get(ENV_CACHE_DIR)
    if value:
        return Path(value).expanduser() / "data"
    import pooch

    return Path(pooch.os_cache("mrs_lib")) / "data"


def names() -> list[str]:
    """All registered names."""
    return sorted(REGISTRY)


def fetch(name: str, *, download: bool = True) -> Path:
    """Return the local path of the registered file ``name``, verified by sha256.

    Looks in ``$MRS_DATA_DIR`` first, then the download cache; downloads from the
    public origin when allowed. Raises :class:`~mrs_lib.errors.DataRegistryError`
    for an unknown name, a hash mismatch, or a file that cannot be found.
    """
    entry = REGISTRY.get(name)
    if entry is None:
        raise DataRegistryError(f"unknown data file '{name}'; registered: {', '.join(names())}")
    root = data_dir()
    if root is not None:
        local = root / entry.relpath
        if local.is_file():
            return _verify(entry, local)
    cached = cache_dir() / entry.relpath
    if cached.is_file():
        return _verify(entry, cached)
    where = f"'{root / entry.relpath}'" if root is not None else f"${ENV_DATA_DIR}/{entry.relpath}"
    if entry.url is None or not download:
        why = "it has no public download origin" if entry.url is None else "downloading is disabled"
        raise DataRegistryError(
            f"data file '{name}' not found at {where} nor in the download cache, and {why}. "
            + _data_dir_hint(root)
        )
    import pooch

    try:
        path = pooch.retrieve(
            url=entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=Path(entry.relpath).name,
            path=cached.parent,
            progressbar=False,
        )
    except Exception as exc:  # network errors, hash mismatch
        raise DataRegistryError(
            f"data file '{name}' not found at {where} nor in the download cache, and could not "
            f"download it from {entry.url} ({type(exc).__name__}: {exc}). " + _data_dir_hint(root)
        ) from exc
    return _verify(entry, Path(path))


def _data_dir_hint(root: Path | None) -> str:
    """What to do about a missing file: point ``$MRS_DATA_DIR`` at the reference data."""
    now = f"it is '{root}'" if root is not None else "it is not set"
    return (
        f"Set the environment variable {ENV_DATA_DIR} to the folder holding the project's "
        f"external reference data ({now}): `make book`, `make test` and `.ci/run` use "
        f"../shared/data when it exists; in a notebook or JupyterLab started another way, "
        f"export {ENV_DATA_DIR}=/path/to/shared/data before starting it. `mrs data list` "
        "shows every registered file and `mrs data verify` checks them."
    )


def verify_all() -> dict[str, str]:
    """Check every registered file that is present locally; return ``name -> status``."""
    status: dict[str, str] = {}
    for name in names():
        try:
            status[name] = f"ok {fetch(name, download=False)}"
        except DataRegistryError as exc:
            status[name] = f"missing or bad: {exc}"
    return status


__all__ = ["REGISTRY", "DataFile", "cache_dir", "data_dir", "fetch", "names", "verify_all"]
