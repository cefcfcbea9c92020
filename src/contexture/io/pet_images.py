"""PET image formats: DICOM PET series, NIfTI + BIDS-PET sidecar, NIfTI label maps.

Readers return the stored voxel values (after the per-slice DICOM rescale, or the NIfTI
scaling), the voxel-to-world affine in NIfTI's RAS+ millimetre convention, and the
attributes SUV conversion needs, decoded into plain Python values. They do no science:
:mod:`contexture.pet.suv` decides how to turn those attributes into SUV.

DICOM (PS3.3 C.8.9.1 PET Series module, C.8.9.2 PET Isotope module, C.8.9.4 PET Image
module; C.7.6.2 Image Plane module):

* one series per folder (every file with Modality ``PT``; other files are ignored, two
  series in one folder are refused);
* slices are ordered by ``ImagePositionPatient`` projected on the slice normal
  (row cosine x column cosine), never by file name or InstanceNumber;
* ``RescaleSlope``/``RescaleIntercept`` are applied per slice;
* the voxel array is indexed ``[column, row, slice]``, so the DICOM (LPS) affine has
  columns ``row_cosine * column_spacing``, ``column_cosine * row_spacing``,
  ``normal * slice_spacing``, ``ImagePositionPatient`` of the first slice; it is
  converted to RAS by negating x and y (the convention nibabel uses);
* enhanced multi-frame PET and dynamic series (several frames per position) are refused.

Private tags (no private creator check when the creator element is absent, as in the
IBSI/QIBA digital reference objects; a creator naming another vendor disables the tag):
Philips (7053,1000) SUV scale factor and (7053,1009) activity concentration scale factor;
GE (0009,100D) PET scan datetime and (0009,103B) administration datetime; Siemens
(0071,1022) decay correction datetime.

NIfTI: ``*.nii`` or ``*.nii.gz``; the BIDS-PET sidecar is the ``.json`` beside it with the
same stem. 4-D images with one frame are accepted; dynamic images are refused.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info

from contexture.errors import InputError
from contexture.io import atomic_path

__all__ = [
    "LPS_TO_RAS",
    "PET_IMAGE_STORAGE",
    "ENHANCED_PET_IMAGE_STORAGE",
    "DICOMDIR_STORAGE",
    "MAX_IMAGE_VOXELS",
    "check_image_shape",
    "PetImage",
    "LabelMap",
    "parse_da",
    "parse_tm",
    "parse_dt",
    "combine",
    "read_dicom_pet",
    "sidecar_path",
    "read_nifti_pet",
    "read_pet_image",
    "read_label_map",
    "write_nifti",
    "write_dicom_pet",
]

# NIfTI RAS+ = diag(-1, -1, 1) . DICOM LPS
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
ENHANCED_PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.130"
DICOMDIR_STORAGE = "1.2.840.10008.1.3.10"
# File name endings that say "DICOM" (Siemens writes .IMA); a file so named must read as DICOM.
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
# Hard ceiling on the voxels of an image or mask, checked from the header before any
# voxel is read (2048 x 2048 x 4096: no PET or CT is that large; a header claiming it is
# damaged or malicious). pet_quantify passes the cohort's stricter config limits.image_voxels.
MAX_IMAGE_VOXELS = 2048 * 2048 * 4096


def check_image_shape(shape, source: str, what: str, max_voxels: int = MAX_IMAGE_VOXELS) -> None:
    """Refuse an image whose header claims more than ``max_voxels`` voxels (or a 0/negative axis)."""
    dims = [int(d) for d in shape]
    voxels = int(np.prod(np.array(dims, dtype=object))) if dims else 0
    if not dims or min(dims) <= 0 or voxels > max_voxels:
        raise InputError(
            f"{what} '{source}': its header claims dimensions {' x '.join(map(str, dims)) or '()'} "
            f"({voxels} voxels); expected positive dimensions and at most {max_voxels} voxels (config "
            "limits.image_voxels). Refused before reading voxel data (a damaged or implausible header)."
        )


@dataclass
class PetImage:
    """A PET volume with the attributes needed to convert it to SUV.

    ``values`` are float32 stored values after rescale, indexed ``[i, j, k]`` with
    ``affine`` mapping ``(i, j, k, 1)`` to RAS+ mm. ``attributes`` holds series-level
    attributes (DICOM keyword names, decoded) or the BIDS sidecar; ``slices`` (DICOM only)
    has one row per slice ``k`` with its own timing and scale attributes.
    """

    values: np.ndarray
    affine: np.ndarray
    source: str
    format: str
    attributes: dict
    slices: pd.DataFrame | None = None
    frame_of_reference_uid: str | None = None

    @property
    def voxel_volume_ml(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0


@dataclass
class LabelMap:
    """An integer label map in world space (NIfTI).

    ``world_space`` is False for a NIfTI whose sform and qform codes are both 0: its
    ``affine`` is then nibabel's guess from the voxel sizes (centred, x flipped), not a
    position, and :func:`contexture.pet.quantify.check_mask` refuses it unless the cohort
    adopts the PET grid.
    """

    labels: np.ndarray
    affine: np.ndarray
    source: str
    space_code: int = 0
    extra: dict = field(default_factory=dict)
    world_space: bool = True


# --- DICOM value decoding ---------------------------------------------------------------


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    text = str(value).strip().strip("\x00").strip()
    return text or None


def parse_da(value) -> dt.date | None:
    """DICOM DA ``YYYYMMDD`` (also the legacy ``YYYY.MM.DD``) to a date."""
    text = _text(value)
    if text is None:
        return None
    text = text.replace(".", "").replace("-", "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def parse_tm(value) -> dt.time | None:
    """DICOM TM ``HH[MM[SS[.FFFFFF]]]`` (also the legacy ``HH:MM:SS``) to a time."""
    text = _text(value)
    if text is None:
        return None
    text = text.replace(":", "")
    main, _, fraction = text.partition(".")
    if not main.isdigit() or len(main) not in (2, 4, 6):
        return None
    hour, minute, second = int(main[0:2]), int(main[2:4] or 0), int(main[4:6] or 0)
    micro = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
    try:
        return dt.time(hour, minute, second, micro)
    except ValueError:
        return None


def parse_dt(value) -> dt.datetime | None:
    """DICOM DT ``YYYYMMDDHHMMSS.FFFFFF[&ZZXX]`` to a naive local datetime.

    A UTC offset suffix is dropped: every time of a study is taken in the same local
    clock, as DICOM PS3.3 C.12.1.1.8 (Timezone Offset From UTC) intends for one site.
    """
    text = _text(value)
    if text is None:
        return None
    for sign in ("+", "-"):
        if sign in text[8:]:
            text = text[: 8 + text[8:].index(sign)]
    date = parse_da(text[:8])
    if date is None:
        return None
    time = parse_tm(text[8:]) if len(text) > 8 else dt.time(0)
    return None if time is None else dt.datetime.combine(date, time)


def combine(date: dt.date | None, time: dt.time | None) -> dt.datetime | None:
    return None if date is None or time is None else dt.datetime.combine(date, time)


def _number(value) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text.split("\\")[0])
    except ValueError:
        return None
    return number if np.isfinite(number) else None


_PRIVATE_CREATORS = {
    (0x7053, 0x10): "philips",
    (0x0009, 0x10): "gems",
    (0x0071, 0x10): "siemens",
}


def _private(ds: pydicom.Dataset, group: int, element: int):
    """A private tag's raw value, unless a creator of another vendor owns the block."""
    tag = pydicom.tag.Tag(group, element)
    if tag not in ds:
        return None
    creator_tag = pydicom.tag.Tag(group, element >> 8)
    expected = _PRIVATE_CREATORS.get((group, element >> 8))
    if creator_tag in ds and expected is not None:
        creator = (_text(ds[creator_tag].value) or "").lower()
        if expected not in creator:
            return None
    return ds[tag].value


