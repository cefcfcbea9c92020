"""RTSTRUCT and DICOM SEG masks: rasterisation, native volume, selection by name, frame checks, real files."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from contexture.errors import InputError
from contexture.io.pet_images import read_label_map, read_pet_image, write_dicom_pet, write_nifti
from contexture.io.pet_masks import (
    RoiContours,
    StructureSet,
    mask_kind,
    read_segmentation,
    read_structure_set,
    write_rtstruct,
    write_segmentation,
)
from contexture.pet.masks import rasterise_structure_set, roi_volume_ml
from contexture.pet.quantify import quantify_scans, resample_labels

TWO_ML_RADIUS = (3 * 2000 / (4 * math.pi)) ** (1 / 3)  # 7.8159 mm


def _iso(step: float, shape=(24, 24, 20), origin=None) -> np.ndarray:
    affine = np.diag([-step, -step, step, 1.0])
    affine[:3, 3] = origin if origin is not None else [step * (shape[0] - 1) / 2, step * (shape[1] - 1) / 2, -30.0]
    return affine


def _circle(centre, radius, z, points=128):
    angle = np.linspace(0, 2 * math.pi, points, endpoint=False)
    return np.column_stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle), np.full(points, z)])


def _sphere_contours(centre, radius, plane_mm, phase=0.0):
    """Hand-built contours of a sphere: one circle per plane z = centre + phase + n * plane_mm."""
    contours = []
    for n in range(-20, 21):
        z = centre[2] + phase + n * plane_mm
        if abs(z - centre[2]) < radius:
            contours.append(_circle(centre, math.sqrt(radius**2 - (z - centre[2]) ** 2), z))
    return contours


def _structure(rois: dict[str, list[np.ndarray]], frame="1.2.3") -> StructureSet:
    return StructureSet(
        source="test.dcm",
        rois={
            name: RoiContours(number=i, name=name, frame_of_reference_uid=frame, contours=c,
                              geometric_types=("CLOSED_PLANAR",) * len(c))
            for i, (name, c) in enumerate(rois.items(), start=1)
        },
    )  # fmt: skip


@pytest.mark.parametrize("plane_mm", [2.0, 1.0])
@pytest.mark.parametrize("phase", [0.0, 0.37, 1.0])
def test_two_ml_sphere_volume_within_two_percent(plane_mm, phase):
    # PET grid 4 mm; contours drawn on CT planes (2 mm or 1 mm) at any phase against the sphere.
    affine = _iso(4.0)
    centre = np.array([1.3, -2.1, -0.4])
    structure = _structure({"L1": _sphere_contours(centre, TWO_ML_RADIUS, plane_mm, phase)})
    grid, volumes = rasterise_structure_set(structure, {"L1": 1}, (24, 24, 20), affine, "1.2.3")
    assert volumes[1] == pytest.approx(2.0, rel=0.02)
    # The PET-grid count (what volume_ml used to be) is off by far more than the native volume.
    assert abs(volumes[1] - 2.0) < abs(int((grid == 1).sum()) * 0.064 - 2.0)


def test_pet_grid_rasterisation_equals_voxel_centres_inside_the_sphere():
    # Contours on the PET slice planes: a PET voxel is in when its centre lies within the
    # circle of its own plane (polygon of 256 points, inscribed: radius deficit 0.0008 mm).
    affine = _iso(4.0)
    centre = np.array([2.0, 2.0, -30.0 + 4 * 9])  # on a slice plane
    radius = 11.0
    contours = [c for c in _sphere_contours(centre, radius, 4.0)]
    grid, _ = rasterise_structure_set(_structure({"L1": contours}), {"L1": 1}, (24, 24, 20), affine, None)
    index = np.indices((24, 24, 20)).reshape(3, -1)
    world = (affine[:3, :3] @ index + affine[:3, 3:4]).T
    inside = (np.linalg.norm(world - centre, axis=1) < radius - 0.01).reshape(24, 24, 20)
    assert np.array_equal(grid == 1, inside)


def test_hole_and_island_follow_the_even_odd_rule():
    affine = _iso(1.0, shape=(40, 40, 3), origin=[19.5, 19.5, -1.0])
    z = 0.0
    outer, hole, island = _circle((0, 0), 15, z), _circle((0, 0), 8, z), _circle((0, 0), 3, z)
    structure = _structure({"ring": [outer, hole, island]})
    grid, volumes = rasterise_structure_set(structure, {"ring": 1}, (40, 40, 3), affine, None)
    area = math.pi * (15**2 - 8**2 + 3**2)  # mm^2; one plane, 1 mm slab (no other plane: spacing 1 slice)
    assert volumes[1] * 1000 == pytest.approx(area, rel=0.01)
    assert grid[20, 20, 1] == 1 and grid[20 + 5, 20, 1] == 0 and grid[20 + 12, 20, 1] == 1
    assert grid[:, :, 0].sum() == 0 and grid[:, :, 2].sum() == 0


def test_unknown_roi_and_other_frame_of_reference_are_refused():
    affine = _iso(4.0)
    structure = _structure({"GTV": _sphere_contours(np.zeros(3), 8.0, 2.0), "Body": []})
    with pytest.raises(InputError, match=r"no ROI named \['GTV_2'\].*its ROIs are: \['Body', 'GTV'\]"):
        rasterise_structure_set(structure, {"GTV_2": 1}, (24, 24, 20), affine, "1.2.3")
    with pytest.raises(InputError, match=r"test.dcm', ROI 'GTV': FrameOfReferenceUID 1.2.3 differs.*9.9"):
        rasterise_structure_set(structure, {"GTV": 1}, (24, 24, 20), affine, "9.9")
    far = _structure({"GTV": _sphere_contours(np.array([300.0, 0, 0]), 8.0, 2.0)})
    with pytest.raises(InputError, match="outside the field of view"):
        rasterise_structure_set(far, {"GTV": 1}, (24, 24, 20), affine, None)


def test_roi_volume_of_a_square_is_exact():
    # A 10 x 6 mm rectangle on one plane, 4 mm PET pixels, plane spacing 1 slice (4 mm): 240 mm^3.
    affine = _iso(4.0)
    to_index = np.linalg.inv(affine)
    square = np.array([[0.1, 0.1, 2.0], [10.1, 0.1, 2.0], [10.1, 6.1, 2.0], [0.1, 6.1, 2.0]])
    index = square @ to_index[:3, :3].T + to_index[:3, 3]
    assert roi_volume_ml({round(index[0, 2], 3): [index[:, :2]]}, affine, 1.0) * 1000 == pytest.approx(240, rel=0.01)


# --- written files: RTSTRUCT and SEG round trips through quantify_scans -------------------


def _dicom_scan(tmp_path, shape=(20, 20, 16)):
    """A DICOM PET (4 mm) of SUV 1 with a lesion of SUV 6 (a 5x5x5 cube) and a hot voxel of 9."""
    affine = _iso(4.0, shape=shape, origin=[38.0, 38.0, -30.0])
    suv = np.ones(shape, np.float32)
    suv[6:11, 6:11, 5:10] = 6.0
    suv[8, 8, 7] = 9.0
    # 70 kg, 50 MBq, 48 h of 89Zr: Bq/ml = SUV / 0.0021399746 (as in test_pet_quantify)
    write_dicom_pet(
        tmp_path / "pet",
        suv / np.float32(0.0021399746),
        affine,
        patient_id="P1",
        weight_kg=70.0,
        injected_bq=50e6,
        half_life_s=78.41 * 3600,
        injection=dt.datetime(2020, 1, 1, 10, 0),
        scan_start=dt.datetime(2020, 1, 3, 10, 0),
        uid_seed="masks",
    )
    labels = np.zeros(shape, np.int16)
    labels[6:11, 6:11, 5:10] = 1
    return affine, suv, labels


def _tables(tmp_path, mask: str, label: str):
    (tmp_path / "labels.tsv").write_text(f"label\tlesion_id\tsite\tkind\n{label}\tL1\tliver\tlesion\n")
    (tmp_path / "scans.tsv").write_text(
        f"patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\nP1\tbaseline\t-2\tpet\t{mask}\tlabels.tsv\n"
    )
    return tmp_path / "scans.tsv"


def test_seg_round_trip_on_the_pet_grid(tmp_path):
    affine, _, labels = _dicom_scan(tmp_path)
    write_segmentation(tmp_path / "seg.dcm", labels, affine, {1: "tumour"}, tmp_path / "pet", uid_seed="s")
    assert mask_kind(tmp_path / "seg.dcm") == "seg"
    seg = read_segmentation(tmp_path / "seg.dcm", ["tumour"], {"tumour": 1})
    assert seg.segments == {"tumour": 1}
    # Back in world space, the same voxels (the SEG keeps only its non-empty frames).
    back = resample_labels(seg.label_map.labels, seg.label_map.affine, labels.shape, affine)
    assert np.array_equal(back, labels)
    for name in ("tumour", "1"):  # SegmentLabel or SegmentNumber
        lesions, _, scans = quantify_scans(_tables(tmp_path, "seg.dcm", name))
        row = lesions.iloc[0]
        assert row["suvmax"] == pytest.approx(9.0, rel=1e-4)
        assert row["suvmean"] == pytest.approx((124 * 6 + 9) / 125, rel=1e-4)
        assert row["voxels"] == 125 and row["volume_ml"] == pytest.approx(125 * 0.064)
        assert scans.loc[0, "mask_format"] == "seg"  # (its frames cropped to the segment: "resampled")


def test_seg_on_another_grid_is_resampled_and_counted_natively(tmp_path):
    affine, _, _ = _dicom_scan(tmp_path)
    # 2 mm SEG grid with the PET's origin: PET voxel i's centre is fine voxel 2i's centre.
    fine = np.diag([-2.0, -2.0, 2.0, 1.0])
    fine[:3, 3] = affine[:3, 3]
    labels = np.zeros((40, 40, 32), np.uint8)
    labels[12:22, 12:22, 10:20] = 1  # PET voxels 6..10 in every axis, 1000 fine voxels of 8 ul
    labels[12:22, 12:22, 21] = 1  # plus one fine layer (100 x 8 ul) that covers no PET centre
    write_segmentation(tmp_path / "seg.dcm", labels, fine, {1: "tumour"}, tmp_path / "pet", uid_seed="f")
    lesions, _, scans = quantify_scans(_tables(tmp_path, "seg.dcm", "tumour"))
    row = lesions.iloc[0]
    assert row["voxels"] == 125  # on the PET grid
    assert row["suvmax"] == pytest.approx(9.0, rel=1e-4)
    assert row["volume_ml"] == pytest.approx(1100 * 0.008)  # native: 8.8 ml, not 125 x 0.064 = 8.0 ml
    assert scans.loc[0, "mask_resampled"]


def test_seg_selection_errors_name_the_segments(tmp_path):
    affine, _, labels = _dicom_scan(tmp_path)
    write_segmentation(tmp_path / "seg.dcm", labels, affine, {1: "tumour"}, tmp_path / "pet", uid_seed="s")
    with pytest.raises(InputError, match=r"no segment labelled or numbered \['GTV'\].*segments are: 1 'tumour'"):
        quantify_scans(_tables(tmp_path, "seg.dcm", "GTV"))


def test_rtstruct_round_trip_and_frame_check(tmp_path):
    affine, _, labels = _dicom_scan(tmp_path)
    # Square contours around PET voxels 6..10 (x, y) on the 5 PET planes of the cube.
    to_world = lambda i, j, k: (affine @ np.array([i, j, k, 1.0]))[:3]  # noqa: E731
    contours = [
        np.array([to_world(i, j, k) for i, j in ((5.6, 5.6), (10.4, 5.6), (10.4, 10.4), (5.6, 10.4))])
        for k in range(5, 10)
    ]
    write_rtstruct(tmp_path / "rs.dcm", {"GTV": contours, "Body": contours[:1]}, tmp_path / "pet", uid_seed="r")
    structure = read_structure_set(tmp_path / "rs.dcm")
    assert sorted(structure.rois) == ["Body", "GTV"]
    lesions, _, scans = quantify_scans(_tables(tmp_path, "rs.dcm", "GTV"))
    row = lesions.iloc[0]
    assert row["voxels"] == 125 and row["suvmax"] == pytest.approx(9.0, rel=1e-4)
    assert row["suvmean"] == pytest.approx((124 * 6 + 9) / 125, rel=1e-4)
    # Native: squares of 19.2 mm side on 5 planes of 4 mm slabs = 7.3728 ml, counted on 0.5 mm
    # pixels: each side within one fine pixel.
    assert (18.7**2 * 20 / 1000) <= row["volume_ml"] <= (19.7**2 * 20 / 1000)
    assert scans.loc[0, "mask_format"] == "rtstruct"
    # The same file read against a PET of another frame of reference is refused.
    other = tmp_path / "other"
    other.mkdir()
    _dicom_scan(other)
    import pydicom

    for file in sorted((other / "pet").iterdir()):
        ds = pydicom.dcmread(file)
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
        ds.save_as(file)
    (other / "rs.dcm").write_bytes((tmp_path / "rs.dcm").read_bytes())
    with pytest.raises(InputError, match=r"rs.dcm', ROI 'GTV': FrameOfReferenceUID .* differs"):
        quantify_scans(_tables(other, "rs.dcm", "GTV"))


def test_a_folder_with_one_rtstruct_is_a_mask_and_other_files_are_refused(tmp_path):
    _dicom_scan(tmp_path)
    folder = tmp_path / "rs"
    folder.mkdir()
    write_rtstruct(folder / "x.dcm", {"GTV": [_circle((0, 0), 5, 0.0)]}, tmp_path / "pet", uid_seed="r")
    assert mask_kind(folder) == "rtstruct"
    with pytest.raises(InputError, match="Modality 'PT'.*expected a NIfTI label map"):
        mask_kind(next((tmp_path / "pet").iterdir()))
    with pytest.raises(InputError, match="holds 0 RTSTRUCT/SEG files"):
        mask_kind(tmp_path / "pet")


def test_writers_are_deterministic(tmp_path):
    affine, _, labels = _dicom_scan(tmp_path)
    for name in ("a", "b"):
        write_segmentation(tmp_path / f"{name}.dcm", labels, affine, {1: "t"}, tmp_path / "pet", uid_seed="s")
        write_rtstruct(tmp_path / f"{name}_rs.dcm", {"t": [_circle((0, 0), 5, 0.0)]}, tmp_path / "pet", uid_seed="r")
    assert (tmp_path / "a.dcm").read_bytes() == (tmp_path / "b.dcm").read_bytes()
    assert (tmp_path / "a_rs.dcm").read_bytes() == (tmp_path / "b_rs.dcm").read_bytes()


# --- real files ------------------------------------------------------------------------------


def _boundary_ring(mask: np.ndarray, width: int = 1) -> np.ndarray:
    return ndimage.binary_dilation(mask, iterations=width) & ~ndimage.binary_erosion(mask, iterations=width)


@pytest.mark.parametrize("patient", ["STS_001", "STS_002", "STS_003"])
def test_tcia_sts_rtstruct_equals_the_nifti_mask(shared_fixtures, patient, tmp_path):
    root = shared_fixtures / "pet" / "tcia_sts" / patient
    # Both masks on the same real GE PET (Units GML); two scans tables, one per mask form.
    tables = {}
    for form, mask, label in (("rtstruct", root / "dicom/mask/RS.dcm", "GTV_Mass_PET"),
                              ("nifti", root / "nifti/mask/mask.nii.gz", "1")):  # fmt: skip
        folder = tmp_path / form
        folder.mkdir()
        (folder / "labels.tsv").write_text(f"label\tlesion_id\tsite\tkind\n{label}\tGTV\tsoft_tissue\tlesion\n")
        (folder / "scans.tsv").write_text(
            "patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\tweight_kg\n"
            f"{patient}\tbaseline\t-1\t{root / 'dicom/image'}\t{mask}\tlabels.tsv\t70\n"
        )
        tables[form] = quantify_scans(folder / "scans.tsv")[0].iloc[0]
    rt, nifti = tables["rtstruct"], tables["nifti"]
    assert rt["suvmax"] == nifti["suvmax"]
    assert rt["suvmean"] == pytest.approx(nifti["suvmean"], rel=0.02)
    assert abs(rt["voxels"] - nifti["voxels"]) <= 0.1 * nifti["voxels"]
    # Voxel by voxel: any disagreement lies on the NIfTI mask's boundary ring.
    image = read_pet_image(root / "dicom/image")
    structure = read_structure_set(root / "dicom/mask/RS.dcm")
    grid, volumes = rasterise_structure_set(
        structure, {"GTV_Mass_PET": 1}, image.values.shape, image.affine, image.frame_of_reference_uid
    )
    reference = read_label_map(root / "nifti/mask/mask.nii.gz")
    expected = resample_labels(reference.labels, reference.affine, image.values.shape, image.affine) == 1
    assert not (((grid == 1) ^ expected) & ~_boundary_ring(expected)).any()
    # The native RTSTRUCT volume is within 3 % of the PET voxel count of the same contours.
    assert volumes[1] == pytest.approx(expected.sum() * image.voxel_volume_ml, rel=0.03)


def test_ibsi_dro_structure_set(shared_fixtures):
    root = shared_fixtures / "pet" / "ibsi_suv_dro" / "DRO" / "DRO_0_0"
    image = read_pet_image(root / "PT")
    from contexture.pet.suv import dicom_suv_factors

    factors, _ = dicom_suv_factors(image.attributes, image.slices, scan="DRO_0_0")
    suv = image.values * factors[None, None, :]
    structure = read_structure_set(next((root / "RS").iterdir()))
    assert sorted(structure.rois) == ["region_1"]
    grid, _ = rasterise_structure_set(
        structure, {"region_1": 1}, image.values.shape, image.affine, image.frame_of_reference_uid
    )
    reference = read_label_map(root / "mask" / "DRO_mask.nii.gz").labels == 1
    inside = grid == 1
    # The structure set is drawn about one voxel inside the NIfTI mask's edge (and on 16 of its
    # 18 slices): every difference lies within two voxels of the mask's boundary.
    assert not ((inside ^ reference) & ~_boundary_ring(reference, 2)).any()
    assert inside.sum() == pytest.approx(reference.sum(), rel=0.15)
    # The DRO truth: hot sphere 4.00 (maximum), cold sphere 0.20 (minimum), background 1.00.
    assert float(suv[inside].max()) == pytest.approx(4.0, abs=0.005)
    assert float(suv[inside].min()) == pytest.approx(0.2, abs=0.005)
    assert float(np.median(suv[inside])) == pytest.approx(1.0, abs=0.005)
    assert float(suv[inside].mean()) == pytest.approx(float(suv[reference].mean()), rel=0.02)


def test_labels_table_for_a_nifti_mask_needs_integers(tmp_path):
    write_nifti(tmp_path / "mask.nii.gz", np.ones((2, 2, 2), np.int16), _iso(4.0))
    (tmp_path / "labels.tsv").write_text("label\tlesion_id\tsite\tkind\nGTV\tL1\tliver\tlesion\n")
    from contexture.pet.quantify import read_labels_table

    with pytest.raises(InputError, match=r"row 1.*column 'label'.*GTV.*integer >= 1"):
        read_labels_table(tmp_path / "labels.tsv", "nifti")
    table = read_labels_table(tmp_path / "labels.tsv", "rtstruct")
    assert table["label"].tolist() == ["GTV"] and table["code"].tolist() == [1]
    assert isinstance(pd.DataFrame(table)["label"].iloc[0], str)


def test_an_roi_the_rtstruct_lacks_is_refused_naming_the_scans_row_and_the_rois_it_has(tmp_path):
    # Validation records the mask; pet_quantify reads it once and names the ROI, the scans
    # table's row and column, and the ROIs the file has.
    _dicom_scan(tmp_path)
    write_rtstruct(tmp_path / "rs.dcm", {"GTV": [_circle((0, 0), 5, 0.0)]}, tmp_path / "pet", uid_seed="r")
    lesions, _, _ = quantify_scans(_tables(tmp_path, "rs.dcm", "GTV"))
    assert lesions["lesion_id"].tolist() == ["L1"]
    with pytest.raises(InputError) as refused:
        quantify_scans(_tables(tmp_path, "rs.dcm", "GTV_1"))
    assert str(refused.value) == (
        f"scans table '{tmp_path / 'scans.tsv'}', row 1, column 'mask': RTSTRUCT '{tmp_path / 'rs.dcm'}' has no "
        "ROI named ['GTV_1'] (labels table column 'label'); its ROIs are: ['GTV']."
    )
