"""QuPath measurement exports: cell detections and annotations (TSV or CSV, maybe gzipped).

QuPath (Bankhead et al., Sci Rep 2017;7:16878) writes one row per object from
*Measure > Export measurements* or ``saveDetectionMeasurements`` /
``saveAnnotationMeasurements`` in a script. The columns this module reads, as QuPath
names them:

* detections: ``Image``, ``Class`` (``Classification`` since QuPath 0.4), ``Parent``
  (the displayed name of the innermost annotation holding the cell: its ``Name`` if set,
  else its class; ``Image`` for the root), ``Centroid X µm``, ``Centroid Y µm``;
* annotations: ``Name``, ``Class``/``Classification``, ``Area µm^2``.

Exports differ in the micro sign (``µ`` U+00B5 in QuPath's own output, ``μ`` U+03BC or
``u`` after a trip through other software) and in ``µm^2`` vs ``um^2``; every column is
matched against a list of accepted names (:data:`DEFAULT_COLUMNS`, overridable in the
config ``ihc.columns``). Detection files are read selectively (``usecols``) with the
pyarrow CSV engine so that a 1,000,000-cell export costs only its five columns in memory.

**Units.** QuPath writes µm when the image's pixel size is known and pixels otherwise
(``Centroid X px``, ``Area px^2``). A column whose header says pixels (:func:`says_pixels`)
is converted with the pixel size ``s`` (µm per pixel, config ``ihc.pixel_size_um``):
coordinates × s, areas × s². Without a pixel size such a column is refused, naming the
file and the column: reading pixels as µm would make densities wrong by 1/s² and
distances by 1/s. A header that names no unit (a renamed column in ``ihc.columns``) is
taken to be in µm, as the docs say.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATION_COLUMNS",
    "DEFAULT_COLUMNS",
    "DETECTION_COLUMNS",
    "read_annotations",
    "read_detections",
    "read_header",
    "resolve_columns",
    "says_pixels",
    "tsv_bytes",
    "unit_scales",
    "write_annotations",
    "write_detections",
]

import gzip
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.errors import InputError
from contexture.io import MAX_TABLE_BYTES, _separator, atomic_path

# Accepted header names per logical column, first match wins (config: ihc.columns).
DEFAULT_COLUMNS: dict[str, list[str]] = {
    "image": ["Image"],
    "name": ["Name"],
    "class": ["Class", "Classification"],
    "parent": ["Parent"],
    # µm first: an export with both spellings is read in µm.
    "x": ["Centroid X µm", "Centroid X μm", "Centroid X um", "Centroid X px"],
    "y": ["Centroid Y µm", "Centroid Y μm", "Centroid Y um", "Centroid Y px"],
    "area": ["Area µm^2", "Area μm^2", "Area um^2", "Area µm²", "Area μm²", "Area px^2", "Area px²"],
}
DETECTION_COLUMNS = ("class", "parent", "x", "y")
ANNOTATION_COLUMNS = ("class", "area")
# Logical columns with a length unit, and the power of the pixel size that converts them.
LENGTH_POWER = {"x": 1, "y": 1, "area": 2}
_PIXEL_WORD = re.compile(r"(?<![a-z])(px|pixels?)(?![a-z])", re.IGNORECASE)


def says_pixels(header: str) -> bool:
    """True when a header names pixels as its unit (``Centroid X px``, ``Area px^2``, ``Area pixels``)."""
    return _PIXEL_WORD.search(header) is not None


def unit_scales(columns: dict[str, str], pixel_size_um: float | None, *, file: str, what: str) -> dict[str, float]:
    """Factor that brings each length column of ``columns`` to µm (``x``/``y``) or µm² (``area``).

    1 for a header in µm (or naming no unit); ``s`` or ``s²`` for a header in pixels, with
    ``s = pixel_size_um``. A pixel header without a pixel size is an :class:`InputError`
    naming the file and the column.
    """
    scales = {}
    for logical, power in LENGTH_POWER.items():
        if logical not in columns:
            continue
        header = columns[logical]
        if not says_pixels(header):
            scales[logical] = 1.0
        elif pixel_size_um is None:
            raise InputError(
                f"{what} '{file}', column '{header}': the column is in pixels and no pixel size is configured; "
                "set ihc.pixel_size_um (µm per pixel, from the scanner or QuPath's Image tab) so that it can be "
                "converted to µm (mapping it in ihc.columns alone would read pixels as µm)"
            )
        else:
            scales[logical] = float(pixel_size_um) ** power
    return scales


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist (or is not a file).")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise InputError(f"{what} '{path}' is {path.stat().st_size} bytes; refusing over {MAX_TABLE_BYTES} bytes.")


def read_header(path: str | os.PathLike, *, what: str = "QuPath export") -> list[str]:
    """The column names of an export (first row), stripped of a byte-order mark."""
    path = Path(path)
    _check_file(path, what)
    try:
        header = pd.read_csv(path, sep=_separator(path), nrows=0, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as error:
        raise InputError(f"{what} '{path}' could not be read: {error}") from error
    return [str(c) for c in header.columns]


def resolve_columns(
    header: list[str],
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    aliases: dict[str, list[str]] | None = None,
    *,
    file: str,
    what: str,
) -> dict[str, str]:
    """Map logical columns (``class``, ``x``, ...) to the header names present in a file.

    Raises :class:`InputError` naming the file, the missing column and the names tried.
    """
    aliases = {**DEFAULT_COLUMNS, **(aliases or {})}
    stripped = {name.strip(): name for name in header}
    found: dict[str, str] = {}
    missing = []
    for logical in (*required, *optional):
        match = next((stripped[c] for c in aliases[logical] if c in stripped), None)
        if match is not None:
            found[logical] = match
        elif logical in required:
            missing.append(logical)
    if missing:
        lines = [
            f"  - column '{aliases[m][0]}' ({m}): none of {aliases[m]} found (set ihc.columns.{m} to its name)"
            for m in missing
        ]
        raise InputError(
            f"{what} '{file}' lacks required column(s); found columns {header}:\n" + "\n".join(lines)
        ) from None
    return found


def _read(path: Path, columns: dict[str, str], numeric: tuple[str, ...], what: str) -> pd.DataFrame:
    """The needed columns, read by Arrow's CSV reader as pandas' ``engine="pyarrow"`` reads
    them (its missing-value words, type inference, then float64 / category), but
    decompressing in Arrow and decoding text columns straight to categories: ~4-5 ms
    instead of ~10 for a gzipped slide of 8,000 cells (:func:`read_detections` 15 -> 10 ms;
    issue 21)."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv
    from pandas._libs.parsers import STR_NA_VALUES

    usecols = list(dict.fromkeys(columns.values()))
    text = {name for logical, name in columns.items() if logical not in numeric}
    try:
        table = arrow_csv.read_csv(
            path,
            read_options=arrow_csv.ReadOptions(encoding="utf-8-sig"),
            parse_options=arrow_csv.ParseOptions(delimiter=_separator(path)),
            convert_options=arrow_csv.ConvertOptions(
                include_columns=usecols,
                null_values=sorted(STR_NA_VALUES),
                strings_can_be_null=True,
                column_types={name: pa.dictionary(pa.int32(), pa.string()) for name in text},
            ),
        )
        frame = table.to_pandas()
        for logical in numeric:  # an all-missing column reads as Arrow's null type
            frame[columns[logical]] = frame[columns[logical]].astype("float64")
    except (ValueError, TypeError, pa.ArrowInvalid, UnicodeDecodeError, EOFError, OSError) as error:
        # pyarrow reports the column of an unparsable number in its message.
        raise InputError(f"{what} '{path}' could not be read ({', '.join(usecols)}): {error}") from error
    return frame[usecols].rename(columns={name: logical for logical, name in columns.items()})