def _dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _damaged_pet_file(ds: pydicom.Dataset) -> str | None:
    """Why a file read as DICOM is a damaged PET slice, or None.

    A file cut short keeps its preamble, so pydicom reads it without error: a PET slice
    cut in its header has no Modality (or a SOPClassUID cut mid-value) and would be
    skipped as "not PT", silently dropping a slice at either end of the series.
    """
    meta_sop = str(ds.file_meta.get("MediaStorageSOPClassUID", "")) if hasattr(ds, "file_meta") else ""
    sop = str(ds.get("SOPClassUID", ""))
    if len(ds) == 0:
        return "is a DICOM file without data elements (cut short?); expected a PET slice or another object."
    if meta_sop and sop and meta_sop != sop:
        return f"has SOPClassUID '{sop}' but its file meta says '{meta_sop}' (cut short or damaged?)."
    if PET_IMAGE_STORAGE in (sop, meta_sop) and ds.get("Modality") != "PT":
        return "is a PET Image Storage file without Modality 'PT' (cut short or damaged?)."
    return None


def read_dicom_pet(folder: str | os.PathLike, max_voxels: int = MAX_IMAGE_VOXELS) -> PetImage:
    """Read one DICOM PET series from ``folder`` (see the module docstring); a series of
    more than ``max_voxels`` voxels is refused before its pixels are decoded."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"PET DICOM series '{folder}' is not a folder.")
    headers = []
    for path in _dicom_files(folder):
        try:
            # Each file is parsed once, pixels included (issue 21: no raw file parsed
            # twice); a slice's pixel bytes are dropped as soon as they are converted.
            ds = pydicom.dcmread(path)
        except InvalidDicomError as error:
            if path.suffix.lower() in DICOM_SUFFIXES:  # named as DICOM: cut short before its preamble ends
                raise InputError(f"PET DICOM series '{folder}': '{path.name}' is not a readable DICOM file.") from error
            continue  # not a DICOM file: a note or export beside the series
        except (OSError, EOFError) as error:
            raise InputError(f"PET DICOM series '{folder}': '{path.name}' could not be read: {error}") from error
        damage = _damaged_pet_file(ds)
        if damage:
            raise InputError(f"PET DICOM series '{folder}': '{path.name}' {damage}")
        sop = str(ds.get("SOPClassUID", ""))
        if sop == DICOMDIR_STORAGE or ds.get("Modality") != "PT":
            continue  # another object of the study (CT, RTSTRUCT, SEG, DICOMDIR)
        if sop == ENHANCED_PET_IMAGE_STORAGE or int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise InputError(
                f"PET DICOM series '{folder}': '{path.name}' is an enhanced multi-frame PET image; "
                "only single-frame PET Image Storage series are supported (convert with dcm2niix)."
            )
        headers.append((path, ds))
    if not headers:
        raise InputError(f"PET DICOM series '{folder}' has no DICOM file with Modality 'PT'.")
    series = sorted({str(ds.get("SeriesInstanceUID", "")) for _, ds in headers})
    if len(series) > 1:
        raise InputError(
            f"PET DICOM series '{folder}' holds {len(series)} series (SeriesInstanceUID {series[:3]}); "
            "give one folder per series."
        )
    first = headers[0][1]
    for keyword in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing"):
        missing = [p.name for p, ds in headers if keyword not in ds]
        if missing:
            raise InputError(
                f"PET DICOM series '{folder}': file '{missing[0]}' lacks {keyword}; cannot place the slice."
            )
    orientation = np.array(first.ImageOrientationPatient, float)
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    for path, ds in headers:
        if not np.allclose(np.array(ds.ImageOrientationPatient, float), orientation, atol=1e-4):
            raise InputError(f"PET DICOM series '{folder}': '{path.name}' has another ImageOrientationPatient.")
        if (ds.Rows, ds.Columns) != (first.Rows, first.Columns):
            raise InputError(f"PET DICOM series '{folder}': '{path.name}' has another image size.")
    positions = np.array([np.array(ds.ImagePositionPatient, float) for _, ds in headers])
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    headers = [headers[i] for i in order]
    distance, positions = distance[order], positions[order]
    gaps = np.diff(distance)
    if len(headers) > 1:
        if np.any(gaps < 1e-3):
            raise InputError(
                f"PET DICOM series '{folder}': several slices share a position (dynamic or gated series); "
                "only static series with one frame per position are supported."
            )
        spacing = float(np.median(gaps))
        if np.max(np.abs(gaps - spacing)) > 0.01 * spacing + 1e-3:
            raise InputError(
                f"PET DICOM series '{folder}': slice spacing is not uniform "
                f"(from {gaps.min():.3f} to {gaps.max():.3f} mm along the slice normal)."
            )
    else:
        spacing = _number(first.get("SliceThickness")) or 1.0
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    affine_lps = np.eye(4)
    affine_lps[:3, 0] = row_cosine * column_spacing
    affine_lps[:3, 1] = column_cosine * row_spacing
    affine_lps[:3, 2] = normal * spacing
    affine_lps[:3, 3] = positions[0]

    check_image_shape((int(first.Columns), int(first.Rows), len(headers)), str(folder), "PET DICOM series", max_voxels)
    values = np.empty((int(first.Columns), int(first.Rows), len(headers)), dtype=np.float32)
    rows = []
    for k, (path, ds) in enumerate(headers):
        slope = _number(ds.get("RescaleSlope"))
        intercept = _number(ds.get("RescaleIntercept"))
        slope = 1.0 if slope is None else slope
        intercept = 0.0 if intercept is None else intercept
        try:
            pixels = ds.pixel_array
        except (ValueError, AttributeError) as error:  # pydicom: pixel data shorter than its header says
            raise InputError(
                f"PET DICOM series '{folder}': '{path.name}' has unreadable pixel data (truncated?): {error}"
            ) from error
        values[:, :, k] = (pixels.astype(np.float64) * slope + intercept).T
        acquisition = parse_dt(ds.get("AcquisitionDateTime")) or combine(
            parse_da(ds.get("AcquisitionDate")) or parse_da(ds.get("SeriesDate")), parse_tm(ds.get("AcquisitionTime"))
        )
        rows.append(
            {
                "file": path.name,
                "position_mm": float(distance[k]),
                "rescale_slope": slope,
                "rescale_intercept": intercept,
                "acquisition_datetime": acquisition,
                "actual_frame_duration_ms": _number(ds.get("ActualFrameDuration")),
                "frame_reference_time_ms": _number(ds.get("FrameReferenceTime")),
                "decay_factor": _number(ds.get("DecayFactor")),
                "philips_suv_scale_factor": _number(_private(ds, 0x7053, 0x1000)),
                "philips_activity_scale_factor": _number(_private(ds, 0x7053, 0x1009)),
            }
        )
        del ds.PixelData
    slices = pd.DataFrame(rows)
    attributes = _series_attributes(first, folder, [ds for _, ds in headers])
    return PetImage(
        values=values,
        affine=LPS_TO_RAS @ affine_lps,
        source=str(folder),
        format="dicom",
        attributes=attributes,
        slices=slices,
        frame_of_reference_uid=_text(first.get("FrameOfReferenceUID")),
    )


def _series_attributes(first: pydicom.Dataset, folder: Path, datasets: list) -> dict:
    """Series-level attributes (DICOM keywords), checked constant across slices."""
    for keyword in ("Units", "DecayCorrection", "PatientWeight"):
        found = {_text(ds.get(keyword)) for ds in datasets}
        if len(found) > 1:
            raise InputError(
                f"PET DICOM series '{folder}': {keyword} differs between slices ({sorted(map(str, found))})."
            )
    info = first.get("RadiopharmaceuticalInformationSequence")
    if info is not None and len(info) > 1:
        raise InputError(
            f"PET DICOM series '{folder}': RadiopharmaceuticalInformationSequence (0054,0016) has {len(info)} items; "
            "multi-tracer series are not supported."
        )
    item = info[0] if info else pydicom.Dataset()
    nuclide = None
    codes = item.get("RadionuclideCodeSequence")
    if codes:
        nuclide = _text(codes[0].get("CodeMeaning"))
    series_date = (
        parse_da(first.get("SeriesDate")) or parse_da(first.get("AcquisitionDate")) or parse_da(first.get("StudyDate"))
    )
    return {
        "Manufacturer": _text(first.get("Manufacturer")),
        "Units": (_text(first.get("Units")) or "").upper() or None,
        "SUVType": (_text(first.get("SUVType")) or "").upper() or None,
        "DecayCorrection": (_text(first.get("DecayCorrection")) or "").upper() or None,
        "SeriesDateTime": combine(series_date, parse_tm(first.get("SeriesTime"))),
        "SeriesDate": series_date,
        "PatientWeight": _number(first.get("PatientWeight")),
        "PatientSize": _number(first.get("PatientSize")),
        "PatientSex": (_text(first.get("PatientSex")) or "").upper() or None,
        "RadionuclideTotalDose": _number(item.get("RadionuclideTotalDose")),
        "RadionuclideHalfLife": _number(item.get("RadionuclideHalfLife")),
        "RadiopharmaceuticalStartDateTime": parse_dt(item.get("RadiopharmaceuticalStartDateTime")),
        "RadiopharmaceuticalStartTime": parse_tm(item.get("RadiopharmaceuticalStartTime")),
        "Radionuclide": nuclide,
        "GEScanDateTime": parse_dt(_private(first, 0x0009, 0x100D)),
        "GEAdministrationDateTime": parse_dt(_private(first, 0x0009, 0x103B)),
        "SiemensDecayCorrectionDateTime": parse_dt(_private(first, 0x0071, 0x1022)),
    }


# --- NIfTI -------------------------------------------------------------------------------


def sidecar_path(image: str | os.PathLike) -> Path:
    """The BIDS sidecar of ``image``: same folder, same name with ``.json`` for ``.nii[.gz]``."""
    image = Path(image)
    stem = image.name
    for suffix in (".nii.gz", ".nii"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return image.with_name(stem + ".json")


def _load_nifti(path: Path, what: str):
    """The NIfTI image at ``path``, its header parsed and its voxels not yet read."""
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist.")
    try:
        return nib.load(str(path))
    except Exception as error:  # nibabel raises several types for corrupt files
        raise InputError(f"{what} '{path}' could not be read as NIfTI: {error}") from error


def _voxels(image, path: Path, what: str, dtype=None) -> np.ndarray:
    """The voxel array of an image from :func:`_load_nifti`, as nibabel gives it (scaled).

    A ``.nii.gz`` is inflated by ISA-L in one call: nibabel reads it through Python's
    ``GzipFile`` in small pieces (18 against 3.5 ms for a 200 x 200 x 300 int16 mask).
    Unscaled voxels already in ``dtype`` are then a read-only view of the inflated bytes
    (``np.frombuffer`` at the header's offset, shape and order, as nibabel lays them
    out), not a second copy of the volume; scaled ones are nibabel's (``from_bytes``).
    A file that is not gzip, is cut short, has bytes after its gzip stream or holds
    fewer voxels than its header declares is refused, naming the file.
    """
    proxy = image.dataobj
    try:
        if not path.name.lower().endswith(".gz"):
            return np.asarray(proxy, dtype=dtype)
        from isal import igzip

        try:
            data = igzip.decompress(path.read_bytes())
        except (OSError, EOFError, ValueError) as error:  # isal: BadGzipFile (an OSError), EOFError, ...
            raise InputError(f"{what} '{path}' could not be decompressed (gzip): {error}") from error
        count = int(np.prod(proxy.shape))
        unscaled = proxy.slope == 1 and proxy.inter == 0 and (dtype is None or proxy.dtype == dtype)
        if unscaled and len(data) >= proxy.offset + count * proxy.dtype.itemsize:
            return np.frombuffer(data, proxy.dtype, count, proxy.offset).reshape(proxy.shape, order=proxy.order)
        return np.asarray(type(image).from_bytes(data).dataobj, dtype=dtype)
    except (OSError, EOFError, ValueError) as error:  # nibabel: "Expected N bytes, got M bytes ..."
        raise InputError(
            f"{what} '{path}': its voxel data could not be read ({error}); is the file complete?"
        ) from error


def read_nifti_pet(path: str | os.PathLike, max_voxels: int = MAX_IMAGE_VOXELS) -> PetImage:
    """Read a NIfTI PET image and its BIDS-PET JSON sidecar (required); a header declaring
    more than ``max_voxels`` voxels is refused before any voxel is read."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise InputError(
            f"PET image '{path}' has no BIDS-PET sidecar: expected '{sidecar}' with InjectedRadioactivity, "
            "InjectionStart, ImageDecayCorrected, ... (BIDS PET, docs/pet.md)."
        )
    try:
        attributes = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"BIDS-PET sidecar '{sidecar}' is not valid JSON: {error}") from error
    if not isinstance(attributes, dict):
        raise InputError(f"BIDS-PET sidecar '{sidecar}' must hold a JSON object.")
    image = _load_nifti(path, "PET image")
    check_image_shape(image.shape, str(path), "PET image", max_voxels)
    values = _voxels(image, path, "PET image", np.float32)
    if values.ndim == 4 and values.shape[3] == 1:
        values = values[..., 0]
    if values.ndim != 3:
        raise InputError(
            f"PET image '{path}' has shape {values.shape}; expected a static 3-D volume (dynamic PET is not supported)."
        )
    attributes["_sidecar"] = str(sidecar)
    return PetImage(
        values=values, affine=image.affine.astype(float), source=str(path), format="nifti", attributes=attributes
    )


