"""SUVbw from DICOM and BIDS-PET: hand calculations, the IBSI/QIBA SUV DROs, refusals."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest

from contexture.errors import InputError
from contexture.io.pet_images import read_dicom_pet, read_nifti_pet, write_dicom_pet, write_nifti
from contexture.pet.suv import (
    ZR89_HALF_LIFE_S,
    bids_suv_factor,
    body_weight_suv_factor,
    dicom_suv_factors,
    frame_average_time,
    nuclide_key,
)

INJECTION = dt.datetime(2025, 3, 1, 9, 30, 0)
SCAN = dt.datetime(2025, 3, 3, 11, 0, 0)  # 2 days + 1.5 h = 49.5 h after injection
# Hand value: SUV = C * 1000 W / (D * 2^(-t / T_half))
#   = 1000 Bq/ml * 80000 g / (37e6 Bq * 2^(-49.5 / 78.41)) = 1000 * 80000 / 23887042.504 = 3.3490961
HAND_SUV_AT_1000_BQML = 3.3490961
# Time-of-day arithmetic alone (1.5 h) would give 1000 * 80000 / (37e6 * 2^(-1.5/78.41)) = 2.1910
SAME_DAY_WRONG_SUV = 2.1910235


def _affine(step_z: float = 4.0, origin_z: float = -20.0) -> np.ndarray:
    affine = np.diag([-4.0, -4.0, step_z, 1.0])
    affine[:3, 3] = [30.0, 30.0, origin_z]
    return affine


def _activity(shape=(16, 16, 11)) -> np.ndarray:
    """Activity varying by slice (so per-slice slopes differ), 1000 Bq/ml at a known voxel."""
    rng = np.random.default_rng(3)
    values = rng.uniform(200, 900, shape) * np.linspace(1, 4, shape[2])[None, None, :]
    values[5, 7, 4] = 1000.0
    return values.astype(np.float32)


def _write(folder: Path, activity, affine, **kwargs) -> Path:
    options = dict(
        patient_id="T1",
        weight_kg=80.0,
        injected_bq=37e6,
        half_life_s=ZR89_HALF_LIFE_S,
        injection=INJECTION,
        scan_start=SCAN,
        uid_seed="test",
    )
    options.update(kwargs)
    write_dicom_pet(folder, activity, affine, **options)
    return folder


def _suv(folder: Path, **kwargs):
    image = read_dicom_pet(folder)
    factors, info = dicom_suv_factors(image.attributes, image.slices, scan=str(folder), **kwargs)
    return image, image.values * factors[None, None, :], info


def test_written_slices_are_what_pydicom_writes_for_their_own_datasets(tmp_path):
    # write_dicom_pet encodes the series-wide elements once and splices each slice's own
    # elements in. Each file must be byte for byte pydicom's own encoding of the dataset it
    # holds: read back and saved again with Dataset.save_as.
    for options in ({}, {"injection_datetime_tag": False, "height_m": 1.81, "sex": "M"}):
        folder = _write(tmp_path / f"series{len(options)}", _activity(), _affine(), **options)
        files = sorted(folder.iterdir())
        assert len(files) == 11
        for path in files:
            dataset = pydicom.dcmread(path)
            again = tmp_path / "again.dcm"
            dataset.save_as(again, enforce_file_format=True)
            assert path.read_bytes() == again.read_bytes(), path.name
        image = read_dicom_pet(folder)
        # Stored int16 with a per-slice slope: within half a step of the written activity
        # (plus float32 rounding), slice by slice in place.
        steps = np.abs(_activity()).max(axis=(0, 1)) / 32000.0
        assert np.all(np.abs(image.values - _activity()) <= steps[None, None, :] * 0.501)


def test_body_weight_suv_factor_hand_value():
    assert 1000 * body_weight_suv_factor(37e6, 80.0, 49.5 * 3600, ZR89_HALF_LIFE_S) == pytest.approx(
        HAND_SUV_AT_1000_BQML, rel=1e-7
    )


def test_dicom_suv_two_days_after_injection_equals_hand_value(tmp_path):
    folder = _write(tmp_path / "series", _activity(), _affine())
    image, suv, info = _suv(folder)
    assert info["uptake_s"] == 49.5 * 3600
    assert image.slices["rescale_slope"].nunique() == 11  # one slope per slice
    # int16 storage with slope = slice max / 32000: relative error < 1 / 32000
    assert suv[5, 7, 4] == pytest.approx(HAND_SUV_AT_1000_BQML, rel=5e-5)
    assert abs(suv[5, 7, 4] - SAME_DAY_WRONG_SUV) > 1
    expected = _activity() * HAND_SUV_AT_1000_BQML / 1000
    np.testing.assert_allclose(suv, expected, rtol=1e-4)
    np.testing.assert_allclose(image.affine, _affine())


def test_file_names_and_slice_direction_do_not_change_suv(tmp_path):
    activity, affine = _activity(), _affine()
    _, reference, _ = _suv(_write(tmp_path / "a", activity, affine))
    # File names in reverse slice order: order comes from ImagePositionPatient.
    names = [f"{k:03d}.dcm" for k in reversed(range(activity.shape[2]))]
    _, renamed, _ = _suv(_write(tmp_path / "b", activity, affine, file_names=names))
    np.testing.assert_array_equal(renamed, reference)
    # The same volume written top-down (negative slice step): same world geometry.
    flipped_affine = affine.copy()
    flipped_affine[:3, 2] *= -1
    flipped_affine[:3, 3] = affine[:3, 3] + affine[:3, 2] * (activity.shape[2] - 1)
    image, flipped, _ = _suv(_write(tmp_path / "c", activity[:, :, ::-1], flipped_affine))
    np.testing.assert_allclose(image.affine, affine, atol=1e-4)
    np.testing.assert_allclose(flipped, reference, rtol=1e-6)


def test_time_only_injection_needs_a_date_for_89zr(tmp_path):
    folder = _write(tmp_path / "s", _activity(), _affine(), injection_datetime_tag=False)
    with pytest.raises(InputError, match=r"RadiopharmaceuticalStartTime.*injection_date"):
        _suv(folder)
    _, suv, info = _suv(folder, injection_date=INJECTION.date())
    assert suv[5, 7, 4] == pytest.approx(HAND_SUV_AT_1000_BQML, rel=5e-5)
    assert "injection_date" in info["injection"]


def test_missing_weight_and_dose_are_refused_naming_scan_and_tag(tmp_path):
    folder = _write(tmp_path / "s", _activity(), _affine())
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        del ds.PatientWeight
        ds.save_as(path)
    with pytest.raises(InputError) as error:
        _suv(folder)
    assert str(folder) in str(error.value) and "PatientWeight (0010,1030)" in str(error.value)
    # Clinical weight is the fallback; the scans table weight overrides.
    _, suv, info = _suv(folder, fallback_weight_kg=80.0)
    assert suv[5, 7, 4] == pytest.approx(HAND_SUV_AT_1000_BQML, rel=5e-5)
    assert info["weight_source"] == "clinical weight_kg"
    _, suv, _ = _suv(folder, weight_kg=40.0, fallback_weight_kg=80.0)
    assert suv[5, 7, 4] == pytest.approx(HAND_SUV_AT_1000_BQML / 2, rel=5e-5)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        del ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose
        ds.save_as(path)
    with pytest.raises(InputError, match=r"RadionuclideTotalDose \(0018,1074\)"):
        _suv(folder, weight_kg=80.0)


def test_unsupported_units_are_refused(tmp_path):
    folder = _write(tmp_path / "s", _activity(), _affine())
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.Units = "PROPCPS"
        ds.save_as(path)
    with pytest.raises(InputError, match="PROPCPS"):
        _suv(folder)


def test_frame_average_time_is_half_the_frame_for_slow_decay():
    assert frame_average_time(600.0, 1e12) == pytest.approx(300.0)
    # F-18, 603 s frame; series ln(x / (1 - e^-x)) = x/2 - x^2/24 + O(x^4) gives
    # T/2 - lambda T^2 / 24 = 301.5 - (ln2 / 6586.2) * 603^2 / 24 = 299.906 s
    assert frame_average_time(603.0, 6586.2) == pytest.approx(299.906, abs=0.001)


DRO_IDS = [f"DRO_{a}_{b}" for a, b in [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)]] + [
    f"DRO_{a}_{b}" for a, b in [(3, 0), (3, 1), (3, 2), (3, 3), (3, 4), (4, 0), (4, 1), (4, 2), (5, 0)]
]


@pytest.mark.parametrize("dro", DRO_IDS)
def test_ibsi_suv_digital_reference_objects(shared_fixtures, dro):
    """Hot sphere (max) 4.00, cold sphere (min) 0.20, background (median) 1.00 in the mask.

    Precision is two decimals (the DRO manual), except DRO_2_3 (Units CM2ML, SUVbsa): its
    stored values are SUVbsa truncated to RescaleSlope 0.01 (1.05 / 0.26 / 0.05), so SUVbw
    is only defined to one stored step times the BSA factor W / (10 BSA) = 3.79 (Du Bois
    BSA of 70 kg, 175 cm = 1.848 m^2); there we check the values within that step.
    """
    root = shared_fixtures / "pet" / "ibsi_suv_dro" / "DRO" / dro
    image = read_dicom_pet(root / "PT")
    mask_image = nib.load(root / "mask" / "DRO_mask.nii.gz")
    np.testing.assert_allclose(mask_image.affine, image.affine, atol=1e-6)  # same world geometry
    factors, _ = dicom_suv_factors(image.attributes, image.slices, scan=dro)
    suv = (image.values * factors[None, None, :])[np.asarray(mask_image.dataobj) > 0]
    measured = np.array([suv.max(), suv.min(), np.median(suv)])
    expected = np.array([4.00, 0.20, 1.00])
    if dro == "DRO_2_3":
        step = 0.01 * 70 / (10 * 0.007184 * 175**0.725 * 70**0.425)
        assert np.all(np.abs(measured - expected) <= step)
    else:
        np.testing.assert_array_equal(np.round(measured, 2), expected)


def test_dro_with_series_time_after_acquisition_uses_frame_timing(shared_fixtures):
    root = shared_fixtures / "pet" / "ibsi_suv_dro" / "DRO" / "DRO_3_2" / "PT"
    image = read_dicom_pet(root)
    _, info = dicom_suv_factors(image.attributes, image.slices, scan="DRO_3_2")
    assert "FrameReferenceTime" in info["reference"]
    # 11:02:30 + 299.906 s - 450 s = 10:59:59.906
    assert abs((info["reference_datetime"] - dt.datetime(2025, 1, 1, 11, 0, 0)).total_seconds()) < 0.2


def _sidecar(**overrides) -> dict:
    sidecar = {
        "TracerRadionuclide": "Zr89",
        "InjectedRadioactivity": 50.0,
        "InjectedRadioactivityUnits": "MBq",
        "TimeZero": "10:00:00",
        "ScanStart": 0,
        "InjectionStart": -2 * 86400,
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0,
        "FrameTimesStart": [0],
        "FrameDuration": [1800],
        "Units": "Bq/mL",
        "BodyWeight": 70.0,
    }
    sidecar.update(overrides)
    return sidecar


def test_bids_factor_hand_values():
    # 70000 g / (50e6 Bq * exp(-ln2 * 48 h / 78.41 h)) = 0.00213997
    factor, info = bids_suv_factor(_sidecar(), scan="s")
    assert factor == pytest.approx(0.0021399746, rel=1e-7)
    assert info["uptake_s"] == 2 * 86400
    factor, _ = bids_suv_factor(_sidecar(Units="kBq/mL"), scan="s")
    assert factor == pytest.approx(2.1399746, rel=1e-7)
    # Not decay corrected: x / (1 - e^-x) * e^(lambda t) * W / D, x = lambda * 1800 s
    factor, _ = bids_suv_factor(_sidecar(ImageDecayCorrected=False), scan="s")
    assert factor == pytest.approx(0.0021447074, rel=1e-7)
    # An InjectionStart written as a same-day clock difference, corrected by the dates.
    factor, _ = bids_suv_factor(_sidecar(InjectionStart=0, ScanDate="2025-03-03", InjectionDate="2025-03-01"), scan="s")
    assert factor == pytest.approx(0.0021399746, rel=1e-7)
    # Weight: sidecar, else clinical fallback; missing everywhere is an error naming the field.
    no_weight = _sidecar()
    del no_weight["BodyWeight"]
    factor, info = bids_suv_factor(no_weight, scan="s", fallback_weight_kg=35.0)
    assert factor == pytest.approx(0.0021399746 / 2, rel=1e-7)
    with pytest.raises(InputError, match="BodyWeight"):
        bids_suv_factor(no_weight, scan="s")
    with pytest.raises(InputError, match="InjectedRadioactivity"):
        bids_suv_factor(_sidecar(InjectedRadioactivity=None), scan="s")


def test_nifti_without_sidecar_is_refused(tmp_path):
    path = tmp_path / "pet.nii.gz"
    write_nifti(path, np.ones((4, 4, 4), np.float32), np.eye(4))
    with pytest.raises(InputError, match=r"pet\.nii\.gz' has no BIDS-PET sidecar"):
        read_nifti_pet(path)
    write_nifti(path, np.ones((4, 4, 4), np.float32), np.eye(4), sidecar=_sidecar())
    image = read_nifti_pet(path)
    assert json.loads(Path(image.attributes["_sidecar"]).read_text())["TracerRadionuclide"] == "Zr89"


def test_nuclide_names():
    assert {nuclide_key(n) for n in ["Zr89", "89Zr", "Zr-89", "^89^Zirconium"]} == {"Zr89"}
    assert nuclide_key("F18") == "F18" and nuclide_key(None) is None
    assert math.isclose(ZR89_HALF_LIFE_S, 282276.0)


def test_two_series_in_one_folder_are_refused(tmp_path):
    _write(tmp_path / "s", _activity(), _affine(), uid_seed="one")
    _write(tmp_path / "other", _activity(), _affine(), uid_seed="two", file_names=[f"x{k}.dcm" for k in range(11)])
    for path in (tmp_path / "other").iterdir():
        shutil.move(path, tmp_path / "s" / path.name)
    with pytest.raises(InputError, match="holds 2 series"):
        read_dicom_pet(tmp_path / "s")


@pytest.mark.parametrize(
    "keep, reason",
    [
        (130, "is not a readable DICOM file"),  # cut inside the preamble
        (200, "is a DICOM file without data elements"),  # cut in the file meta
        (400, "has SOPClassUID '1.2.840.10008.5.' but its file meta says"),  # cut mid-UID
        (500, "is a PET Image Storage file without Modality 'PT'"),  # cut before Modality
        (-100, "has unreadable pixel data"),  # cut in the pixels
    ],
)
def test_a_slice_cut_short_is_refused_by_name_not_dropped(tmp_path, keep, reason):
    # The last slice, cut at `keep` bytes, read without error by pydicom but without
    # Modality it used to be skipped as "not PT": the series came back one slice short.
    folder = _write(tmp_path / "s", _activity(), _affine())
    last = sorted(folder.glob("*.dcm"))[-1]
    last.write_bytes(last.read_bytes()[:keep])
    with pytest.raises(InputError, match=rf"'{last.name}' {re.escape(reason)}"):
        read_dicom_pet(folder)


def test_files_beside_the_series_that_are_not_dicom_are_skipped(tmp_path):
    folder = _write(tmp_path / "s", _activity(), _affine())
    (folder / "README.txt").write_text("exported by the scanner\n")
    assert read_dicom_pet(folder).values.shape == (16, 16, 11)


# --- lean body mass and SUL (issue 16) -----------------------------------------------------
# The IBSI DROs: PatientWeight 70 kg, PatientSize 1.75 m (PatientSex O in DRO_0_0).
# Janmahasatian 2005: BMI = 70 / 1.75^2 = 22.857142857
#   male   9270 * 70 / (6680 + 216 * 22.857142857) = 648900 / 11617.142857 = 55.857108
#   female 9270 * 70 / (8780 + 244 * 22.857142857) = 648900 / 14357.142857 = 45.197015
# James 1976: (W / H)^2 = (70 / 175)^2 = 0.16
#   male   1.10 * 70 - 128 * 0.16 = 56.52;  female 1.07 * 70 - 148 * 0.16 = 51.22
DRO_LBM_JANMAHASATIAN_M = 648900 / (6680 + 216 * 70 / 1.75**2)
DRO_LBM_JANMAHASATIAN_F = 648900 / (8780 + 244 * 70 / 1.75**2)


def test_lean_body_mass_hand_values():
    from contexture.pet.suv import lean_body_mass_kg

    assert DRO_LBM_JANMAHASATIAN_M == pytest.approx(55.857108, abs=1e-6)
    assert DRO_LBM_JANMAHASATIAN_F == pytest.approx(45.197015, abs=1e-6)
    assert lean_body_mass_kg(70, 175, "M") == pytest.approx(55.857108, abs=1e-6)
    assert lean_body_mass_kg(70, 175, "F") == pytest.approx(45.197015, abs=1e-6)
    assert lean_body_mass_kg(70, 175, "M", "james") == pytest.approx(56.52, abs=1e-12)
    assert lean_body_mass_kg(70, 175, "F", "james") == pytest.approx(51.22, abs=1e-12)
    with pytest.raises(ValueError, match="sex"):
        lean_body_mass_kg(70, 175, "O")


def _dro_copy(shared_fixtures, tmp_path, **tags) -> Path:
    """DRO_0_0 (BQML, START, 18F at 60 min) copied with some header tags replaced, its mask and a scans table."""
    root = shared_fixtures / "pet" / "ibsi_suv_dro" / "DRO" / "DRO_0_0"
    (tmp_path / "PT").mkdir()
    for path in sorted((root / "PT").iterdir()):
        ds = pydicom.dcmread(path)
        for keyword, value in tags.items():
            setattr(ds, keyword, value)
        ds.save_as(tmp_path / "PT" / path.name)
    shutil.copy(root / "mask" / "DRO_mask.nii.gz", tmp_path / "mask.nii.gz")
    (tmp_path / "labels.tsv").write_text("label\tlesion_id\tsite\tkind\n1\tDRO\tphantom\tlesion\n")
    (tmp_path / "scans.tsv").write_text(
        "patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\nDRO\tbaseline\t0\tPT\tmask.nii.gz\tlabels.tsv\n"
    )
    return tmp_path / "scans.tsv"


@pytest.mark.parametrize(
    ("sex", "formula", "lbm"),
    [
        ("M", "janmahasatian", DRO_LBM_JANMAHASATIAN_M),
        ("F", "janmahasatian", DRO_LBM_JANMAHASATIAN_F),
        ("M", "james", 56.52),
    ],
)
def test_sul_on_an_ibsi_dro_equals_the_hand_lean_body_mass(shared_fixtures, tmp_path, caplog, sex, formula, lbm):
    from contexture.pet.quantify import QuantifyOptions, quantify_scans

    scans = _dro_copy(shared_fixtures, tmp_path, PatientSex=sex)
    lesions, _, table = quantify_scans(scans, options=QuantifyOptions(lean_body_mass=formula))
    row = lesions.iloc[0]
    assert round(row["suvmax"], 2) == 4.00
    for suv, sul in (("suvmax", "sulmax"), ("suvpeak", "sulpeak"), ("suvmean", "sulmean")):
        assert row[sul] == pytest.approx(row[suv] * lbm / 70.0, rel=1e-6)
    # SULmax of the hot sphere: 4.00 * 55.857 / 70 = 3.19 (male, Janmahasatian)
    assert round(row["sulmax"], 2) == round(4.0 * lbm / 70.0, 2)
    assert table.loc[0, "lbm_kg"] == pytest.approx(lbm, rel=1e-9)
    assert table.loc[0, "height_source"] == "PatientSize" and table.loc[0, "sex_source"] == "PatientSex"
    assert table.loc[0, "radionuclide"] == "F18" and bool(table.loc[0, "uptake_in_window"])  # 60 min
    assert pd.isna(row["qc_flag"]) and "SUL" not in caplog.text


def test_sul_is_empty_with_one_warning_without_sex_or_height(shared_fixtures, tmp_path, caplog):
    from contexture.pet.quantify import quantify_scans

    scans = _dro_copy(shared_fixtures, tmp_path)  # PatientSex O: the formulas are sex-specific
    with caplog.at_level("WARNING"):
        lesions, _, _ = quantify_scans(scans)
    assert lesions[["sulmax", "sulpeak", "sulmean"]].isna().all().all()
    warnings = [r.getMessage() for r in caplog.records if "SUL" in r.getMessage()]
    assert len(warnings) == 1 and "PatientSex 'O'" in warnings[0]
    # The clinical table fills what the header lacks (height_cm, sex): same hand value.
    caplog.clear()
    lesions, _, table = quantify_scans(scans, body={"DRO": {"height_cm": 175.0, "sex": "female"}})
    assert lesions.loc[0, "sulmax"] == pytest.approx(lesions.loc[0, "suvmax"] * DRO_LBM_JANMAHASATIAN_F / 70, rel=1e-6)
    assert table.loc[0, "sex_source"] == "clinical sex" and table.loc[0, "height_source"] == "PatientSize"
    # No height anywhere (PatientSize 0, as consoles write it), and no sex: still one warning.
    caplog.clear()
    (tmp_path / "nosize").mkdir()
    scans = _dro_copy(shared_fixtures, tmp_path / "nosize", PatientSize="0")
    with caplog.at_level("WARNING"):
        lesions, _, _ = quantify_scans(scans)
    warnings = [r.getMessage() for r in caplog.records if "SUL" in r.getMessage()]
    assert lesions["sulmax"].isna().all() and len(warnings) == 1
    assert "height (PatientSize 0.0, clinical height_cm missing" in warnings[0]
    assert "sex M or F (PatientSex 'O'" in warnings[0]


# --- uptake-time plausibility and the QIBA reference-time rule (issue 16) ---------------------


def test_89zr_dicom_with_a_2_h_uptake_warns_and_flags(tmp_path, caplog):
    """The injection datetime carries the scan date: 2 h instead of 2 days."""
    from contexture.pet.suv import DEFAULT_UPTAKE_WINDOWS_H, check_uptake_time

    folder = _write(tmp_path / "zr", _activity(), _affine(), injection=SCAN - dt.timedelta(hours=2))
    image, suv, info = _suv(folder)
    assert info["radionuclide"] == "Zr89" and info["uptake_s"] == 7200
    with caplog.at_level("WARNING"):
        assert check_uptake_time(str(folder), info, DEFAULT_UPTAKE_WINDOWS_H) is False
    message = caplog.records[-1].getMessage()
    assert str(folder) in message and "uptake time 2.00 h" in message
    assert "injection date equals the scan date (2025-03-03" in message
    # The right date is inside the 89Zr window (36-180 h): no warning.
    folder = _write(tmp_path / "ok", _activity(), _affine())
    _, _, info = _suv(folder)
    caplog.clear()
    assert check_uptake_time(str(folder), info, DEFAULT_UPTAKE_WINDOWS_H) is True and not caplog.records
    # A dose-finding scan declared on day 0 (days_post_injection) is checked against that day.
    info_day0 = dict(info, uptake_s=7200.0)
    assert check_uptake_time("s", info_day0, DEFAULT_UPTAKE_WINDOWS_H, days_post_injection=0) is True


def test_bids_uptake_window_names_the_clock_time_cause(caplog):
    from contexture.pet.suv import DEFAULT_UPTAKE_WINDOWS_H, check_uptake_time

    _, info = bids_suv_factor(_sidecar(InjectionStart=-7200), scan="sub-01_pet")
    with caplog.at_level("WARNING"):
        assert check_uptake_time("sub-01_pet", info, DEFAULT_UPTAKE_WINDOWS_H) is False
    assert "sub-01_pet" in caplog.text and "same-day clock difference" in caplog.text
    # A nuclide without a configured window: only long-lived ones are checked (>= 12 h).
    assert check_uptake_time("s", info, {}) is False
    assert check_uptake_time("s", dict(info, radionuclide="Ga68", half_life_s=4062.6), {}) is None


def test_frame_reference_time_zero_uses_the_earliest_acquisition_time(tmp_path):
    """QIBA: back-compute only with FrameReferenceTime > 0 and ActualFrameDuration > 0.

    A vendor header set: Units BQML, SeriesTime 20 min after the first AcquisitionTime,
    FrameReferenceTime 0, 180 s frames (slice k acquired at 11:00 + 180 k s). The reference
    is the earliest AcquisitionDateTime, 11:00:00, so the uptake is 49.5 h and the voxel of
    1000 Bq/ml has the hand value 3.3490961. The back-computation would have taken the
    median slice's 11:15:00 + T_ave(180 s) - 0 = 11:16:30, 990 s later: SUV x exp(lambda 990 s),
    0.24 % higher for 89Zr (11 % for 18F).
    """
    folder = _write(tmp_path / "vendor", _activity(), _affine())
    for k, path in enumerate(sorted(folder.iterdir(), key=lambda p: int(pydicom.dcmread(p).InstanceNumber))):
        ds = pydicom.dcmread(path)
        ds.SeriesTime = "112000"
        ds.AcquisitionTime = (SCAN + dt.timedelta(seconds=180 * k)).strftime("%H%M%S")
        ds.ActualFrameDuration = 180000
        ds.FrameReferenceTime = "0"
        ds.save_as(path)
    image, suv, info = _suv(folder)
    assert info["reference"] == "earliest AcquisitionDate/AcquisitionTime"
    assert info["reference_datetime"] == SCAN and info["uptake_s"] == 49.5 * 3600
    assert float(suv[5, 7, 4]) == pytest.approx(HAND_SUV_AT_1000_BQML, rel=1e-4)


def test_uptake_window_defaults_equal_the_config_schema():
    import yaml

    from contexture.io.validation import SCHEMA_DIR
    from contexture.pet.suv import DEFAULT_UPTAKE_WINDOWS_H, HALF_LIFE_S

    schema = yaml.safe_load((SCHEMA_DIR / "cohort" / "pet.schema.yaml").read_text())
    windows = schema["properties"]["uptake_window_hours"]["properties"]
    assert {k: tuple(v["default"]) for k, v in windows.items() if "default" in v} == DEFAULT_UPTAKE_WINDOWS_H
    assert set(windows) == set(HALF_LIFE_S)
