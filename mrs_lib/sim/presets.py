"""Named MEGA-PRESS protocols (chapter 1 of the book; :ref:`appendix-physics`).

A :class:`Preset` is a :class:`~mrs_lib.sim.sequence.MegaPress` plus the
readout (points, bandwidth). All are TE 68 ms with ideal excitation.

``external-reference``
    The settings of the FID-A basis in the shared data
    (``isbi-fida-megapress``): 127.731 MHz, ideal refocusing, 20 ms Gaussian
    editing at 1.88 / 7.4 ppm, taus 5/17/17/17/12 ms, 2048 points at 2000 Hz,
    receiver at 3.0 ppm (as FID-A centres its spectra).
``fida-default``
    FID-A's shaped-pulse example: 127.73 MHz (3 T), 5 ms slice-selective
    refocusing, 3 cm slices in a 5 cm field of view, 14 ms Gaussian editing at
    1.88 / 7.5 ppm, 2048 points at 2000 Hz.
``paper``
    The Swansea scanner of the paper: 123.23 MHz, 5 ms refocusing, 3 cm
    slices, 20 ms Gaussian editing at 1.9 / 7.4 ppm, 4096 points at 2000 Hz.
``mrscloud-siemens``
    MRSCloud's Siemens timing at 2.89 T: refocusing pulses (4.4 ms) centred at
    7.75 and 41.75 ms, 14 ms editing pulses centred at 20.875 and 54.875 ms,
    1.9 / 7.5 ppm, 8192 points at 4000 Hz.

Every preset except ``external-reference`` puts the receiver at 4.65 ppm (the
LCModel/NIfTI-MRS habit); the refocusing carrier (slice centre) is 3.0 ppm.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import MRSDataError
from ..types import PROTON_GAMMA_MHZ_PER_T, WATER_PPM
from .sequence import MegaPress


@dataclass(frozen=True)
class Preset:
    """A sequence and its readout."""

    name: str
    sequence: MegaPress
    n_points: int
    bw_hz: float
    description: str = ""

    @property
    def dwell_s(self) -> float:
        return 1.0 / self.bw_hz

    def replace(self, **changes: Any) -> Preset:
        """A copy with readout fields (``n_points``, ``bw_hz``) or sequence fields changed."""
        own = {k: changes.pop(k) for k in list(changes) if k in ("n_points", "bw_hz", "name")}
        seq = dataclasses.replace(self.sequence, **changes) if changes else self.sequence
        return dataclasses.replace(self, sequence=seq, **own)

    def as_dict(self) -> dict[str, object]:
        return {
            "preset": self.name,
            "n_points": self.n_points,
            "bw_hz": self.bw_hz,
            "sequence": self.sequence.as_dict(),
        }


_B3T_MHZ = round(3.0 * PROTON_GAMMA_MHZ_PER_T, 3)  # 127.732

#: The named protocols of the module docstring, by name.
PRESETS: dict[str, Preset] = {
    "external-reference": Preset(
        "external-reference",
        MegaPress(
            larmor_mhz=127.731,
            ppm_reference=3.0,
            taus_ms=(5.0, 17.0, 17.0, 17.0, 12.0),
            edit_on_ppm=1.88,
            edit_off_ppm=7.4,
            edit_duration_ms=20.0,
            refocusing="ideal",
        ),
        2048,
        2000.0,
        "FID-A basis in the shared data: ideal refocusing, 20 ms Gaussian editing",
    ),
    "fida-default": Preset(
        "fida-default",
        MegaPress(
            larmor_mhz=_B3T_MHZ,
            ppm_reference=WATER_PPM,
            taus_ms=(5.0, 17.0, 17.0, 17.0, 12.0),
            edit_on_ppm=1.88,
            edit_off_ppm=7.5,
            edit_duration_ms=14.0,
            refocusing="shaped",
            refocus_duration_ms=5.0,
            slice_cm=3.0,
            fov_cm=5.0,
        ),
        2048,
        2000.0,
        "FID-A shaped MEGA-PRESS example: 3 T, 5 ms refocusing, 14 ms editing",
    ),
    "paper": Preset(
        "paper",
        MegaPress(
            larmor_mhz=123.23,
            ppm_reference=WATER_PPM,
            taus_ms=(5.0, 17.0, 17.0, 17.0, 12.0),
            edit_on_ppm=1.9,
            edit_off_ppm=7.4,
            edit_duration_ms=20.0,
            refocusing="shaped",
            refocus_duration_ms=5.0,
            slice_cm=3.0,
            fov_cm=5.0,
        ),
        4096,
        2000.0,
        "Swansea scanner of the paper: 123.23 MHz, 5 ms refocusing, 20 ms editing",
    ),
    "mrscloud-siemens": Preset(
        "mrscloud-siemens",
        MegaPress(
            larmor_mhz=round(2.89 * PROTON_GAMMA_MHZ_PER_T, 3),
            ppm_reference=WATER_PPM,
            # pulse centres at 0, 7.75, 20.875, 41.75, 54.875 ms; acquisition at 68 ms
            taus_ms=(7.75, 13.125, 20.875, 13.125, 13.125),
            edit_on_ppm=1.9,
            edit_off_ppm=7.5,
            edit_duration_ms=14.0,
            refocusing="shaped",
            refocus_duration_ms=4.4,
            slice_cm=3.0,
            fov_cm=5.0,
        ),
        8192,
        4000.0,
        "MRSCloud Siemens timing at 2.89 T, 4.4 ms refocusing, 14 ms editing",
    ),
}

#: The names of :data:`PRESETS`, for argument choices.
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)


def get_preset(
    name: str | Preset, *, refocusing: str | None = None, grid_points: int | None = None
) -> Preset:
    """The preset called ``name`` (a :class:`Preset` passes through).

    ``refocusing`` (``"ideal"`` or ``"shaped"``) and ``grid_points`` (spatial
    positions per axis), when given, override the preset's values.
    """
    if isinstance(name, Preset):
        pre = name
    else:
        try:
            pre = PRESETS[name]
        except KeyError:
            raise MRSDataError(f"preset {name!r}: expected one of {PRESET_NAMES}") from None
    changes: dict[str, object] = {}
    if refocusing is not None:
        changes["refocusing"] = refocusing
    if grid_points is not None:
        changes["grid_points"] = int(grid_points)
    return pre.replace(**changes) if changes else pre


__all__ = ["PRESETS", "PRESET_NAMES", "Preset", "get_preset"]