def read_pet_image(path: str | os.PathLike, max_voxels: int = MAX_IMAGE_VOXELS) -> PetImage:
    """A DICOM series folder or a NIfTI file, chosen by what ``path`` is (at most ``max_voxels``)."""
    path = Path(path)
    if path.is_dir():
        return read_dicom_pet(path, max_voxels)
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return read_nifti_pet(path, max_voxels)
    if not path.exists():
        raise InputError(f"PET image '{path}' does not exist.")
    raise InputError(f"PET image '{path}': expected a DICOM series folder or a .nii/.nii.gz file.")


# Integer types whose every value an int32 holds: such a mask is kept as stored (no copy).
_INT32_RANGE_TYPES = {np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32)}


def read_label_map(path: str | os.PathLike, max_voxels: int = MAX_IMAGE_VOXELS) -> LabelMap:
    """Read an integer NIfTI label map (0 = background).

    ``labels`` keeps the file's integer type when an int32 holds all its values (int8 to
    int32, uint8, uint16), and is int32 otherwise. A mask with negative labels, labels
    beyond the int32 range, or non-integer values is refused.
    """
    path = Path(path)
    image = _load_nifti(path, "label mask")
    check_image_shape(image.shape, str(path), "label mask", max_voxels)
    data = _voxels(image, path, "label mask")
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(f"label mask '{path}' has shape {data.shape}; expected a 3-D label map.")
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.all(data == np.round(data)):
            raise InputError(f"label mask '{path}' holds non-integer values; expected integer labels (0 = background).")
    if data.size and data.min() < 0:
        raise InputError(f"label mask '{path}' holds negative values; expected labels >= 0 (0 = background).")
    if data.dtype not in _INT32_RANGE_TYPES:
        # A wider type (uint32, int64, float): cast only what an int32 holds, never wrapped.
        if data.size and data.max() > np.iinfo(np.int32).max:
            raise InputError(
                f"label mask '{path}' holds label {data.max():.0f}; expected labels up to {np.iinfo(np.int32).max}."
            )
        data = data.astype(np.int32)
    sform, qform = int(image.header["sform_code"]), int(image.header["qform_code"])
    code = sform if sform > 0 else qform
    return LabelMap(
        labels=data,
        affine=image.affine.astype(float),
        source=str(path),
        space_code=code,
        world_space=sform > 0 or qform > 0,
    )


