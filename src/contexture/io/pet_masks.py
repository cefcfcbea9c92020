"""Lesion and reference-region masks from DICOM: RT Structure Sets and Segmentations.

A scans-table ``mask`` is one of three forms (:func:`mask_kind`):

* a NIfTI label map (``*.nii``, ``*.nii.gz``; :func:`contexture.io.pet_images.read_label_map`);
* a DICOM **RT Structure Set** (RTSTRUCT, SOP class 1.2.840.10008.5.1.4.1.1.481.3): one
  ROI per region, each a stack of planar contours in patient coordinates
  (PS3.3 C.8.8.5 Structure Set module, C.8.8.6 ROI Contour module). Read with pydicom
  (:func:`read_structure_set`); the contours are returned in RAS millimetres, not
  rasterised (that is :mod:`contexture.pet.masks`);
* a DICOM **Segmentation** (SEG, SOP class 1.2.840.10008.5.1.4.1.1.66.4): one binary or
  fractional segment per region, on the SEG's own grid (PS3.3 C.8.20). Read with
  highdicom (:func:`read_segmentation`: ``highdicom.seg.segread`` and
  ``Segmentation.get_volume``, which orders the frames and gives their affine).

Either DICOM form may be given as the file or as a folder holding exactly one such file
(as reading software exports them). Regions are selected by name: the ROIName of an
RTSTRUCT, the SegmentLabel (or the SegmentNumber) of a SEG. A name the file does not
hold is refused, listing the names it does hold.

Writers (:func:`write_rtstruct`, :func:`write_segmentation`) serve the demo simulator and
the tests.
"""

from __future__ import annotations

__all__ = [
    "CLOSED_CONTOUR_TYPES",
    "RoiContours",
    "SegmentationMask",
    "StructureSet",
    "mask_file",
    "mask_kind",
    "read_segmentation",
    "read_structure_set",
    "select_segments",
    "write_rtstruct",
    "write_segmentation",
]

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from contexture.errors import InputError
from contexture.io import atomic_path
from contexture.io.pet_images import LPS_TO_RAS, MAX_IMAGE_VOXELS, LabelMap, check_image_shape

RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
DICOM_MASK_KINDS = {RTSTRUCT_STORAGE: "rtstruct", SEGMENTATION_STORAGE: "seg"}
MODALITY_KINDS = {"RTSTRUCT": "rtstruct", "SEG": "seg"}
# Closed contours; CLOSED_PLANAR_XOR (PS3.3 C.8.8.6.1, 2021) states the even-odd rule
# that CLOSED_PLANAR exports use in practice for holes.
CLOSED_CONTOUR_TYPES = ("CLOSED_PLANAR", "CLOSED_PLANAR_XOR")
# A fractional segment's voxel belongs to the region when its fraction is at least this.
FRACTIONAL_THRESHOLD = 0.5


@dataclass
class RoiContours:
    """One ROI of a structure set: its planar contours in RAS mm (one ``n x 3`` array each)."""

    number: int
    name: str
    frame_of_reference_uid: str | None
    contours: list[np.ndarray] = field(default_factory=list)
    geometric_types: tuple[str, ...] = ()


@dataclass
class StructureSet:
    """The ROIs of an RTSTRUCT file, by ROIName."""

    source: str
    rois: dict[str, RoiContours]
    referenced_series: tuple[str, ...] = ()


@dataclass
class SegmentationMask:
    """Selected segments of a DICOM SEG as an integer label map on the SEG's own grid."""

    label_map: LabelMap
    frame_of_reference_uid: str | None
    referenced_series: tuple[str, ...]
    segments: dict[str, int]  # selection as written in the labels table -> SegmentNumber


# --- which form --------------------------------------------------------------------------


def _dicom_header(path: Path) -> pydicom.Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "Modality"])
    except (InvalidDicomError, OSError, EOFError, AttributeError, ValueError):
        return None


