"""Label resampling, SUV statistics and SUVpeak against hand values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from contexture.errors import InputError
from contexture.io.pet_images import write_nifti
from contexture.pet.quantify import (
    LabelIndex,
    labels_outside_fov,
    peak_kernel,
    quantify_scans,
    resample_labels,
    voi_statistics,
)


def _iso(step: float, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    affine = np.diag([step, step, step, 1.0])
    affine[:3, 3] = origin
    return affine


def test_mask_on_a_finer_shifted_grid_samples_the_right_voxels():
    # PET: 4 mm voxels, centres at 0, 4, 8, ... mm. Mask: 2 mm voxels shifted by 0.6 mm,
    # centres at 0.6 + 2m, so mask voxels m = 3..6 cover [5.6, 13.6) mm on each axis.
    # PET centres inside: 8 and 12 mm -> PET indices 2 and 3 on each axis: 8 voxels.
    mask = np.zeros((20, 20, 20), np.int32)
    mask[3:7, 3:7, 3:7] = 5
    grid = resample_labels(mask, _iso(2.0, (0.6, 0.6, 0.6)), (10, 10, 10), _iso(4.0))
    expected = np.zeros((10, 10, 10), np.int32)
    expected[2:4, 2:4, 2:4] = 5
    np.testing.assert_array_equal(grid, expected)


def test_mask_with_flipped_axes_and_oblique_pet_matches_brute_force():
    mask = np.zeros((30, 25, 20), np.int32)
    mask[5:15, 8:20, 4:12] = 1
    mask[18:26, 2:9, 10:18] = 2
    mask_affine = np.diag([-1.5, 2.0, 2.5, 1.0])
    mask_affine[:3, 3] = [40.0, -10.0, 3.0]
    angle = 0.3
    rotation = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    pet_affine = np.eye(4)
    pet_affine[:3, :3] = rotation * 3.0
    pet_affine[:3, 3] = [-5.0, -20.0, 0.0]
    shape = (20, 22, 24)
    grid = resample_labels(mask, mask_affine, shape, pet_affine)
    to_mask = np.linalg.inv(mask_affine) @ pet_affine
    for i, j, k in itertools.product(*(range(n) for n in shape)):  # reference: one voxel at a time
        m = np.rint(to_mask @ [i, j, k, 1.0])[:3].astype(int)
        inside = all(0 <= m[a] < mask.shape[a] for a in range(3))
        assert grid[i, j, k] == (mask[tuple(m)] if inside else 0)
    assert set(np.unique(grid)) == {0, 1, 2}


def test_label_extent_and_labels_equal_the_voxel_lists_in_either_memory_order():
    rng = np.random.default_rng(7)
    for order in ("C", "F"):
        for _ in range(20):
            labels = np.zeros((13, 9, 11), dtype=np.int32, order=order)
            n = int(rng.integers(1, 6))
            labels[tuple(rng.integers(0, s, n) for s in labels.shape)] = rng.integers(1, 9, n)
            nonzero = np.argwhere(labels != 0)
            lo, hi = LabelIndex(labels).extent
            np.testing.assert_array_equal(lo, nonzero.min(0))
            np.testing.assert_array_equal(hi, nonzero.max(0))
            np.testing.assert_array_equal(LabelIndex(labels).present, np.unique(labels[labels != 0]))
    assert LabelIndex(np.zeros((4, 4, 4), np.int32)).extent is None


def test_label_index_equals_find_objects_bincount_and_argwhere_in_either_memory_order():
    # LabelIndex lists the labelled voxels once, in memory order. Reference: scipy's
    # find_objects, numpy's bincount of every voxel and argwhere, on C- and F-ordered
    # int16/int32/uint8 arrays and a strided view, with up to 40 labels.
    from scipy import ndimage

    rng = np.random.default_rng(11)
    for order, dtype in itertools.product(("C", "F"), (np.uint8, np.int16, np.int32)):
        for _ in range(10):
            labels = np.zeros((17, 12, 9), dtype=dtype, order=order)
            n = int(rng.integers(1, 60))
            labels[tuple(rng.integers(0, s, n) for s in labels.shape)] = rng.integers(1, 41, n)
            for array in (labels, labels[::2, 1:, :]):
                index = LabelIndex(array)
                assert index.boxes == ndimage.find_objects(array)
                full = np.bincount(array.ravel())
                assert index.counts[0] == 0 and len(index.counts) == len(full)
                np.testing.assert_array_equal(index.counts[1:], full[1:])
                np.testing.assert_array_equal(index.present, np.unique(array[array != 0]))
                listed = index.coordinates()
                np.testing.assert_array_equal(array[tuple(listed.T)], index.values)
                assert sorted(map(tuple, listed)) == sorted(map(tuple, np.argwhere(array != 0)))
    empty = LabelIndex(np.zeros((3, 3, 3), np.int16))
    assert empty.counts.size == 0 and empty.boxes == [] and empty.extent is None and empty.present.size == 0


def test_labels_outside_fov_counts_what_mapping_every_voxel_counts():
    # Reference: every labelled voxel mapped into the PET's index space one at a time; a
    # voxel is outside beyond half a voxel plus the tolerance. The masks are placed across
    # the field of view's edge, inside it, and with corners exactly on the limit.
    rng = np.random.default_rng(11)
    pet_shape = (20, 18, 16)
    angle = 0.2
    rotation = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    pet_oblique = np.eye(4)
    pet_oblique[:3, :3] = rotation * 4.0
    for pet_affine in (_iso(4.0), pet_oblique):
        for case in range(40):
            mask = np.zeros((40, 36, 32), np.int32, order="F")
            start = rng.integers(0, 30, 3)
            size = rng.integers(1, 10, 3)
            mask[start[0] : start[0] + size[0], start[1] : start[1] + size[1], start[2] : start[2] + size[2]] = 1
            mask[tuple(rng.integers(0, s) for s in mask.shape)] = 2
            # Case 0: the 2 mm grid's last voxel centre exactly one tolerance beyond the edge.
            offset = (-1.0, -1.0, -1.0) if case == 0 else tuple(rng.uniform(-12.0, 4.0, 3))
            mask_affine = _iso(2.0, offset)
            tolerance = 1.0
            to_pet = np.linalg.inv(pet_affine) @ mask_affine
            expected: dict[int, int] = {}
            for index in np.argwhere(mask != 0):
                mapped = to_pet[:3, :3] @ index + to_pet[:3, 3]
                if np.any(mapped < -0.5 - tolerance) or np.any(mapped > np.array(pet_shape) - 0.5 + tolerance):
                    value = int(mask[tuple(index)])
                    expected[value] = expected.get(value, 0) + 1
            assert labels_outside_fov(mask, mask_affine, pet_shape, pet_affine, tolerance) == expected


def test_peak_kernel_sizes():
    # Lattice points within radius 6.2035 mm (1 ml sphere): 4 mm voxels -> |d|^2 <= 2.40:
    # 1 + 6 + 12 = 19; 2 mm voxels -> |d|^2 <= 9.62: 123 points (OEIS A000605, r = 3).
    assert peak_kernel(_iso(4.0)).sum() == 19
    assert peak_kernel(_iso(2.0)).sum() == 123


def test_suvpeak_of_a_hot_voxel_and_a_uniform_sphere():
    suv = np.full((20, 20, 20), 2.0)
    suv[10, 10, 10] = 20.0
    labels = np.zeros(suv.shape, np.int32)
    labels[9:12, 9:12, 9:12] = 1
    # Uniform sphere of SUV 10, radius 14 mm, far from the hot voxel.
    index = np.indices(suv.shape).transpose(1, 2, 3, 0)
    sphere = np.linalg.norm((index - [4, 4, 15]) * 4.0, axis=-1) <= 14.0
    suv[sphere] = 10.0
    labels[sphere] = 2
    # Corner voxel: hot, only the 7 kernel voxels inside the image count.
    suv[0, 0, 0] = 20.0
    labels[0, 0, 0] = 3
    stats = voi_statistics(suv, labels, 0.064, peak_kernel(_iso(4.0))).set_index("label")
    # Sphere centred on the hot voxel: (20 + 18 * 2) / 19
    assert stats.loc[1, "suvpeak"] == pytest.approx(56 / 19)
    assert stats.loc[1, "suvmax"] == 20 and stats.loc[1, "suvmean"] == pytest.approx((20 + 26 * 2) / 27)
    assert stats.loc[1, "voxels"] == 27 and stats.loc[1, "volume_ml"] == pytest.approx(27 * 0.064)
    # The 19-voxel sphere fits inside the uniform sphere: SUVpeak = SUVmax = SUVmean = 10
    assert stats.loc[2, ["suvmax", "suvmean", "suvpeak"]].tolist() == pytest.approx([10, 10, 10])
    # Corner: offsets >= 0 within radius: 1 + 3 face + 3 edge = 7 voxels: (20 + 6 * 2) / 7
    assert stats.loc[3, "suvpeak"] == pytest.approx(32 / 7)


# BIDS-PET sidecar of the test scans: 70 kg, 50 MBq of 89Zr injected 48 h before the scan
# (activity in Bq/ml = SUV / 0.0021399746).
SIDECAR_70KG_50MBQ_48H = {
    "TracerRadionuclide": "Zr89",
    "InjectedRadioactivity": 50.0,
    "InjectedRadioactivityUnits": "MBq",
    "TimeZero": "10:00:00",
    "ScanStart": 0,
    "InjectionStart": -172800,
    "ImageDecayCorrected": True,
    "ImageDecayCorrectionTime": 0,
    "Units": "Bq/mL",
    "BodyWeight": 70.0,
}


def _scan_files(tmp_path, mask_affine=None, labels_extra="", mask_values=None):
    """One NIfTI scan: SUV 1 background, lesion SUV 6 (label 1), aorta SUV 2 (label 2)."""
    affine = _iso(4.0)
    suv = np.ones((12, 12, 12), np.float32)
    suv[2:5, 2:5, 2:5] = 6.0
    suv[8:11, 8:11, 8:11] = 2.0
    labels = np.zeros(suv.shape, np.int16)
    labels[2:5, 2:5, 2:5] = 1
    labels[8:11, 8:11, 8:11] = 2
    if mask_values is not None:
        labels[0, 0, 0] = mask_values
    # Activity for 70 kg, 50 MBq, 48 h of 89Zr: Bq/ml = SUV / 0.0021399746
    sidecar = dict(SIDECAR_70KG_50MBQ_48H)
    write_nifti(tmp_path / "pet.nii.gz", suv / np.float32(0.0021399746), affine, sidecar=sidecar)
    write_nifti(tmp_path / "mask.nii.gz", labels, affine if mask_affine is None else mask_affine)
    (tmp_path / "labels.tsv").write_text(
        "label\tlesion_id\tsite\tkind\tirradiated\treference_region\n"
        "1\tL1\tliver\tlesion\tfalse\t\n2\t\t\treference\t\taorta\n" + labels_extra
    )
    (tmp_path / "scans.tsv").write_text(
        "patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\nP1\tbaseline\t-2\tpet.nii.gz\tmask.nii.gz\tlabels.tsv\n"
    )
    return tmp_path / "scans.tsv"


def test_quantify_a_nifti_scan(tmp_path):
    lesions, references, scans = quantify_scans(_scan_files(tmp_path))
    row = lesions.iloc[0]
    assert (row["patient_id"], row["lesion_id"], row["timepoint"], row["scan_day"]) == ("P1", "L1", "baseline", -2)
    assert row["suvmax"] == pytest.approx(6.0, rel=1e-6) and row["suvmean"] == pytest.approx(6.0, rel=1e-6)
    # Peak at the cube centre: all 19 kernel voxels in the 3x3x3 cube of SUV 6.
    assert row["suvpeak"] == pytest.approx(6.0, rel=1e-6)
    assert row["voxels"] == 27 and row["volume_ml"] == pytest.approx(27 * 0.064)
    assert row["tumor_to_blood"] == pytest.approx(3.0, rel=1e-6) and np.isnan(row["tumor_to_muscle"])
    assert references.loc[0, "region"] == "aorta" and references.loc[0, "suvmean"] == pytest.approx(2.0, rel=1e-6)
    assert scans.loc[0, "format"] == "nifti" and scans.loc[0, "uptake_s"] == 172800


def test_label_missing_from_labels_table_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"label\(s\) \[7\].*not in the labels table"):
        quantify_scans(_scan_files(tmp_path, mask_values=7))


def test_label_listed_but_absent_from_mask_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"lists label\(s\) \[3\]"):
        quantify_scans(_scan_files(tmp_path, labels_extra="3\tL3\tlung\tlesion\tfalse\t\n"))


def test_mask_in_another_frame_of_reference_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"outside the field of view.*another frame of reference"):
        quantify_scans(_scan_files(tmp_path, mask_affine=_iso(4.0, (300.0, 0.0, 0.0))))


def test_quantify_cohort_from_a_voi_table_lists_its_scans_and_features(tmp_path):
    from contexture.pet import quantify_cohort

    path = tmp_path / "voi.tsv"
    path.write_text(
        "patient_id\tlesion_id\ttimepoint\tscan_day\tsite\tsuvmax\tirradiated\tkind\treference_region\tsuvmean\n"
        "B\tB1\tbaseline\t-1\tliver\t5\tfalse\tlesion\t\t\n"
        "A\tA1\tbaseline\t-3\tliver\t2\tfalse\tlesion\t\t\n"
        "A\tA2\tbaseline\t-3\tlung\t8\tfalse\tlesion\t\t\n"
        "A\tA3\ton_treatment\t30\tlung\t50\ttrue\tlesion\t\t\n"
        "A\t\tbaseline\t-3\t\t\t\treference\taorta\t2.5\n"
    )
    result = quantify_cohort(voi_table=path)
    # One scans row per (patient, timepoint, scan day), sorted, marked as VOI-table input.
    assert result.scans.to_dict("list") == {
        "patient_id": ["A", "A", "B"],
        "timepoint": ["baseline", "on_treatment", "baseline"],
        "scan_day": [-3, 30, -1],
        "format": ["voi_table"] * 3,
    }
    assert result.reference_regions["region"].tolist() == ["aorta"]
    features = result.features.set_index("patient_id")
    assert features.loc["A", "pet_geomean_suvmax_baseline"] == pytest.approx(4.0)  # sqrt(2 * 8)
    assert features.loc["A", "pet_lesions_on_treatment"] == 0  # the only on-treatment lesion is irradiated
    assert features.loc["B", "pet_geomean_suvmax_baseline"] == pytest.approx(5.0)


# --- no silent geometry (issue 16) ------------------------------------------------------------


def _unoriented_mask(path, labels):
    """A NIfTI label map with sform_code = qform_code = 0 (nibabel then guesses a centred, x-flipped affine)."""
    import nibabel as nib

    image = nib.Nifti1Image(labels, np.eye(4))
    image.set_sform(None, code=0)
    image.set_qform(None, code=0)
    nib.save(image, str(path))


def test_mask_without_world_space_is_refused_naming_the_file(tmp_path):
    scans = _scan_files(tmp_path)
    labels = np.asarray(__import__("nibabel").load(tmp_path / "mask.nii.gz").dataobj)
    _unoriented_mask(tmp_path / "mask.nii.gz", labels)
    with pytest.raises(InputError, match=r"mask\.nii\.gz' has no world space \(NIfTI sform_code and qform_code"):
        quantify_scans(scans)


def test_adopting_the_pet_grid_warns_every_time_and_needs_equal_shapes(tmp_path, caplog):
    from contexture.pet.quantify import QuantifyOptions

    scans = _scan_files(tmp_path)
    expected, _, _ = quantify_scans(scans)
    labels = np.asarray(__import__("nibabel").load(tmp_path / "mask.nii.gz").dataobj)
    _unoriented_mask(tmp_path / "mask.nii.gz", labels)
    adopt = QuantifyOptions(adopt_pet_grid_for_unoriented_masks=True)
    for _ in range(2):
        caplog.clear()
        with caplog.at_level("WARNING"):
            lesions, _, table = quantify_scans(scans, options=adopt)
        assert sum("no world space" in r.getMessage() for r in caplog.records) == 1
        assert lesions[["suvmax", "suvmean", "voxels"]].equals(expected[["suvmax", "suvmean", "voxels"]])
        assert bool(table.loc[0, "mask_grid_adopted"]) and not bool(table.loc[0, "mask_resampled"])
    _unoriented_mask(tmp_path / "mask.nii.gz", labels[:, :, :10])  # another shape: cannot be the PET's grid
    with pytest.raises(InputError, match=r"the shapes differ \(mask 12x12x10, PET 12x12x12\)"):
        quantify_scans(scans, options=adopt)


def test_another_patients_mask_is_flagged(tmp_path, caplog):
    """A mask of another patient (another shape, the same label numbers) on this PET.

    Its labels lie inside this PET's field of view, so the FOV check lets it through (it
    refuses only labels beyond fov_tolerance_voxels outside the image); the plausibility
    flags catch it. This PET: body SUV 1 (x < 12), air 0 (x >= 12), lesion L1 SUV 6,
    aorta SUV 2, muscle SUV 0.5. The other mask puts L1 and both reference regions in this
    body's background (blood pool and background levels both 1.0: L1 at SUVmax 1.0 is at
    or below both) and L2 in the air (SUVmax 0).
    """
    affine = _iso(4.0)
    suv = np.ones((16, 16, 12), np.float32)
    suv[12:] = 0.0
    suv[2:5, 2:5, 2:5] = 6.0
    suv[8:11, 8:11, 8:11] = 2.0
    suv[2:5, 10:13, 2:5] = 0.5
    sidecar = {
        "TracerRadionuclide": "Zr89",
        "InjectedRadioactivity": 50.0,
        "InjectedRadioactivityUnits": "MBq",
        "TimeZero": "10:00:00",
        "InjectionStart": -172800,
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0,
        "Units": "Bq/mL",
        "BodyWeight": 70.0,
    }
    write_nifti(tmp_path / "pet.nii.gz", suv / np.float32(0.0021399746), affine, sidecar=sidecar)
    other = np.zeros((14, 15, 12), np.int16)  # the other patient's grid
    other[6:8, 2:4, 6:8] = 1  # L1: this patient's body background
    other[13, 5:7, 5:7] = 3  # L2: this patient's air
    other[5:8, 5:8, 8:11] = 2  # aorta: background
    other[8:11, 2:4, 8:10] = 4  # muscle: background
    write_nifti(tmp_path / "mask.nii.gz", other, affine)
    (tmp_path / "labels.tsv").write_text(
        "label\tlesion_id\tsite\tkind\treference_region\n"
        "1\tL1\tliver\tlesion\t\n3\tL2\tlung\tlesion\t\n2\t\t\treference\taorta\n4\t\t\treference\tmuscle\n"
    )
    (tmp_path / "scans.tsv").write_text(
        "patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\nP1\tbaseline\t-2\tpet.nii.gz\tmask.nii.gz\tlabels.tsv\n"
    )
    with caplog.at_level("WARNING"):
        lesions, references, _ = quantify_scans(tmp_path / "scans.tsv")
    flags = dict(zip(lesions["lesion_id"], lesions["qc_flag"], strict=True))
    assert lesions.set_index("lesion_id").loc[["L1", "L2"], "suvmax"].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    assert flags == {"L1": "at_or_below_blood_pool;at_or_below_background", "L2": "zero_suvmax"}
    warnings = [r.getMessage() for r in caplog.records if "at or below a reference region" in r.getMessage()]
    assert len(warnings) == 1 and "L1 (SUVmax 1" in warnings[0] and "L2 (SUVmax 0: zero_suvmax)" in warnings[0]
    # The patient's own lesion mask gives no flag.
    own = np.zeros(suv.shape, np.int16)
    own[2:5, 2:5, 2:5], own[6, 6, 6], own[8:11, 8:11, 8:11], own[2:5, 10:13, 2:5] = 1, 3, 2, 4
    suv[6, 6, 6] = 3.0
    write_nifti(tmp_path / "pet.nii.gz", suv / np.float32(0.0021399746), affine, sidecar=sidecar)
    write_nifti(tmp_path / "mask.nii.gz", own, affine)
    lesions, _, _ = quantify_scans(tmp_path / "scans.tsv")
    assert lesions["qc_flag"].isna().all()


def test_plausibility_flags_of_a_voi_table(tmp_path):
    from contexture.pet.quantify import read_voi_table

    path = tmp_path / "voi.tsv"
    path.write_text(
        "patient_id\tlesion_id\ttimepoint\tscan_day\tsite\tsuvmax\tkind\treference_region\tsuvmean\n"
        "A\tA1\tbaseline\t-3\tliver\t2\tlesion\t\t\n"
        "A\tA2\tbaseline\t-3\tlung\t8\tlesion\t\t\n"
        "A\t\tbaseline\t-3\t\t\treference\taorta\t2.5\n"
        "B\tB1\tbaseline\t-1\tliver\t2\tlesion\t\t\n"
    )
    lesions, _ = read_voi_table(path)
    # A1 (2 <= aorta 2.5) is flagged; B has no reference region to compare with.
    assert lesions.set_index("lesion_id")["qc_flag"].to_dict() == {
        "A1": "at_or_below_blood_pool",
        "A2": None,
        "B1": None,
    }


def _cohort_files(tmp_path, suvs=(3.0, 6.0, 9.0, 12.0), broken=None):
    """One NIfTI scan per patient P1..Pk: lesion L1 at SUV ``suvs[k]``, aorta SUV 2, background 1.

    Patient ``broken`` (1-based) has no body weight anywhere (image nor clinical).
    """
    affine = _iso(4.0)
    rows = []
    for number, value in enumerate(suvs, start=1):
        suv = np.ones((12, 12, 12), np.float32)
        suv[2:5, 2:5, 2:5] = value
        suv[8:11, 8:11, 8:11] = 2.0
        labels = np.zeros(suv.shape, np.int16)
        labels[2:5, 2:5, 2:5], labels[8:11, 8:11, 8:11] = 1, 2
        sidecar = dict(SIDECAR_70KG_50MBQ_48H)
        if number == broken:
            del sidecar["BodyWeight"]
        write_nifti(tmp_path / f"pet{number}.nii.gz", suv / np.float32(0.0021399746), affine, sidecar=sidecar)
        write_nifti(tmp_path / f"mask{number}.nii.gz", labels, affine)
        rows.append(f"P{number}\tbaseline\t-2\tpet{number}.nii.gz\tmask{number}.nii.gz\tlabels.tsv\n")
    (tmp_path / "labels.tsv").write_text(
        "label\tlesion_id\tsite\tkind\tirradiated\treference_region\n"
        "1\tL1\tliver\tlesion\tfalse\t\n2\t\t\treference\t\taorta\n"
    )
    (tmp_path / "scans.tsv").write_text("patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\n" + "".join(rows))
    return tmp_path / "scans.tsv"


def test_two_workers_give_the_one_core_tables_and_log(tmp_path, caplog):
    """threads=2 quantifies scans in two processes; tables byte-identical, log records in scan order."""
    scans = _cohort_files(tmp_path)
    tables, messages = {}, {}
    for threads in (1, 2):
        caplog.clear()
        with caplog.at_level("INFO", logger="contexture"):
            result = quantify_scans(scans, threads=threads)
        tables[threads] = [table.to_csv(sep="\t", index=False) for table in result]
        messages[threads] = [r.getMessage() for r in caplog.records if r.name.startswith("contexture.pet")]
    assert tables[2] == tables[1]
    # Per scan: its SUL warning (no height or sex) raised in the worker, then the progress line.
    assert messages[2] == messages[1] and len(messages[1]) == 8
    assert [m.split(": ")[0] for m in messages[1][1::2]] == [f"PET scan {k}/4 quantified" for k in range(1, 5)]
    assert all(f"pet{k}.nii.gz: SUL" in messages[1][2 * k - 2] for k in range(1, 5))
    lesions, references, _ = quantify_scans(scans, threads=2)
    # Hand values: SUVmax = the lesion's SUV; tumour-to-blood = SUV / 2.
    assert lesions["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]
    assert lesions["suvmax"].tolist() == pytest.approx([3.0, 6.0, 9.0, 12.0], rel=1e-6)
    assert lesions["tumor_to_blood"].tolist() == pytest.approx([1.5, 3.0, 4.5, 6.0], rel=1e-6)
    assert references["suvmean"].tolist() == pytest.approx([2.0] * 4, rel=1e-6)


def test_a_failing_scan_in_a_worker_is_refused_as_on_one_core(tmp_path):
    scans = _cohort_files(tmp_path, broken=3)
    with pytest.raises(InputError) as serial:
        quantify_scans(scans, threads=1)
    with pytest.raises(InputError) as parallel:
        quantify_scans(scans, threads=2)
    assert str(parallel.value) == str(serial.value) and "pet3.nii.gz" in str(serial.value)


def test_every_refused_scan_is_named_in_one_message_by_its_scans_table_row_and_column(tmp_path):
    """Two bad scans of four: one message, in scans-table row order (not the stage's
    patient order), each with the column of the file refused; the same on two workers."""
    from contexture.pet.quantify import QuantifyOptions

    scans = _cohort_files(tmp_path)
    header, *rows = scans.read_text().splitlines(keepends=True)
    scans.write_text(header + "".join(reversed(rows)))  # P4 is data row 1, P2 row 3
    labels = np.zeros((12, 12, 12), np.int16)
    labels[2:5, 2:5, 2:5], labels[0, 0, 0] = 1, 7  # label 7 is not in the labels table
    write_nifti(tmp_path / "mask2.nii.gz", labels, _iso(4.0))
    sidecar = dict(SIDECAR_70KG_50MBQ_48H)
    write_nifti(tmp_path / "pet4.nii.gz", np.ones((12, 12, 20), np.float32), _iso(4.0), sidecar=sidecar)
    options = QuantifyOptions(image_voxels=2000)  # 12 x 12 x 12 = 1728 passes, 12 x 12 x 20 = 2880 does not
    messages = []
    for threads in (1, 2):
        with pytest.raises(InputError) as refused:
            quantify_scans(scans, options=options, threads=threads)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
    first, second = messages[0].split("\n  - ")[1:]
    assert messages[0].startswith("2 of 4 PET scans were refused (no table is written):\n")
    assert first.startswith(
        f"scans table '{scans}', row 1, column 'image': PET image '{tmp_path / 'pet4.nii.gz'}': its header "
        "claims dimensions 12 x 12 x 20 (2880 voxels); expected positive dimensions and at most 2000 voxels "
        "(config limits.image_voxels)."
    )
    assert second.startswith(f"scans table '{scans}', row 3, column 'mask': ")
    assert "mask2.nii.gz" in second and "label(s) [7]" in second


def test_a_mask_that_is_neither_nifti_nor_dicom_is_refused_in_column_mask(tmp_path):
    scans = _scan_files(tmp_path)
    (tmp_path / "mask.txt").write_text("not a mask")
    scans.write_text(scans.read_text().replace("mask.nii.gz", "mask.txt"))
    with pytest.raises(InputError) as refused:
        quantify_scans(scans)
    assert str(refused.value).startswith(
        f"scans table '{scans}', row 1, column 'mask': label mask '{tmp_path / 'mask.txt'}'"
    )