# --- writers (the demo simulator, tests and benchmarks) --------------------------------


def write_nifti(path: str | os.PathLike, values: np.ndarray, affine: np.ndarray, sidecar: dict | None = None) -> None:
    """Write a NIfTI image (scanner space, sform = qform = 1) and optionally its sidecar.

    An image (floating point) ``.nii.gz`` is compressed with ISA-L's gzip (``isal.igzip``,
    level 1, time stamp 0 so reruns are byte-identical): 0.9 ms for a 64 x 64 x 48 float32
    volume against 7.4 ms for zlib at its fastest level, a smaller file, and 2.4 rather
    than 3.5 ms to read back. A label map (integers, mostly zeros) keeps nibabel's zlib:
    ISA-L's stream of long zero runs takes 2.4 times as long to inflate (1.95 against
    0.81 ms), more than its compression saves. Any gzip reader (nibabel's included)
    reads both; the NIfTI inside is the one nibabel writes.
    """
    path = Path(path)
    image = nib.Nifti1Image(values, affine)
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    with atomic_path(path) as temporary:
        if path.name.endswith(".gz") and np.issubdtype(np.asarray(values).dtype, np.floating):
            from isal import igzip

            temporary.write_bytes(igzip.compress(image.to_bytes(), compresslevel=1, mtime=0))
        else:
            target = temporary.with_name(temporary.name + (".nii.gz" if path.name.endswith(".gz") else ".nii"))
            nib.save(image, str(target))
            os.replace(target, temporary)
    if sidecar is not None:
        with atomic_path(sidecar_path(path)) as temporary:
            temporary.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")