def _dicom_kind(ds: pydicom.Dataset | None) -> str | None:
    if ds is None:
        return None
    return DICOM_MASK_KINDS.get(str(ds.get("SOPClassUID", ""))) or MODALITY_KINDS.get(str(ds.get("Modality", "")))


def mask_file(path: str | os.PathLike) -> tuple[str, Path]:
    """``(kind, file)`` of a scans-table mask: kind ``nifti``, ``rtstruct`` or ``seg``.

    A folder must hold exactly one RTSTRUCT or SEG file. Anything else is refused by name.
    """
    path = Path(path)
    if path.is_dir():
        found = []
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            kind = _dicom_kind(_dicom_header(file))
            if kind is not None:
                found.append((kind, file))
        if len(found) != 1:
            names = ", ".join(f"{f.name} ({k})" for k, f in found[:5])
            raise InputError(
                f"label mask folder '{path}' holds {len(found)} RTSTRUCT/SEG files{': ' + names if names else ''}; "
                "expected exactly one (or give the file itself, or a NIfTI label map)."
            )
        return found[0]
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return "nifti", path
    if not path.is_file():
        raise InputError(f"label mask '{path}' does not exist.")
    header = _dicom_header(path)
    kind = _dicom_kind(header)
    if kind is None:
        what = (
            "not a DICOM file"
            if header is None
            else f"a DICOM file of Modality '{header.get('Modality', '')}', SOP class '{header.get('SOPClassUID', '')}'"
        )
        raise InputError(
            f"label mask '{path}' is {what}; expected a NIfTI label map (.nii/.nii.gz), a DICOM RTSTRUCT or a "
            "DICOM SEG (docs/pet.md, 'Masks')."
        )
    return kind, path


def mask_kind(path: str | os.PathLike) -> str:
    """``nifti``, ``rtstruct`` or ``seg`` (see :func:`mask_file`)."""
    return mask_file(path)[0]


# --- RTSTRUCT ------------------------------------------------------------------------------


def _text(value) -> str | None:
    text = None if value is None else str(value).strip()
    return text or None


def read_structure_set(path: str | os.PathLike) -> StructureSet:
    """The ROIs of an RTSTRUCT file with their contours in RAS mm (DICOM LPS, x and y negated)."""
    kind, path = mask_file(path)
    if kind != "rtstruct":
        raise InputError(f"label mask '{path}' is a {kind}, not an RTSTRUCT.")
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError) as error:
        raise InputError(f"RTSTRUCT '{path}' could not be read: {error}") from error
    frames = {}
    series = []
    for item in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in item.get("RTReferencedStudySequence", []):
            for referenced in study.get("RTReferencedSeriesSequence", []):
                series.append(str(referenced.get("SeriesInstanceUID", "")))
    rois: dict[str, RoiContours] = {}
    for item in ds.get("StructureSetROISequence", []):
        name = _text(item.get("ROIName")) or f"ROI {item.get('ROINumber')}"
        if name in rois:
            raise InputError(
                f"RTSTRUCT '{path}': two ROIs are named '{name}' (ROINumber {rois[name].number} and "
                f"{item.get('ROINumber')}); ROI names must be unique to be selected by name."
            )
        number = int(item.ROINumber)
        frames[number] = _text(item.get("ReferencedFrameOfReferenceUID"))
        rois[name] = RoiContours(number=number, name=name, frame_of_reference_uid=frames[number])
    by_number = {roi.number: roi for roi in rois.values()}
    for item in ds.get("ROIContourSequence", []):
        roi = by_number.get(int(item.get("ReferencedROINumber", -1)))
        if roi is None:
            continue
        types = []
        for contour in item.get("ContourSequence", []):
            data = np.asarray([float(v) for v in contour.get("ContourData", [])], dtype=np.float64)
            if data.size == 0 or data.size % 3:
                raise InputError(
                    f"RTSTRUCT '{path}', ROI '{roi.name}': a contour's ContourData has {data.size} values "
                    "(expected x, y, z triplets)."
                )
            points = data.reshape(-1, 3) * np.array([-1.0, -1.0, 1.0])  # LPS -> RAS
            roi.contours.append(points)
            types.append(str(contour.get("ContourGeometricType", "")).strip().upper())
        roi.geometric_types = tuple(types)
    return StructureSet(source=str(path), rois=rois, referenced_series=tuple(series))


