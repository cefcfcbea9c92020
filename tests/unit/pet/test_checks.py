"""Raw-input checks of PET scans tables, images and VOI tables (contexture.pet.checks)."""

import datetime as dt

import numpy as np
import pydicom
import pytest

from contexture.errors import InputError
from contexture.inputs import Collector
from contexture.io.pet_images import read_dicom_pet, write_dicom_pet
from contexture.pet.checks import check_pet_inputs, image_shape


def test_on_treatment_scan_before_treatment_start_is_an_error(tmp_path):
    voi = tmp_path / "voi.tsv"
    voi.write_text(
        "patient_id\tlesion_id\ttimepoint\tscan_day\tsuvmax\nP1\tL1\tbaseline\t-3\t5.2\nP1\tL1\ton_treatment\t-1\t4.0\n"
    )
    found = Collector()
    check_pet_inputs({"voi_table": str(voi)}, found)
    assert found.problems == [
        f"{voi}, row 2 (line 3), column 'scan_day': got -1.0; expected scan_day >= 0 for an on_treatment scan "
        "(a scan before treatment start is a baseline scan; scan_day counts days from treatment start)"
    ]


def test_scans_table_naming_missing_files_names_row_and_column(tmp_path):
    scans = tmp_path / "scans.tsv"
    header = "patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\tweight_kg\n"
    scans.write_text(header + "P1\tbaseline\t-2\tP1.nii.gz\tP1_mask.nii.gz\tP1_labels.tsv\t70\n")
    found = Collector()
    check_pet_inputs({"scans": str(scans)}, found)
    missing = [p for p in found.problems if "expected an existing file or folder" in p]
    assert [p.split(": got")[0] for p in missing] == [
        f"{scans}, row 1 (line 2), column '{column}'" for column in ("image", "mask", "labels")
    ]


# --- absurd image headers ----------------------------------------------------------------------
def test_dicom_series_claiming_absurd_dimensions_is_refused_before_reading_pixels(tmp_path):
    folder = tmp_path / "series"
    start = dt.datetime(2020, 1, 1, 10, 0)
    write_dicom_pet(
        folder,
        np.ones((4, 4, 5), np.float32),
        np.diag([-2.0, -2.0, 2.0, 1.0]),
        patient_id="P1",
        weight_kg=70.0,
        injected_bq=37e6,
        half_life_s=78.41 * 3600,
        injection=start,
        scan_start=start + dt.timedelta(days=4),
        uid_seed="absurd",
    )
    for path in folder.iterdir():  # headers claim 65535 x 65535 per slice; pixel data stays 4 x 4
        ds = pydicom.dcmread(path)
        ds.Rows = ds.Columns = 65535
        ds.save_as(path)
    assert image_shape(folder) == (65535, 65535, 5)
    with pytest.raises(InputError, match=r"65535 x 65535 x 5 .*Refused before reading voxel data") as error:
        read_dicom_pet(folder)
    assert str(folder) in str(error.value)


def test_mask_without_world_space_is_refused_at_validation_unless_adopted(tmp_path):
    from tests.unit.pet.test_pet_quantify import _scan_files, _unoriented_mask

    scans = _scan_files(tmp_path)
    labels = np.asarray(__import__("nibabel").load(tmp_path / "mask.nii.gz").dataobj)
    _unoriented_mask(tmp_path / "mask.nii.gz", labels)
    found = Collector()
    check_pet_inputs({"scans": str(scans)}, found)
    assert [p for p in found.problems if "no world space" in p] == [
        f"label mask '{tmp_path / 'mask.nii.gz'}' has no world space (NIfTI sform_code and qform_code are both 0), "
        "so its position relative to the PET is unknown; re-export it with its scanner-space affine, or, if it was "
        "drawn voxel by voxel on its PET, set pet.adopt_pet_grid_for_unoriented_masks: true (scans table "
        f"{scans}, row 1, column 'mask')"
    ]
    found = Collector()
    check_pet_inputs({"scans": str(scans), "adopt_pet_grid_for_unoriented_masks": True}, found)
    assert found.problems == []