def _clean_category(column: pd.Series) -> pd.Series:
    """Categorical with stripped labels and missing values as the empty label ``""``.

    Works on the (few) categories, never on the (millions of) rows' strings.
    """
    column = column.astype("category")
    labels = column.cat.categories.astype(str).str.strip()
    unique, inverse = np.unique(np.append(labels.to_numpy(dtype=str), ""), return_inverse=True)
    codes = column.cat.codes.to_numpy()
    mapped = np.where(codes >= 0, inverse[np.maximum(codes, 0)], inverse[-1])
    return pd.Series(pd.Categorical.from_codes(mapped, categories=unique), index=column.index)


def read_detections(
    path: str | os.PathLike,
    aliases: dict[str, list[str]] | None = None,
    *,
    pixel_size_um: float | None = None,
    what: str = "QuPath detection export",
) -> pd.DataFrame:
    """Read the cells of one slide: columns ``class``, ``parent`` (category), ``x``, ``y`` (µm).

    Only the needed columns are parsed. A missing ``Class`` cell (unclassified object)
    becomes the empty class ``""``; a missing centroid is an error naming the row.
    More than one distinct ``Image`` in one file is an error (one export per slide).
    Centroids in pixels are multiplied by ``pixel_size_um`` (:func:`unit_scales`).
    """
    path = Path(path)
    header = read_header(path, what=what)
    columns = resolve_columns(header, DETECTION_COLUMNS, ("image",), aliases, file=str(path), what=what)
    scales = unit_scales(columns, pixel_size_um, file=str(path), what=what)
    table = _read(path, columns, ("x", "y"), what)
    if "image" in table.columns:
        images = table["image"].dropna().unique()
        if len(images) > 1:
            raise InputError(
                f"{what} '{path}', column '{columns['image']}': {len(images)} images ({list(images[:3])} ...); "
                "expected one slide per file (export each image separately)"
            )
        table = table.drop(columns="image")
    for axis in ("x", "y"):
        bad = table[axis].isna() | ~np.isfinite(table[axis].to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise InputError(
                f"{what} '{path}', row {row} (line {row + 1}), column '{columns[axis]}': "
                f"{int(bad.sum())} cell(s) without a finite centroid; expected a number"
            )
        if scales[axis] != 1.0:
            table[axis] = table[axis] * scales[axis]
    table["class"] = _clean_category(table["class"])
    table["parent"] = _clean_category(table["parent"])
    table = table[["class", "parent", "x", "y"]]
    table.attrs["columns"] = columns  # header names, for messages naming the column
    table.attrs["pixel_size_um"] = pixel_size_um if any(v != 1.0 for v in scales.values()) else None
    return table


def read_annotations(
    path: str | os.PathLike,
    aliases: dict[str, list[str]] | None = None,
    *,
    pixel_size_um: float | None = None,
    what: str = "QuPath annotation export",
) -> pd.DataFrame:
    """Read the annotations of one slide: ``name`` (may be empty), ``class``, ``area`` (µm²), ``parent``.

    ``display_name`` is what QuPath writes in a child's ``Parent`` column: the
    annotation's name when it has one, else its class. ``parent`` is the display name of
    the annotation holding this one (``Image`` or empty at the top; the column is
    optional). Areas in pixels are multiplied by ``pixel_size_um``² (:func:`unit_scales`).
    """
    path = Path(path)
    header = read_header(path, what=what)
    columns = resolve_columns(header, ANNOTATION_COLUMNS, ("name", "parent"), aliases, file=str(path), what=what)
    scales = unit_scales(columns, pixel_size_um, file=str(path), what=what)
    table = _read(path, columns, ("area",), what)
    table["area"] = table["area"] * scales["area"]
    if "name" not in table.columns:
        table["name"] = ""
    table["class"] = table["class"].astype("string").fillna("").str.strip()
    table["name"] = table["name"].astype("string").fillna("").str.strip()
    table["display_name"] = table["name"].where(table["name"] != "", table["class"])
    if "parent" not in table.columns:
        table["parent"] = ""
    table["parent"] = table["parent"].astype("string").fillna("").str.strip()
    table.attrs["area_column"] = columns["area"]
    table.attrs["class_column"] = columns["class"]
    table.attrs["parent_column"] = columns.get("parent", "Parent")
    table.attrs["pixel_size_um"] = pixel_size_um if scales["area"] != 1.0 else None
    table = table[["name", "class", "display_name", "parent", "area"]]
    return table


def write_detections(
    cells: pd.DataFrame, path: str | os.PathLike, image: str, *, pixel_size_um: float | None = None
) -> None:
    """Write cells (``class``, ``parent``, ``x``, ``y`` in µm) as QuPath 0.3 writes detections.

    Columns: ``Image, Name, Class, Parent, ROI, Centroid X µm, Centroid Y µm`` plus a
    nucleus area, tab-separated; gzipped when ``path`` ends in ``.gz``. With
    ``pixel_size_um`` the lengths are written in pixels (``Centroid X px``, ``Nucleus:
    Area px^2``), as QuPath does for an image without a pixel size. Used by the demo
    simulator and tests.
    """
    scale, unit, area_unit = (1.0, "µm", "µm^2") if pixel_size_um is None else (pixel_size_um, "px", "px^2")
    nucleus = np.round(cells.get("nucleus_area", pd.Series(30.0, index=cells.index)).to_numpy(float), 1)
    table = pd.DataFrame(
        {
            "Image": image,
            "Name": "",
            "Class": cells["class"].to_numpy(),
            "Parent": cells["parent"].to_numpy(),
            "ROI": "Polygon",
            f"Centroid X {unit}": np.round(cells["x"].to_numpy(float), 1) / scale,
            f"Centroid Y {unit}": np.round(cells["y"].to_numpy(float), 1) / scale,
            f"Nucleus: Area {area_unit}": nucleus / scale**2,
        }
    )
    text = tsv_bytes(table)
    with atomic_path(path) as temporary:
        if str(path).endswith(".gz"):
            # No file name and a zero time stamp in the gzip header: byte-identical reruns.
            with (
                open(temporary, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1) as packed,
            ):
                packed.write(text)
        else:
            temporary.write_bytes(text)


def tsv_bytes(table: pd.DataFrame) -> bytes:
    """``table.to_csv(sep="\\t", index=False, lineterminator="\\n")`` as UTF-8, written by Arrow.

    The cells are the strings pandas writes: text as it is, floats as ``ndarray.astype(str)``
    (the shortest repr, which is what pandas' CSV writer uses for floats without a
    ``float_format``). Arrow's CSV writer then joins them in C++ instead of Python's csv
    module row by row: half the time of a simulated slide of ~8,000 cells (issue 21). A
    table this path cannot write as pandas would (missing values, other column types, a
    cell needing quotes, which Arrow's ``quoting_style="none"`` refuses) is written by
    pandas itself. ``tests/unit/io/test_qupath_writer.py`` compares the two.
    """
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    names = [str(name) for name in table.columns]
    if any(re.search(r'[\t\n\r"]', name) for name in names):  # a header name pandas would quote
        return _pandas_tsv(table)
    columns = []
    for name in table.columns:
        values = table[name].to_numpy()
        if values.dtype.kind == "f" and not np.isnan(values).any():
            columns.append(_float_strings(values))
            continue
        if values.dtype.kind not in "OU" or not all(isinstance(v, str) for v in values):
            return _pandas_tsv(table)
        columns.append(pa.array(values, type=pa.string()))
    body = io.BytesIO()
    try:
        arrow_csv.write_csv(
            pa.table(columns, names=[f"c{k}" for k in range(len(names))]),
            body,
            arrow_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"),
        )
    except pa.ArrowInvalid:  # a cell Arrow would have to quote
        return _pandas_tsv(table)
    return ("\t".join(names) + "\n").encode("utf-8") + body.getvalue()


def _float_strings(values: np.ndarray):
    """Arrow strings equal to ``values.astype(str)`` (Python's shortest repr of each float).

    For float64 values that are 0.0 or of magnitude in [1e-3, 1e10), both numpy's repr
    and Arrow's cast to string write the shortest round-trip digits in plain decimal
    notation, except that Arrow drops the ``.0`` of a whole number: the cast, with ``.0``
    added there (3x faster than ``astype(str)``). Elsewhere the two switch to exponents
    at other magnitudes (numpy at 1e16 and 1e-4, for float32 at 1e7; Arrow by digit
    count), so other columns take ``astype(str)``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    magnitude = np.abs(values)
    plain = ((magnitude >= 1e-3) & (magnitude < 1e10)) | ((values == 0) & ~np.signbit(values))
    if values.dtype != np.float64 or not plain.all():
        return pa.array(values.astype(str), type=pa.string())
    text = pc.cast(pa.array(values), pa.string())
    whole = pc.invert(pc.match_substring(text, "."))
    return pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)


def _pandas_tsv(table: pd.DataFrame) -> bytes:
    return table.to_csv(sep="\t", index=False, lineterminator="\n").encode("utf-8")


def write_annotations(
    annotations: pd.DataFrame, path: str | os.PathLike, image: str, *, pixel_size_um: float | None = None
) -> None:
    """Write annotations (``name``, ``class``, ``area`` in µm², ``x``, ``y``, optional ``parent``) as QuPath does.

    With ``pixel_size_um`` the lengths are written in pixels (``Area px^2``).
    """
    scale, unit, area_unit = (1.0, "µm", "µm^2") if pixel_size_um is None else (pixel_size_um, "px", "px^2")
    parent = annotations["parent"].to_numpy() if "parent" in annotations.columns else "Image"
    table = pd.DataFrame(
        {
            "Image": image,
            "Name": annotations["name"].to_numpy(),
            "Class": annotations["class"].to_numpy(),
            "Parent": parent,
            "ROI": "Polygon",
            f"Centroid X {unit}": np.round(annotations["x"].to_numpy(float), 1) / scale,
            f"Centroid Y {unit}": np.round(annotations["y"].to_numpy(float), 1) / scale,
            f"Area {area_unit}": np.round(annotations["area"].to_numpy(float), 1) / scale**2,
        }
    )
    with atomic_path(path) as temporary:
        table.to_csv(temporary, sep="\t", index=False, lineterminator="\n")