# --- SEG -----------------------------------------------------------------------------------


def _segment_labels(seg) -> dict[int, str]:
    return {int(item.SegmentNumber): str(item.get("SegmentLabel", "")).strip() for item in seg.SegmentSequence}


def select_segments(labels: dict[int, str], wanted: list[str], source: str) -> dict[str, int]:
    """Map each wanted name to a SegmentNumber: by SegmentLabel, else by the number written as text."""
    by_label: dict[str, list[int]] = {}
    for number, label in labels.items():
        by_label.setdefault(label, []).append(number)
    selection, unknown = {}, []
    for name in wanted:
        numbers = by_label.get(name, [])
        if len(numbers) > 1:
            raise InputError(
                f"DICOM SEG '{source}': SegmentLabel '{name}' names segments {numbers}; select them by SegmentNumber."
            )
        if numbers:
            number = numbers[0]
            if name.isdigit() and int(name) in labels and int(name) != number:
                raise InputError(
                    f"DICOM SEG '{source}': '{name}' is the SegmentLabel of segment {number} and the number of "
                    f"segment {int(name)} ('{labels[int(name)]}'); rename one of them."
                )
            selection[name] = number
        elif name.isdigit() and int(name) in labels:
            selection[name] = int(name)
        else:
            unknown.append(name)
    if unknown:
        available = ", ".join(f"{n} '{label}'" for n, label in sorted(labels.items()))
        raise InputError(
            f"DICOM SEG '{source}' has no segment labelled or numbered {unknown[:10]} (labels table column "
            f"'label'); its segments are: {available}."
        )
    return selection


def read_segmentation(
    path: str | os.PathLike, wanted: list[str], codes: dict[str, int], max_voxels: int = MAX_IMAGE_VOXELS
) -> SegmentationMask:
    """The wanted segments of a DICOM SEG as a label map (value ``codes[name]``) on the SEG's grid.

    ``highdicom.Segmentation.get_volume`` sorts the frames into a regular volume and
    returns its LPS affine; a SEG whose frames do not form one (tiled or irregular) is
    refused with highdicom's reason. Fractional segments are binarised at
    :data:`FRACTIONAL_THRESHOLD`. Overlapping selected segments are refused.
    """
    import highdicom

    kind, path = mask_file(path)
    if kind != "seg":
        raise InputError(f"label mask '{path}' is a {kind}, not a DICOM SEG.")
    try:
        seg = highdicom.seg.segread(path)
    except Exception as error:  # highdicom raises several types for malformed objects
        raise InputError(f"DICOM SEG '{path}' could not be read by highdicom: {error}") from error
    labels = _segment_labels(seg)
    selection = select_segments(labels, wanted, str(path))
    numbers = sorted(set(selection.values()))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            volume = seg.get_volume(segment_numbers=numbers, combine_segments=False, rescale_fractional=True)
    except Exception as error:
        raise InputError(
            f"DICOM SEG '{path}': its frames do not form one regular volume ({error}); re-export it as a "
            "volume (one frame per slice and segment)."
        ) from error
    array = np.asarray(volume.array)
    check_image_shape(array.shape[:3], str(path), "DICOM SEG", max_voxels)
    inside = array >= FRACTIONAL_THRESHOLD if array.dtype.kind == "f" else array > 0
    overlap = inside.sum(axis=3) > 1
    if overlap.any():
        pairs = sorted({tuple(np.flatnonzero(v)) for v in inside[overlap][:1000]})
        shown = [[labels[numbers[i]] for i in pair] for pair in pairs[:3]]
        raise InputError(
            f"DICOM SEG '{path}': selected segments overlap in {int(overlap.sum())} voxels ({shown}); a voxel may "
            "belong to one region only."
        )
    label_map = np.zeros(array.shape[:3], dtype=np.int32)
    number_code = {number: codes[name] for name, number in selection.items()}
    for axis, number in enumerate(numbers):
        label_map[inside[..., axis]] = number_code[number]
    series = tuple(str(item.get("SeriesInstanceUID", "")) for item in seg.get("ReferencedSeriesSequence", []))
    return SegmentationMask(
        label_map=LabelMap(labels=label_map, affine=LPS_TO_RAS @ np.asarray(volume.affine, float), source=str(path)),
        frame_of_reference_uid=_text(seg.get("FrameOfReferenceUID")),
        referenced_series=series,
        segments=selection,
    )


