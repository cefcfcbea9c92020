"""pet.columns: VOI exports of LIFEx and 3D Slicer read through their shipped header presets.

The header samples are the names the tools write (sources in contexture.io.voi_columns):
LIFEx's conventional and shape indices, and 3D Slicer Segment Statistics' "<DICOM code
meaning> [<UCUM unit>]" names with " (n)" suffixes where two plugins compute the same
measurement (Slicer's own test expects "Volume [mm3] (1)"). Neither tool writes the
patient, timepoint, scan day or site: a user adds those columns, as here.
"""

from __future__ import annotations

import logging

import pytest

from contexture.errors import InputError
from contexture.io.validation import load_schema
from contexture.io.voi_columns import PRESETS, normalize_header, resolve_voi_columns
from contexture.pet.quantify import read_voi_table

USER = ["patient_id", "lesion_id", "timepoint", "scan_day", "site"]
LIFEX = [
    "CONVENTIONAL_SUVbwmin",
    "CONVENTIONAL_SUVbwmean",
    "CONVENTIONAL_SUVbwmax",
    "CONVENTIONAL_SUVbwQ1",
    "SHAPE_Volume(mL)",
    "SHAPE_Volume(vx)",
    "SHAPE_Sphericity",
    "GLCM_Entropy_log10",
]
SLICER = [
    "Segment",
    "Number of voxels [voxels] (1)",
    "Volume [mm3] (1)",
    "Volume [cm3] (1)",
    "Number of voxels [voxels] (2)",
    "Volume [mm3] (2)",
    "Volume [cm3] (2)",
    "Minimum [{SUVbw}g/ml]",
    "Maximum [{SUVbw}g/ml]",
    "Mean [{SUVbw}g/ml]",
    "Median [{SUVbw}g/ml]",
    "Standard deviation [{SUVbw}g/ml]",
]


def _write(path, header, rows, sep="\t"):
    path.write_text(sep.join(header) + "\n" + "".join(sep.join(map(str, r)) + "\n" for r in rows))
    return path


def test_presets_name_only_columns_of_the_voi_table():
    known = set(load_schema("tables/pet_voi")["properties"])
    for preset, mapping in PRESETS.items():
        assert set(mapping) <= known, preset


def test_pet_columns_keys_are_the_voi_table_columns():
    """The config schema's pet.columns lists exactly the VOI table's columns (plus preset)."""
    from contexture.config import config_schema

    columns = config_schema()["$defs"]["cohort"]["properties"]["pet"]["properties"]["columns"]["properties"]
    assert set(columns) - {"preset"} == set(load_schema("tables/pet_voi")["properties"])


def test_normalize_header_drops_slicer_uniqueness_suffix_and_case():
    assert normalize_header(" Volume  [cm3] (2) ") == "volume [cm3]"
    assert normalize_header("Volume (ml)") == "volume (ml)"  # a unit in brackets is kept
    assert normalize_header("CONVENTIONAL_SUVbwmax") == "conventional_suvbwmax"


def test_lifex_export_is_read_with_the_lifex_preset(tmp_path, caplog):
    rows = [
        ("P1", "L1", "baseline", -3, "liver", 1.1, 3.2, 7.4, 2.5, 12.345, 1543, 0.71, 3.1),
        ("P1", "L2", "baseline", -3, "lung", 0.9, 2.1, 4.0, 1.9, 3.2, 400, 0.80, 2.8),
    ]
    path = _write(tmp_path / "lifex.tsv", USER + LIFEX, rows)
    with caplog.at_level(logging.INFO, logger="contexture.io.voi_columns"):
        lesions, references = read_voi_table(path, {"preset": "lifex"})
    assert lesions["suvmax"].tolist() == [7.4, 4.0]
    assert lesions["suvmean"].tolist() == [3.2, 2.1]
    assert lesions["volume_ml"].tolist() == [12.345, 3.2]
    assert lesions["lesion_id"].tolist() == ["L1", "L2"]
    assert references.empty
    # the texture and other indices are dropped, and named in the log
    assert "CONVENTIONAL_SUVbwQ1" in caplog.text and "GLCM_Entropy_log10" in caplog.text


def test_slicer_csv_export_is_read_with_the_slicer_preset(tmp_path):
    header = ["patient_id", "timepoint", "scan_day", "site", *SLICER]
    rows = [
        ("P1", "baseline", -2, "liver", "Liver met", 900, 8100.0, 8.1, 900, 8100.0, 8.1, 0.4, 9.25, 4.5, 4.2, 1.3),
        ("P1", "baseline", -2, "bone", "T7", 300, 2700.0, 2.7, 300, 2700.0, 2.7, 0.2, 5.5, 2.5, 2.4, 0.9),
    ]
    path = _write(tmp_path / "slicer.csv", header, rows, sep=",")
    lesions, _ = read_voi_table(path, {"preset": "slicer"})
    assert lesions.set_index("lesion_id")["suvmax"].to_dict() == {"Liver met": 9.25, "T7": 5.5}
    # Volume [cm3] is mL; Volume [mm3] is never read as mL
    assert lesions.set_index("lesion_id")["volume_ml"].to_dict() == {"Liver met": 8.1, "T7": 2.7}


