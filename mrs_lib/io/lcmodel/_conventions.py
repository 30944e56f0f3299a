"""The receiver convention that LCModel's ``.RAW`` and ``.BASIS`` files share (0 Hz at 4.65 ppm)."""

from __future__ import annotations

from ...spectrum import Spectrum

#: LCModel's chemical shift of the receiver frequency (0 Hz) for data and basis.
LCMODEL_PPM_CENTRE: float = 4.65


def to_lcmodel_centre(spec: Spectrum) -> Spectrum:
    """Move the receiver to 4.65 ppm, keeping every line at its chemical shift."""
    if spec.ppm_reference == LCMODEL_PPM_CENTRE:
        return spec
    hz = (spec.ppm_reference - LCMODEL_PPM_CENTRE) * spec.larmor_mhz
    return spec.shift(hz=hz).replace(ppm_reference=LCMODEL_PPM_CENTRE)
