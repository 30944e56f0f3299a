"""Spin systems of the five metabolites, as data (chapter 1 of the book).

A :class:`SpinSystem` is a tuple of independent :class:`SpinPart` objects. Each
part is a set of mutually J-coupled spins (chemical shifts in ppm, scalar
couplings in Hz) simulated as one density matrix; uncoupled groups such as the
NAA acetyl CH3 are one-spin parts with a ``scale`` (the number of equivalent
protons). The strong-coupling Hamiltonian (full ``2 pi J I_k . I_l``) is built
by :func:`hamiltonian`.

Every part is normalised so that each proton contributes one unit of signal to
a pulse-acquire experiment, whatever the size of the part (the ``2**(2 - n)``
weighting of :ref:`physics-weights`; see :func:`part_weight`). Relative
amplitudes across metabolites are therefore proton counts, which is what a
linear-combination fit needs.

Sources (:ref:`physics-spins`): Near et al. MRM 2013;70:1183 for GABA, Glu,
Gln, NAA, Cr as used by FID-A and Osprey/MRSCloud; Kaiser et al. NMR Biomed
2008;21:22 and Govindaraju et al. NMR Biomed 2000;13:129 as GABA options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, get_args

import numpy as np

from ..errors import MRSDataError

#: GABA parameter sets.
GabaModel = Literal["near2013", "kaiser2008", "govindaraju2000"]
#: The GABA parameter-set names as a tuple (the first is the default).
GABA_MODELS: tuple[GabaModel, ...] = get_args(GabaModel)


@dataclass(frozen=True)
class SpinPart:
    """One group of mutually coupled spins.

    Parameters
    ----------
    shifts_ppm
        Chemical shift of every spin (ppm).
    couplings_hz
        ``(k, l, J)`` triples: scalar coupling ``J`` (Hz) between spins ``k`` and ``l``
        (0-based); pairs not listed are uncoupled.
    scale
        Protons represented by each spin of the part (3 for a CH3 simulated as one spin).
    labels
        Names of the spins (for plots and docs).
    """

    shifts_ppm: tuple[float, ...]
    couplings_hz: tuple[tuple[int, int, float], ...] = ()
    scale: float = 1.0
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.shifts_ppm)
        if n < 1:
            raise MRSDataError("field 'shifts_ppm': expected at least one spin")
        for k, ll, _j in self.couplings_hz:
            if not (0 <= k < n and 0 <= ll < n and k != ll):
                raise MRSDataError(f"field 'couplings_hz': pair ({k}, {ll}) outside 0..{n - 1}")
        if self.labels and len(self.labels) != n:
            raise MRSDataError(f"field 'labels': expected {n} labels, got {len(self.labels)}")
        if not self.scale > 0:
            raise MRSDataError(f"field 'scale': expected a positive number, got {self.scale}")

    @property
    def n_spins(self) -> int:
        return len(self.shifts_ppm)

    @property
    def n_protons(self) -> float:
        return self.n_spins * self.scale

    def j_matrix(self) -> np.ndarray:
        """Symmetric ``(n, n)`` matrix of couplings in Hz."""
        j = np.zeros((self.n_spins, self.n_spins))
        for k, ll, val in self.couplings_hz:
            j[k, ll] = j[ll, k] = val
        return j


@dataclass(frozen=True)
class SpinSystem:
    """A metabolite: independent spin parts and the source of the parameters."""

    name: str
    parts: tuple[SpinPart, ...]
    source: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def n_protons(self) -> float:
        return float(sum(p.n_protons for p in self.parts))

    def as_dict(self) -> dict[str, object]:
        """Plain-data description (used in cache keys and provenance)."""
        return {
            "name": self.name,
            "source": self.source,
            "parts": [
                {
                    "shifts_ppm": list(p.shifts_ppm),
                    "couplings_hz": [list(c) for c in p.couplings_hz],
                    "scale": p.scale,
                }
                for p in self.parts
            ],
        }


def part_weight(part: SpinPart) -> float:
    """Signal weight ``scale * 2**(2 - n)`` of an ``n``-spin part.

    With ``rho0 = F_z`` and readout ``Tr(rho F+)`` a pulse-acquire gives
    ``n * 2**(n - 2)`` for ``n`` spins (the trace grows with the Hilbert-space
    dimension ``2**n``); the weight makes it ``n * scale``: one unit per proton.
    """
    return part.scale * 2.0 ** (2 - part.n_spins)


# ------------------------------------------------------------------ operators
_SX = np.array([[0.0, 0.5], [0.5, 0.0]])
_SZ = np.array([[0.5, 0.0], [0.0, -0.5]])
_SP = np.array([[0.0, 1.0], [0.0, 0.0]])  # I+ = Ix + i Iy (real)


def _embed(op: np.ndarray, k: int, n: int) -> np.ndarray:
    out = np.ones((1, 1))
    for i in range(n):
        out = np.kron(out, op if i == k else np.eye(2))
    return out


@lru_cache(maxsize=16)
def spin_operators(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Single-spin operators ``(Ix_k, Iy_k / i, Iz_k, I+_k)`` stacked as ``(n, 2**n, 2**n)``.

    The Zeeman basis is ordered with spin 0 as the most significant bit and
    state 0 = spin up (m = +1/2). ``Iy`` is purely imaginary, so its real
    factor ``Iy / i`` is returned.
    """
    sy_over_i = np.array([[0.0, -0.5], [0.5, 0.0]])
    ix = np.stack([_embed(_SX, k, n) for k in range(n)])
    iy = np.stack([_embed(sy_over_i, k, n) for k in range(n)])
    iz = np.stack([_embed(_SZ, k, n) for k in range(n)])
    ip = np.stack([_embed(_SP, k, n) for k in range(n)])
    for a in (ix, iy, iz, ip):
        a.setflags(write=False)
    return ix, iy, iz, ip


