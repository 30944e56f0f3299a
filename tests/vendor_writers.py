"""Writers of the two simplest vendor formats, for tests only (no real file in the repository).

* Siemens ``.rda``: a text header between ``>>> Begin of header <<<`` and
  ``>>> End of header <<<`` (``Key: value`` lines ending in CR LF), then the
  FID as little-endian complex doubles (real, imaginary).
* Philips ``.SPAR`` (text ``key : value`` lines) and ``.SDAT`` (rows of
  complex samples as VAX F-floats; spec2nii conjugates them on reading, to a
  right-handed frame, so the conjugate is stored).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_rda(
    path: Path, fid: np.ndarray, *, dwell_s: float, larmor_mhz: float, te_ms: float
) -> Path:
    """One averaged FID as a Siemens ``.rda`` file."""
    fid = np.asarray(fid, complex).reshape(-1)
    hdr = {
        "PatientName": "simulated",
        "PatientID": "0",
        "PatientSex": "O",
        "PatientBirthDate": "19700101",
        "ModelName": "simulated",
        "DeviceSerialNumber": "0",
        "SoftwareVersion[0]": "syngo MR sim",
        "InstitutionName": "mrs_lib tests",
        "TransmitCoil": "Body",
        "SequenceName": "svs_edit",
        "ProtocolName": "megapress",
        "TE": f"{te_ms:.6f}",
        "TR": "2000.000000",
        "TI": "0.000000",
        "TM": "0.000000",
        "FlipAngle": "90.000000",
        "DwellTime": f"{dwell_s * 1e6:.6f}",
        "MRFrequency": f"{larmor_mhz:.6f}",
        "Nucleus": "1H",
        "VectorSize": str(len(fid)),
        "CSIMatrixSize[0]": "1",
        "CSIMatrixSize[1]": "1",
        "CSIMatrixSize[2]": "1",
        "VOIPositionSag": "0.000000",
        "VOIPositionCor": "0.000000",
        "VOIPositionTra": "0.000000",
        "RowVector[0]": "1.000000",
        "RowVector[1]": "0.000000",
        "RowVector[2]": "0.000000",
        "ColumnVector[0]": "0.000000",
        "ColumnVector[1]": "1.000000",
        "ColumnVector[2]": "0.000000",
        "PixelSpacingRow": "30.000000",
        "PixelSpacingCol": "30.000000",
        "SliceThickness": "30.000000",
    }
    text = ">>> Begin of header <<<\r\n"
    text += "".join(f"{k}: {v}\r\n" for k, v in hdr.items())
    text += ">>> End of header <<<\r\n"
    data = np.empty(2 * len(fid), "<f8")
    data[0::2], data[1::2] = fid.real, fid.imag
    path.write_bytes(text.encode("ascii") + data.tobytes())
    return path


def ieee_to_vax(values: np.ndarray) -> bytes:
    """float32 values as VAX F-floats (exponent bias 128 with a 0.1f mantissa; words swapped)."""
    bits = np.asarray(values, "<f4").view("<u4").astype(np.int64)
    sign = (bits >> 31) & 1
    exp = (bits >> 23) & 0xFF
    mant = bits & 0x7FFFFF
    vexp = np.where(exp == 0, 0, exp + 2)
    if np.any(vexp > 255):
        raise ValueError("value too large for a VAX F-float")
    b1 = (sign << 7) | (vexp >> 1)
    b2 = ((vexp & 1) << 7) | (mant >> 16)
    b3 = (mant >> 8) & 0xFF
    b4 = mant & 0xFF
    zero = exp == 0
    out = np.stack([b2, b1, b4, b3], axis=-1)
    out[zero] = 0
    return out.astype(np.uint8).tobytes()


def write_sdat_spar(
    stem: Path, fids: np.ndarray, *, dwell_s: float, larmor_mhz: float, te_ms: float
) -> tuple[Path, Path]:
    """Rows of FIDs ``[rows, N]`` as a Philips ``.SDAT`` / ``.SPAR`` pair."""
    fids = np.atleast_2d(np.asarray(fids, complex))
    rows, n = fids.shape
    spar = {
        "scan_id": "megapress_sim",
        "samples": n,
        "rows": rows,
        "synthesizer_frequency": round(larmor_mhz * 1e6),
        "offset_frequency": 0,
        "sample_frequency": round(1.0 / dwell_s),
        "echo_time": te_ms,
        "repetition_time": 2000,
        "spectrum_inversion_time": 0,
        "nucleus": "1H",
        "patient_name": "simulated",
        "patient_birth_date": "19700101",
        "patient_position": "head_first",
        "patient_orientation": "supine",
        "volume_selection_enable": "no",
        "equipment_sw_verions": "sim",
    }
    spar_path = stem.with_suffix(".SPAR")
    spar_path.write_text("".join(f"{k} : {v}\n" for k, v in spar.items()))
    data = np.conj(fids)
    inter = np.empty((rows, 2 * n), "<f4")
    inter[:, 0::2], inter[:, 1::2] = data.real, data.imag
    sdat_path = stem.with_suffix(".SDAT")
    sdat_path.write_bytes(ieee_to_vax(inter.reshape(-1)))
    return sdat_path, spar_path