# --- writers (the demo simulator, tests) -------------------------------------------------


def _reference_headers(pet_folder: Path) -> list[pydicom.Dataset]:
    """The PET series' headers, sorted along the slice normal, with the Type 2 patient/study
    attributes highdicom copies filled in when the series lacks them."""
    headers = []
    for file in sorted(p for p in pet_folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            ds = pydicom.dcmread(file)
        except (InvalidDicomError, OSError, EOFError):
            continue
        if ds.get("Modality") == "PT":
            headers.append(ds)
    if not headers:
        raise InputError(f"PET DICOM series '{pet_folder}' has no DICOM file with Modality 'PT'.")
    orientation = np.array(headers[0].ImageOrientationPatient, float)
    normal = np.cross(orientation[:3], orientation[3:])
    headers.sort(key=lambda ds: float(np.array(ds.ImagePositionPatient, float) @ normal))
    for ds in headers:
        for keyword in ("PatientBirthDate", "PatientSex", "StudyID", "AccessionNumber", "ReferringPhysicianName"):
            if keyword not in ds:
                setattr(ds, keyword, "")
        if "^" not in str(ds.get("PatientName", "")):
            ds.PatientName = f"{ds.get('PatientName', '')}^"
    return headers


def write_rtstruct(
    path: str | os.PathLike, rois: dict[str, list[np.ndarray]], pet_folder: str | os.PathLike, *, uid_seed: str
) -> None:
    """Write an RTSTRUCT of CLOSED_PLANAR contours (``n x 3`` RAS mm each) referencing a PET series.

    ROIs are numbered 1, 2, ... in the order given; the frame of reference, study and
    patient are those of the PET series in ``pet_folder``. Written with pydicom
    (highdicom does not write RT objects); UIDs derive from ``uid_seed``.
    """
    from pydicom.dataset import FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    headers = _reference_headers(Path(pet_folder))
    first = headers[0]
    sop_uid = generate_uid(entropy_srcs=[uid_seed, "rtstruct"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTSTRUCT_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RTSTRUCT_STORAGE, sop_uid, "RTSTRUCT"
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName"):  # fmt: skip
        setattr(ds, keyword, first.get(keyword, ""))
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_seed, "rtstruct series"])
    ds.SeriesNumber, ds.InstanceNumber = 3, 1
    ds.Manufacturer, ds.OperatorsName = "contexture simulator", ""
    ds.StructureSetLabel, ds.StructureSetDate, ds.StructureSetTime = "lesions", first.StudyDate, first.StudyTime
    images = Sequence()
    for header in headers:
        image = pydicom.Dataset()
        image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = header.SOPClassUID, header.SOPInstanceUID
        images.append(image)
    referenced_series = pydicom.Dataset()
    referenced_series.SeriesInstanceUID = first.SeriesInstanceUID
    referenced_series.ContourImageSequence = images
    study = pydicom.Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired, as exported)
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = Sequence([referenced_series])
    frame = pydicom.Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi_items, contour_items, observations = Sequence(), Sequence(), Sequence()
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = pydicom.Dataset()
        roi.ROINumber, roi.ReferencedFrameOfReferenceUID, roi.ROIName = number, first.FrameOfReferenceUID, name
        roi.ROIGenerationAlgorithm = "MANUAL"
        roi_items.append(roi)
        item = pydicom.Dataset()
        item.ReferencedROINumber = number
        item.ROIDisplayColor = [255, 0, 0]
        sequence = Sequence()
        for points in contours:
            contour = pydicom.Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            lps = np.asarray(points, float) * np.array([-1.0, -1.0, 1.0])
            contour.ContourData = [f"{v:.4f}" for v in lps.ravel()]
            sequence.append(contour)
        item.ContourSequence = sequence
        contour_items.append(item)
        observation = pydicom.Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType, observation.ROIInterpreter = "GTV" if name.startswith("L") else "ORGAN", ""
        observations.append(observation)
    ds.StructureSetROISequence = roi_items
    ds.ROIContourSequence = contour_items
    ds.RTROIObservationsSequence = observations
    with atomic_path(Path(path)) as temporary:
        ds.save_as(temporary, enforce_file_format=True)