def test_slicer_export_of_a_volume_not_in_suv_is_refused(tmp_path):
    """A PET volume in Bq/ml gives "Maximum [Bq/ml]": not SUV, so not taken as suvmax."""
    header = ["patient_id", "timepoint", "scan_day", "site", "Segment", "Maximum [Bq/ml]", "Volume [cm3]"]
    path = _write(tmp_path / "bq.tsv", header, [("P1", "baseline", -2, "liver", "L1", 21000.0, 8.1)])
    with pytest.raises(InputError) as error:
        read_voi_table(path, {"preset": "slicer"})
    assert str(path) in str(error.value) and "suvmax" in str(error.value)


def test_explicit_mapping_of_a_home_made_export(tmp_path):
    header = ["Patient", "ROI", "timepoint", "scan_day", "Organ", "SUVmax", "SUVmean", "Volume (ml)"]
    path = _write(tmp_path / "export.tsv", header, [("P1", "L1", "baseline", -1, "liver", 6.5, 3.0, 4.2)])
    columns = {"patient_id": "Patient", "lesion_id": ["Lesion", "ROI"], "site": "organ", "suvmax": "SUVmax",
               "suvmean": "SUVmean", "volume_ml": "Volume (ml)"}  # fmt: skip
    lesions, _ = read_voi_table(path, columns)
    row = lesions.iloc[0]
    assert (row["patient_id"], row["lesion_id"], row["site"], row["suvmax"], row["volume_ml"]) == (
        "P1", "L1", "liver", 6.5, 4.2
    )  # fmt: skip


def test_explicit_entry_overrides_the_preset():
    header = [*USER, "CONVENTIONAL_SUVbwmax", "SUVmax corrected"]
    mapping = resolve_voi_columns(header, {"preset": "lifex", "suvmax": "SUVmax corrected"}, file="x.tsv")
    assert mapping == {"SUVmax corrected": "suvmax"}


def test_a_column_already_named_ours_wins_over_the_preset_alias():
    header = ["patient_id", "lesion_id", "Segment", "timepoint", "scan_day", "Maximum [{SUVbw}g/ml]"]
    mapping = resolve_voi_columns(header, {"preset": "slicer"}, file="x.tsv")
    assert mapping == {"Maximum [{SUVbw}g/ml]": "suvmax"}  # Segment is not renamed onto lesion_id


def test_mapping_problems_name_the_file_and_the_key():
    header = ["patient_id", "timepoint", "scan_day", "suvmax", "SUV_max", "Max"]
    with pytest.raises(InputError) as error:
        resolve_voi_columns(
            header,
            {"suvmax": "SUV_max", "suvmean": "Mean SUV", "suvpeak": "Max", "tumor_to_blood": "max"},
            file="e.tsv",
        )
    message = str(error.value)
    assert "'e.tsv'" in message
    assert "pet.columns.suvmax: the export has both 'SUV_max' and a 'suvmax' column" in message
    assert "pet.columns.suvmean: none of ['Mean SUV'] found" in message
    assert "header 'Max' is mapped to both 'suvpeak' and 'tumor_to_blood'" in message


def test_without_a_preset_unknown_columns_are_still_refused(tmp_path):
    header = [*USER, "suvmax", "suvmx_typo"]
    path = _write(tmp_path / "v.tsv", header, [("P1", "L1", "baseline", -1, "liver", 5.0, 1)])
    with pytest.raises(InputError) as error:
        read_voi_table(path, {"site": "site"})
    assert "suvmx_typo" in str(error.value)


def test_validation_reads_the_export_through_the_mapping(tmp_path):
    from contexture import inputs

    (tmp_path / "clinical.tsv").write_text("patient_id\tos_days\tos_event\nP1\t100\t1\n")
    header = ["patient_id", "timepoint", "scan_day", "site", *SLICER]
    rows = [("P1", "on_treatment", -5, "liver", "L1", 9, 81.0, 0.081, 9, 81.0, 0.081, 0.4, 9.2, 4.5, 4.2, 1.3)]
    _write(tmp_path / "slicer.tsv", header, rows)
    cohort = {
        "clinical": str(tmp_path / "clinical.tsv"),
        "pet": {"voi_table": str(tmp_path / "slicer.tsv"), "columns": {"preset": "slicer"}},
    }
    with pytest.raises(InputError) as error:
        inputs.validate_cohort_inputs("trial", cohort)
    # the mapped table was checked: an on-treatment scan before treatment start
    assert "scan_day" in str(error.value) and "on_treatment" in str(error.value)
    rows[0] = ("P1", "baseline", -5, *rows[0][3:])
    _write(tmp_path / "slicer.tsv", header, rows)
    table = inputs.validate_cohort_inputs("trial", cohort)
    assert set(table["modality"]) == {"clinical", "pet"}
