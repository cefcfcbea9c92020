"""Raw-input checks of PET scans tables and VOI tables (contexture.pet.checks); the files they name are parsed by pet_quantify."""

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest

from contexture.errors import InputError
from contexture.inputs import Collector
from contexture.io.pet_images import read_dicom_pet, write_dicom_pet
from contexture.pet.checks import check_pet_inputs


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
def _small_series(folder: Path) -> Path:
    """A 4 x 4 x 5 DICOM PET series (80 voxels)."""
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
        uid_seed="small",
    )
    return folder


def test_dicom_series_claiming_absurd_dimensions_is_refused_before_reading_pixels(tmp_path):
    folder = _small_series(tmp_path / "series")
    for path in folder.iterdir():  # headers claim 65535 x 65535 per slice; pixel data stays 4 x 4
        ds = pydicom.dcmread(path)
        ds.Rows = ds.Columns = 65535
        ds.save_as(path)
    with pytest.raises(InputError, match=r"65535 x 65535 x 5 .*Refused before reading voxel data") as error:
        read_dicom_pet(folder)
    assert str(folder) in str(error.value)


def test_a_dicom_series_over_the_configured_voxel_limit_is_refused_naming_the_setting(tmp_path):
    folder = _small_series(tmp_path / "series")
    assert read_dicom_pet(folder, max_voxels=80).values.shape == (4, 4, 5)  # 80 voxels: at the limit
    with pytest.raises(
        InputError, match=r"4 x 4 x 5 \(80 voxels\); .*at most 79 voxels \(config limits.image_voxels\)"
    ):
        read_dicom_pet(folder, max_voxels=79)


def test_validation_parses_no_image_mask_or_labels_file_and_records_each(tmp_path):
    """The files a scans table names are parsed once, by pet_quantify (issue 21): here
    they must exist and be recorded, whatever they hold."""
    from tests.unit.pet.test_pet_quantify import _scan_files

    scans = _scan_files(tmp_path)
    for name in ("mask.nii.gz", "labels.tsv"):
        (tmp_path / name).write_bytes(b"not what the scans table says")
    found = Collector()
    check_pet_inputs({"scans": str(scans)}, found)
    assert found.problems == []
    kinds = {Path(entry["file"]).name: entry["kind"] for entry in found.files.values()}
    assert kinds == {
        "scans.tsv": "PET scans table",
        "pet.nii.gz": "PET image",
        "pet.json": "BIDS-PET sidecar",
        "mask.nii.gz": "PET mask",
        "labels.tsv": "PET labels table",
    }


def test_a_labels_table_over_the_table_size_limit_is_refused_unread(tmp_path):
    from tests.unit.pet.test_pet_quantify import _scan_files

    scans = _scan_files(tmp_path)
    with open(tmp_path / "labels.tsv", "a") as handle:
        handle.write("\n" * 5000)  # 5 kB, against a 1 kB limit the scans table (~100 bytes) is within
    found = Collector({"table_mb": 1000 / 1024**2})
    check_pet_inputs({"scans": str(scans)}, found)
    assert len(found.problems) == 1
    assert "labels.tsv" in found.problems[0] and "config limits.table_mb" in found.problems[0]