def write_segmentation(
    path: str | os.PathLike,
    labels: np.ndarray,
    affine_ras: np.ndarray,
    segments: dict[int, str],
    pet_folder: str | os.PathLike,
    *,
    uid_seed: str,
    reference_values: frozenset[int] = frozenset(),
) -> None:
    """Write a binary DICOM SEG of an integer label map on its own grid (``affine_ras``) with highdicom.

    ``segments`` maps label value -> SegmentLabel; SegmentNumbers are 1, 2, ... in the
    order given; values in ``reference_values`` are coded as tissue, the others as neoplasm.
    The grid may differ from the PET's (highdicom writes the SEG's own plane
    positions); the frame of reference and study are the PET series'.
    """
    import highdicom
    from highdicom.sr import CodedConcept
    from pydicom.uid import generate_uid

    headers = _reference_headers(Path(pet_folder))
    values = list(segments)
    stack = np.zeros(labels.shape, dtype=np.uint8)
    for number, value in enumerate(values, start=1):
        stack[labels == value] = number
    volume = highdicom.Volume(
        stack,
        np.linalg.inv(LPS_TO_RAS) @ affine_ras,
        coordinate_system="PATIENT",
        frame_of_reference_uid=headers[0].FrameOfReferenceUID,
    )
    category = CodedConcept("49755003", "SCT", "Morphologically Altered Structure")
    neoplasm = CodedConcept("108369006", "SCT", "Neoplasm")
    tissue = CodedConcept("85756007", "SCT", "Tissue")
    descriptions = [
        highdicom.seg.SegmentDescription(
            segment_number=number,
            segment_label=segments[value],
            segmented_property_category=category,
            segmented_property_type=tissue if value in reference_values else neoplasm,
            algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, value in enumerate(values, start=1)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        seg = highdicom.seg.Segmentation(
            source_images=headers,
            pixel_array=volume,
            segmentation_type=highdicom.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(entropy_srcs=[uid_seed, "seg series"]),
            series_number=4,
            sop_instance_uid=generate_uid(entropy_srcs=[uid_seed, "seg"]),
            instance_number=1,
            manufacturer="contexture simulator",
            manufacturer_model_name="contexture",
            software_versions="contexture",
            device_serial_number="0",
            content_label="LESIONS",
        )
    # highdicom stamps the current date and time and a random dimension organization UID;
    # fix them so reruns are byte-identical.
    seg.ContentDate, seg.ContentTime = headers[0].StudyDate, headers[0].StudyTime
    organization = generate_uid(entropy_srcs=[uid_seed, "seg dimensions"])
    for item in [*seg.get("DimensionOrganizationSequence", []), *seg.get("DimensionIndexSequence", [])]:
        item.DimensionOrganizationUID = organization
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = f"{headers[0].StudyDate}{headers[0].StudyTime}"
    for keyword in ("SeriesDate", "SeriesTime", "InstanceCreationDate", "InstanceCreationTime"):
        if keyword in seg:
            setattr(seg, keyword, headers[0].StudyDate if keyword.endswith("Date") else headers[0].StudyTime)
    with atomic_path(Path(path)) as temporary:
        seg.save_as(temporary, enforce_file_format=True)