def magnetic_numbers(n: int) -> np.ndarray:
    """Total ``m = sum m_k`` of every Zeeman basis state (length ``2**n``)."""
    states = np.arange(2**n)
    bits = (states[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1
    return 0.5 * n - bits.sum(axis=1)


def hamiltonian(part: SpinPart, larmor_mhz: float, ppm_reference: float) -> np.ndarray:
    """Free-precession Hamiltonian (rad/s) in the frame rotating at ``ppm_reference``.

    ``H0 = sum_k 2 pi nu_k Iz_k + sum_{k<l} 2 pi J_kl I_k . I_l`` with
    ``nu_k = (ppm_k - ppm_reference) * larmor_mhz``; real symmetric. The full
    scalar product keeps strong coupling exact.
    """
    n = part.n_spins
    ix, iy, iz, _ = spin_operators(n)
    nu = (np.asarray(part.shifts_ppm) - ppm_reference) * larmor_mhz
    h = 2 * np.pi * np.einsum("k,kij->ij", nu, iz)
    for k, ll, j in part.couplings_hz:
        # Iy_k Iy_l = (i A)(i B) = -A B with the real factors A = Iy_k / i.
        dot = ix[k] @ ix[ll] - iy[k] @ iy[ll] + iz[k] @ iz[ll]
        h = h + 2 * np.pi * j * dot
    return h


# ---------------------------------------------------------------- parameters
def _pairs(*triples: tuple[int, int, float]) -> tuple[tuple[int, int, float], ...]:
    return tuple(triples)


def _gaba(model: GabaModel) -> SpinSystem:
    # Spins: 0 H2, 1 H2', 2 H3, 3 H3', 4 H4, 5 H4'.
    labels = ("H2", "H2'", "H3", "H3'", "H4", "H4'")
    near_geminal = ((0, 1, -15.938), (2, 3, -15.000), (4, 5, -14.062))
    if model == "near2013":
        shifts = (2.284, 2.284, 1.888, 1.888, 3.013, 3.013)
        vicinal = (
            (0, 2, 7.678),
            (1, 3, 7.678),
            (0, 3, 6.980),
            (1, 2, 6.980),
            (2, 4, 8.510),
            (3, 5, 8.510),
            (2, 5, 6.503),
            (3, 4, 6.503),
        )
        source = "Near et al., MRM 2013;70:1183"
    elif model == "kaiser2008":
        shifts = (2.284, 2.284, 1.888, 1.888, 3.012, 3.012)
        vicinal = (
            (0, 2, 7.352),
            (0, 3, 7.352),
            (1, 2, 7.352),
            (1, 3, 7.352),
            (2, 4, 6.377),
            (2, 5, 7.960),
            (3, 4, 8.139),
            (3, 5, 7.495),
        )
        source = "Kaiser et al., NMR Biomed 2008;21:22 (geminal J from Near 2013)"
    elif model == "govindaraju2000":
        shifts = (2.2840, 2.2840, 1.8890, 1.8890, 3.0128, 3.0128)
        vicinal = (
            (0, 2, 7.6),
            (0, 3, 7.6),
            (1, 2, 7.6),
            (1, 3, 7.6),
            (2, 4, 7.3),
            (2, 5, 7.3),
            (3, 4, 7.3),
            (3, 5, 7.3),
        )
        source = "Govindaraju et al., NMR Biomed 2000;13:129 (geminal J from Near 2013)"
    else:
        raise MRSDataError(f"argument 'gaba': expected one of {GABA_MODELS}, got {model!r}")
    part = SpinPart(shifts, _pairs(*vicinal, *near_geminal), 1.0, labels)
    return SpinSystem("GABA", (part,), source, {"gaba": model})


def _glu() -> SpinSystem:
    part = SpinPart(
        (3.7433, 2.0375, 2.1200, 2.3378, 2.3520),
        _pairs(
            (0, 1, 7.331),
            (0, 2, 4.651),
            (1, 2, -14.849),
            (1, 3, 6.413),
            (1, 4, 8.406),
            (2, 3, 8.478),
            (2, 4, 6.875),
            (3, 4, -15.915),
        ),
        1.0,
        ("H2", "H3", "H3'", "H4", "H4'"),
    )
    return SpinSystem("Glu", (part,), "Near et al., MRM 2013;70:1183")


def _gln() -> SpinSystem:
    part1 = SpinPart(
        (3.753, 2.129, 2.109, 2.432, 2.454),
        _pairs(
            (0, 1, 5.847),
            (0, 2, 6.500),
            (1, 2, -14.504),
            (1, 3, 9.165),
            (1, 4, 6.347),
            (2, 3, 6.324),
            (2, 4, 9.209),
            (3, 4, -15.371),
        ),
        1.0,
        ("H2", "H3", "H3'", "H4", "H4'"),
    )
    nh_a = SpinPart((6.816,), (), 1.0, ("NH2a",))
    nh_b = SpinPart((7.529,), (), 1.0, ("NH2b",))
    return SpinSystem("Gln", (part1, nh_a, nh_b), "Near et al., MRM 2013;70:1183")


def _naa() -> SpinSystem:
    acetyl = SpinPart((2.008,), (), 3.0, ("CH3",))
    aspartyl = SpinPart(
        (7.8205, 4.3817, 2.6727, 2.4863),
        _pairs((0, 1, 6.400), (1, 2, 3.861), (1, 3, 9.821), (2, 3, -15.592)),
        1.0,
        ("NH", "H2", "H3", "H3'"),
    )
    return SpinSystem("NAA", (acetyl, aspartyl), "Near et al., MRM 2013;70:1183")


def _cr() -> SpinSystem:
    return SpinSystem(
        "Cr",
        (
            SpinPart((3.027,), (), 3.0, ("CH3",)),
            SpinPart((3.913,), (), 2.0, ("CH2",)),
            SpinPart((6.649,), (), 1.0, ("NH",)),
        ),
        "Near et al., MRM 2013;70:1183",
    )


def spin_system(name: str, *, gaba: GabaModel = "near2013") -> SpinSystem:
    """The spin system of metabolite ``name`` (``Cr``, ``GABA``, ``Gln``, ``Glu``, ``NAA``).

    ``gaba`` picks the GABA parameter set: ``"near2013"`` (default, as FID-A and
    MRSCloud), ``"kaiser2008"`` or ``"govindaraju2000"``. Neither Kaiser 2008
    nor Govindaraju 2000 gives the geminal couplings; the Near 2013 values
    (-15.938, -15.000, -14.062 Hz) are used for them. Govindaraju 2000 treats
    GABA as A2M2X2: every H2-H3 coupling is 7.6 Hz and every H3-H4 coupling
    7.3 Hz.
    """
    builders = {"GABA": lambda: _gaba(gaba), "Glu": _glu, "Gln": _gln, "NAA": _naa, "Cr": _cr}
    if name not in builders:
        raise MRSDataError(f"metabolite {name!r}: expected one of {tuple(builders)}")
    return builders[name]()


def singlet(ppm: float, protons: float = 1.0, name: str = "singlet") -> SpinSystem:
    """A single uncoupled resonance (for tests and the book)."""
    return SpinSystem(name, (SpinPart((ppm,), (), protons),), "synthetic")


def two_spin(ppm_a: float, ppm_b: float, j_hz: float, name: str = "AB") -> SpinSystem:
    """Two coupled spins: AX (weak) when ``|ppm_a - ppm_b| * larmor >> J``, else AB."""
    return SpinSystem(
        name, (SpinPart((ppm_a, ppm_b), ((0, 1, j_hz),), 1.0, ("A", "B")),), "synthetic"
    )


__all__ = [
    "GABA_MODELS",
    "GabaModel",
    "SpinPart",
    "SpinSystem",
    "hamiltonian",
    "magnetic_numbers",
    "part_weight",
    "singlet",
    "spin_operators",
    "spin_system",
    "two_spin",
]
