"""The NIfTI reader: ISA-L inflation gives nibabel's own arrays, and broken files are refused by name."""

from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest

from contexture.errors import InputError
from contexture.io.pet_images import read_label_map, read_nifti_pet, write_nifti

AFFINE = np.diag([-4.0, -4.0, 3.0, 1.0])
SIDECAR = {"Units": "Bq/mL"}


def _mask(dtype) -> np.ndarray:
    labels = np.zeros((12, 10, 8), dtype)
    labels[2:5, 3:7, 1:4] = 3
    labels[7:9, 1:3, 5:8] = 1
    return labels


@pytest.mark.parametrize("name", ["mask.nii.gz", "mask.nii"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32])
def test_a_mask_keeps_its_integer_type_and_equals_nibabels_array(tmp_path, name, dtype):
    path = tmp_path / name
    write_nifti(path, _mask(dtype), AFFINE)
    mask = read_label_map(path)
    reference = np.asarray(nib.load(str(path)).dataobj)  # nibabel's own GzipFile path
    assert mask.labels.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(mask.labels, reference)
    np.testing.assert_array_equal(mask.labels, _mask(dtype))
    np.testing.assert_array_equal(mask.affine, AFFINE)


def test_a_wide_mask_is_cast_to_int32_only_when_its_labels_fit(tmp_path):
    write_nifti(tmp_path / "wide.nii.gz", _mask(np.uint32), AFFINE)
    labels = read_label_map(tmp_path / "wide.nii.gz").labels
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, _mask(np.int32))
    huge = _mask(np.uint32)
    huge[0, 0, 0] = 3_000_000_000  # would wrap to a negative int32
    write_nifti(tmp_path / "huge.nii.gz", huge, AFFINE)
    with pytest.raises(InputError, match=r"huge\.nii\.gz' holds label 3000000000; expected labels up to 2147483647"):
        read_label_map(tmp_path / "huge.nii.gz")


def test_a_scaled_pet_image_read_through_isal_equals_nibabels_scaled_values(tmp_path):
    # Stored int16 with scl_slope 0.25 and scl_inter 10: nibabel applies the scaling.
    stored = np.arange(12 * 10 * 8, dtype=np.int16).reshape(12, 10, 8)
    image = nib.Nifti1Image(stored, AFFINE)
    image.header.set_slope_inter(0.25, 10.0)
    image.set_sform(AFFINE, code=1)
    path = tmp_path / "pet.nii.gz"
    path.write_bytes(gzip.compress(image.to_bytes(), mtime=0))
    path.with_name("pet.json").write_text(json.dumps(SIDECAR))
    values = read_nifti_pet(path).values
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.asarray(nib.load(str(path)).dataobj, dtype=np.float32))
    assert values[0, 0, 1] == pytest.approx(10.25) and values.flags.writeable


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("cut at half", "could not be (decompressed|read as NIfTI)"),
        ("cut by three bytes", "could not be decompressed"),
        ("bytes after the gzip stream", "could not be decompressed"),
        ("not gzip", "could not be read as NIfTI"),
        ("a short data block, gzipped", "voxel data could not be read"),
        ("a short data block", "voxel data could not be read"),
    ],
)
def test_a_broken_nifti_is_refused_naming_the_file(tmp_path, case, message):
    write_nifti(tmp_path / "good.nii.gz", _mask(np.int16), AFFINE)
    write_nifti(tmp_path / "good.nii", _mask(np.int16), AFFINE)
    packed, plain = (tmp_path / "good.nii.gz").read_bytes(), (tmp_path / "good.nii").read_bytes()
    name, data = {
        "cut at half": ("bad.nii.gz", packed[: len(packed) // 2]),
        "cut by three bytes": ("bad.nii.gz", packed[:-3]),
        "bytes after the gzip stream": ("bad.nii.gz", packed + b"junk"),
        "not gzip": ("bad.nii.gz", plain),
        "a short data block, gzipped": ("bad.nii.gz", gzip.compress(plain[: len(plain) - 100])),
        "a short data block": ("bad.nii", plain[: len(plain) - 100]),
    }[case]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError, match=rf"label mask '.*{name.replace('.', '[.]')}'.*{message}"):
        read_label_map(tmp_path / name)
    sidecar = tmp_path / name.replace(".nii.gz", ".json").replace(".nii", ".json")
    sidecar.write_text(json.dumps(SIDECAR))
    with pytest.raises(InputError, match=rf"PET image '.*{name.replace('.', '[.]')}'.*{message}"):
        read_nifti_pet(tmp_path / name)