def _da(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _tm(value: dt.datetime | dt.time) -> str:
    return value.strftime("%H%M%S.%f")


# The elements of a slice that differ from slice to slice in :func:`write_dicom_pet`.
SLICE_TAGS = (0x00080018, 0x00200013, 0x00200032, 0x00281053, 0x7FE00010)


def _encoded(dataset: pydicom.Dataset) -> bytes:
    """``dataset``'s elements as pydicom writes them (explicit VR little endian, no file meta)."""
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, dataset)
    return buffer.getvalue()


def _series_pieces(series: pydicom.Dataset, slice_tags: tuple[int, ...]) -> list[bytes | int]:
    """The series-wide elements encoded in runs, with each slice element's tag between the
    runs where it belongs in tag order (PS3.5 7.1: a dataset's elements ascend by tag)."""
    tags = sorted(series.keys())
    pieces: list[bytes | int] = []
    start = 0
    for tag in sorted(slice_tags):
        stop = bisect.bisect_right(tags, tag)
        pieces += [_encoded(_subset(series, tags[start:stop])), tag]
        start = stop
    return [*pieces, _encoded(_subset(series, tags[start:]))]


def _file_bytes(meta, pieces: list[bytes | int], own: pydicom.Dataset) -> bytes:
    """A DICOM file (PS3.10 7.1): 128-byte preamble, ``DICM``, file meta, then the dataset."""
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, meta, enforce_standard=True)
    body = [piece if isinstance(piece, bytes) else _encoded(_subset(own, [piece])) for piece in pieces]
    return head.getvalue() + b"".join(body)


