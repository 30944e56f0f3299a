"""NIfTI-MRS files: round trips, and the ppm convention checked through other readers.

Oracle for the convention: the file is read back with nibabel alone and its
ppm axis built by ``nifti_mrs.axes.Axes`` (the package's NIfTI-MRS axis,
``ppm = SpecFreqChemShift + f / SpectrometerFrequency`` with
``spectrum = fftshift(fft(stored FID))``): a singlet written at a known ppm
must peak there.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mrs_lib.errors import MRSDataError, MRSFormatError
from mrs_lib.io import nifti
from mrs_lib.sim.basis import Basis
from mrs_lib.spectrum import EditedSpectra, Spectrum

DWELL = 1 / 2000
LARMOR = 123.2


def singlet(ppm: float, *, ref: float = 4.65, n: int = 1024, lw_hz: float = 3.0) -> np.ndarray:
    t = np.arange(n) * DWELL
    return np.exp(2j * np.pi * (ppm - ref) * LARMOR * t - np.pi * lw_hz * t)


@pytest.mark.parametrize(("ppm", "ref"), [(3.0, 4.65), (2.0, 3.0), (4.0, 4.65)])
def test_singlet_peaks_at_its_ppm_for_an_independent_reader(tmp_path: Path, ppm, ref) -> None:
    """nibabel data + nifti_mrs Axes: argmax |fftshift(fft(fid))| is at ``ppm`` (one bin)."""
    from nifti_mrs.axes import Axes
    from nifti_mrs.nifti_mrs import NIFTI_MRS

    spec = Spectrum(singlet(ppm, ref=ref), DWELL, LARMOR, ppm_reference=ref)
    path = nifti.save(spec, tmp_path / "s.nii.gz")
    img = nib.load(path)
    stored = np.asarray(img.dataobj)[0, 0, 0]
    hdr = json.loads(img.header.extensions[0].get_content())
    axes = Axes(
        stored.size,
        "1H",
        hdr["SpectrometerFrequency"][0],
        float(img.header["pixdim"][4]),
        SpecFreqChemShift=hdr["SpecFreqChemShift"],
    )
    spectrum = np.fft.fftshift(np.fft.fft(stored))
    peak_ppm = axes.ppmAxisShift[np.argmax(np.abs(spectrum))]
    assert abs(peak_ppm - ppm) <= 0.5 / (DWELL * stored.size * LARMOR)
    np.testing.assert_array_equal(stored, spec.fid)  # no conjugation on disk
    # The package's own indexing returns the FSL-MRS (conjugate) view: the pitfall we avoid.
    np.testing.assert_allclose(NIFTI_MRS(str(path))[:][0, 0, 0], np.conj(spec.fid))
    back = nifti.load(path)
    assert isinstance(back, Spectrum)
    assert back.ppm_axis()[np.argmax(np.abs(back.spectrum()))] == pytest.approx(peak_ppm)


def test_spectrum_round_trip_with_batch_and_header(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    fid = rng.standard_normal((2, 3, 256)) + 1j * rng.standard_normal((2, 3, 256))
    spec = Spectrum(
        fid,
        DWELL,
        LARMOR,
        ppm_reference=4.7,
        te_ms=68.0,
        edit="diff",
        metadata={"subject": "s01", "scan": 3},
    )
    path = nifti.save(spec, tmp_path / "batch.nii.gz")
    back = nifti.load(path)
    assert isinstance(back, Spectrum)
    np.testing.assert_array_equal(back.fid, fid)
    assert (back.dwell_s, back.larmor_mhz, back.ppm_reference) == (DWELL, LARMOR, 4.7)
    assert back.te_ms == 68.0 and back.edit == "diff"
    assert back.metadata["subject"] == "s01" and back.metadata["scan"] == 3
    info = nifti.describe(path)
    assert info["dims"] == {"DIM_DYN": 2, "DIM_USER_0": 3} and info["points"] == 256
    hdr = json.loads(nib.load(path).header.extensions[0].get_content())
    assert hdr["EchoTime"] == pytest.approx(0.068) and hdr["dim_5"] == "DIM_DYN"


def test_edited_round_trip(tmp_path: Path) -> None:
    off = Spectrum(np.stack([singlet(3.0), singlet(2.0)]), DWELL, LARMOR, te_ms=68.0)
    on = Spectrum(np.stack([singlet(3.0) * 0.5, singlet(1.9)]), DWELL, LARMOR, te_ms=68.0)
    pulse = {"OFF": {"PulseOffset": 7.5}, "ON": {"PulseOffset": 1.9}}
    path = nifti.save(EditedSpectra(off=off, on=on), tmp_path / "mega.nii.gz", edit_pulse=pulse)
    hdr = json.loads(nib.load(path).header.extensions[0].get_content())
    assert hdr["dim_5"] == "DIM_EDIT" and hdr["dim_5_header"] == {"EditCondition": ["OFF", "ON"]}
    assert hdr["EditPulse"] == pulse and hdr["dim_6"] == "DIM_DYN"
    back = nifti.load(path)
    assert isinstance(back, EditedSpectra)
    np.testing.assert_array_equal(back.off.fid, off.fid)
    np.testing.assert_array_equal(back.on.fid, on.fid)
    np.testing.assert_array_equal(back.diff.fid, on.fid - off.fid)
    assert back.on.edit == "on" and back.off.te_ms == pytest.approx(68.0)


def _write_raw_nifti(path: Path, data: np.ndarray, dims: list[tuple[str, dict | None]]) -> Path:
    """A NIfTI-MRS file made with the package alone (as another tool would)."""
    from nifti_mrs.create_nmrs import gen_nifti_mrs_hdr_ext
    from nifti_mrs.hdr_ext import Hdr_Ext

    hdr = Hdr_Ext(LARMOR, "1H", dimensions=data.ndim)
    for d, (tag, header) in enumerate(dims):
        hdr.set_dim_info(d, tag, hdr=header)
    gen_nifti_mrs_hdr_ext(data, DWELL, hdr, no_conj=True).save(str(path))
    return path


def test_edit_order_comes_from_the_header(tmp_path: Path) -> None:
    """A file with EditCondition ["ON", "OFF"] (spec2nii style) is not read backwards."""
    fid_on, fid_off = singlet(1.9), singlet(3.0)
    data = np.stack([fid_on, fid_off], axis=-1)[None, None, None]
    path = _write_raw_nifti(
        tmp_path / "onoff.nii.gz", data, [("DIM_EDIT", {"EditCondition": ["ON", "OFF"]})]
    )
    back = nifti.load(path)
    assert isinstance(back, EditedSpectra)
    np.testing.assert_array_equal(back.on.fid, fid_on)
    np.testing.assert_array_equal(back.off.fid, fid_off)
    assert back.off.ppm_reference == 4.65  # package default SpecFreqChemShift for 1H


def test_basis_round_trip(tmp_path: Path) -> None:
    on = Spectrum(
        np.stack([singlet(3.0), singlet(2.0)]), DWELL, LARMOR, ppm_reference=3.0, te_ms=68.0
    )
    off = Spectrum(
        np.stack([singlet(3.0), singlet(2.1)]), DWELL, LARMOR, ppm_reference=3.0, te_ms=68.0
    )
    basis = Basis(("Cr", "GABA"), on, off, lw_hz=3.0, params={"preset": "test", "seed": 1})
    path = nifti.save_basis(basis, tmp_path / "basis.nii.gz")
    back = nifti.load_basis(path)
    assert back.metabolites == ("Cr", "GABA") and back.lw_hz == 3.0
    assert back.params == {"preset": "test", "seed": 1}
    np.testing.assert_array_equal(back.on.fid, on.fid)
    np.testing.assert_array_equal(back.off.fid, off.fid)
    assert back.on.ppm_reference == 3.0 and back.on.te_ms == pytest.approx(68.0)
    hdr = json.loads(nib.load(path).header.extensions[0].get_content())
    assert hdr["dim_5"] == "DIM_USER_0" and hdr["dim_5_header"]["Metabolite"]["Value"] == [
        "Cr",
        "GABA",
    ]
    assert hdr["dim_6"] == "DIM_EDIT"
    info = nifti.describe(path)
    assert info["kind"] == "basis" and info["metabolites"] == ["Cr", "GABA"]
    edited = nifti.load(path)  # a basis file read as spectra: the edit dim is recognised
    assert isinstance(edited, EditedSpectra) and edited.on.batch_shape == (2,)


def test_bad_nifti_input(tmp_path: Path) -> None:
    with pytest.raises(MRSFormatError, match="no such file"):
        nifti.load(tmp_path / "absent.nii.gz")
    junk = tmp_path / "junk.nii.gz"
    junk.write_text("not a nifti file")
    with pytest.raises(MRSFormatError, match=r"junk\.nii\.gz.*field 'file'.*valid NIfTI-MRS"):
        nifti.load(junk)
    bad = singlet(3.0)
    bad[5] = np.nan
    path = _write_raw_nifti(tmp_path / "nan.nii.gz", bad[None, None, None], [])
    with pytest.raises(MRSFormatError, match=r"nan\.nii\.gz.*field 'data'.*finite"):
        nifti.load(path)
    no_labels = np.stack([singlet(3.0)] * 2, axis=-1)[None, None, None]
    path = _write_raw_nifti(tmp_path / "nolabel.nii.gz", no_labels, [("DIM_EDIT", None)])
    with pytest.raises(MRSFormatError, match=r"EditCondition.*naming OFF and ON"):
        nifti.load(path)
    mrsi = np.stack([singlet(3.0)] * 2)[:, None, None, :]
    path = _write_raw_nifti(tmp_path / "mrsi.nii.gz", mrsi, [])
    with pytest.raises(MRSFormatError, match="single voxel"):
        nifti.load(path)
    spec_path = nifti.save(Spectrum(singlet(3.0), DWELL, LARMOR), tmp_path / "s.nii.gz")
    with pytest.raises(MRSFormatError, match="DIM_EDIT"):
        nifti.load_basis(spec_path)
    with pytest.raises(MRSDataError, match=r"\.nii or \.nii\.gz"):
        nifti.save(Spectrum(singlet(3.0), DWELL, LARMOR), tmp_path / "s.npz")