def _subset(dataset: pydicom.Dataset, tags) -> pydicom.Dataset:
    """A dataset holding ``dataset``'s elements of ``tags`` (the same element objects)."""
    subset = pydicom.Dataset()
    for tag in tags:
        subset[tag] = dataset[tag]
    return subset


def write_dicom_pet(
    folder: str | os.PathLike,
    activity_bqml: np.ndarray,
    affine_ras: np.ndarray,
    *,
    patient_id: str,
    weight_kg: float,
    injected_bq: float,
    half_life_s: float,
    injection: dt.datetime,
    scan_start: dt.datetime,
    uid_seed: str,
    radiopharmaceutical: str = "89ZED88082A",
    injection_datetime_tag: bool = True,
    file_names: list[str] | None = None,
    height_m: float | None = None,
    sex: str | None = None,
) -> None:
    """Write a static PET series (PET Image Storage, Units BQML, DecayCorrection START).

    Stored values are int16 with a per-slice RescaleSlope (slice maximum / 32000), as
    scanners do. ``injection_datetime_tag=False`` writes only the (deprecated)
    RadiopharmaceuticalStartTime, without the date. UIDs derive from ``uid_seed``.
    ``height_m`` and ``sex`` (M/F/O) fill PatientSize and PatientSex when given.
    """
    from pydicom.dataset import FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    affine_lps = np.linalg.inv(LPS_TO_RAS) @ affine_ras
    column_step, row_step, slice_step = affine_lps[:3, 0], affine_lps[:3, 1], affine_lps[:3, 2]
    column_spacing, row_spacing, slice_spacing = (float(np.linalg.norm(v)) for v in (column_step, row_step, slice_step))
    study_uid = generate_uid(entropy_srcs=[uid_seed, "study"])
    series_uid = generate_uid(entropy_srcs=[uid_seed, "series"])
    frame_uid = generate_uid(entropy_srcs=[uid_seed, "frame"])
    n_slices = activity_bqml.shape[2]
    names = file_names or [f"slice_{k:04d}.dcm" for k in range(n_slices)]
    # The ~50 series-wide elements are built and encoded once (pydicom's own encoder),
    # and each slice's file is those bytes with the slice's own elements (UIDs, position,
    # rescale slope, pixels) encoded in between, in tag order. Encoding every element of
    # every file again was ~1.5 ms a file, most of the simulator's DICOM time; the files
    # are byte for byte what Dataset.save_as writes for the same dataset (tested).
    ds = pydicom.Dataset()
    ds.SOPClassUID = PET_IMAGE_STORAGE
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.Modality = "PT"
    ds.Manufacturer = "contexture simulator"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = _da(scan_start)
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = _tm(scan_start)
    ds.PatientID = patient_id
    ds.PatientName = patient_id
    ds.PatientWeight = f"{weight_kg:.1f}"
    if height_m is not None:
        ds.PatientSize = f"{height_m:.2f}"
    if sex is not None:
        ds.PatientSex = sex
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
    ds.SeriesNumber = 1
    ds.ImageOrientationPatient = [
        f"{v:.6f}" for v in np.concatenate([column_step, row_step]) / np.repeat([column_spacing, row_spacing], 3)
    ]
    ds.PixelSpacing = [f"{row_spacing:.4f}", f"{column_spacing:.4f}"]
    ds.SliceThickness = f"{slice_spacing:.4f}"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = activity_bqml.shape[1], activity_bqml.shape[0]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept = "0"
    ds.Units, ds.DecayCorrection, ds.CountsSource = "BQML", "START", "EMISSION"
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.ActualFrameDuration = 1800000
    ds.FrameReferenceTime = "0"
    ds.DecayFactor = "1"
    item = pydicom.Dataset()
    item.Radiopharmaceutical = radiopharmaceutical
    item.RadionuclideTotalDose = f"{injected_bq:.6g}"
    item.RadionuclideHalfLife = f"{half_life_s:.6g}"
    item.RadiopharmaceuticalStartTime = _tm(injection)
    if injection_datetime_tag:
        item.RadiopharmaceuticalStartDateTime = _da(injection) + _tm(injection)
    code = pydicom.Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "C-1302E", "SRT", "^89^Zirconium"
    item.RadionuclideCodeSequence = Sequence([code])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    pieces = _series_pieces(ds, SLICE_TAGS)
    for k in range(n_slices):
        plane = activity_bqml[:, :, k].T.astype(np.float64)  # rows x columns
        peak = float(np.abs(plane).max())
        slope = peak / 32000.0 if peak > 0 else 1.0
        stored = np.round(plane / slope).astype(np.int16)
        sop_uid = generate_uid(entropy_srcs=[uid_seed, "slice", str(k)])
        own = pydicom.Dataset()
        own.SOPInstanceUID = sop_uid
        own.InstanceNumber = k + 1
        own.ImagePositionPatient = [f"{v:.4f}" for v in affine_lps[:3, 3] + k * slice_step]
        own.RescaleSlope = f"{slope:.8g}"
        # OW, as pydicom resolves 'OB or OW' for BitsAllocated 16 (PS3.5 8.2).
        own[0x7FE00010] = pydicom.DataElement(0x7FE00010, "OW", stored.tobytes())
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = PET_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        with atomic_path(folder / names[k]) as temporary:
            temporary.write_bytes(_file_bytes(meta, pieces, own))
