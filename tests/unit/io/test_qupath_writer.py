"""The QuPath export writer's text is pandas' ``to_csv`` text, byte for byte (issue 21: Arrow writes it)."""

import numpy as np
import pandas as pd
import pytest

from contexture.io.qupath import _float_strings, _pandas_tsv, tsv_bytes
from contexture.simulate import ihc


@pytest.mark.parametrize("pixel_size_um", [None, 0.2527])
def test_simulated_slides_are_written_as_pandas_writes_them(pixel_size_um):
    scale = pixel_size_um or 1.0
    for index, phenotype in enumerate(["inflamed", "stromal", "desert"] * 4):
        cells = ihc._slide_cells(np.random.default_rng([1, 0x1C, index]), phenotype, 1.0 + index / 5)
        table = pd.DataFrame(
            {
                "Image": f"S{index}.svs",
                "Name": "",
                "Class": cells["class"].to_numpy(),
                "Parent": cells["parent"].to_numpy(),
                "ROI": "Polygon",
                "Centroid X µm": np.round(cells["x"].to_numpy(float), 1) / scale,
                "Centroid Y µm": np.round(cells["y"].to_numpy(float), 1) / scale,
                "Nucleus: Area µm^2": np.round(cells["nucleus_area"].to_numpy(float), 1) / scale**2,
            }
        )
        assert tsv_bytes(table) == _pandas_tsv(table)


@pytest.mark.parametrize(
    "table",
    [
        pd.DataFrame({"A": ["a\tb", "c"], "B": [1.5, 2.0]}),  # a cell pandas quotes
        pd.DataFrame({"A": ['q"x', "c"], "B": [1e-7, 1e20]}),  # a quote; exponents
        pd.DataFrame({"A": ["x", "y"], "B": [1.5, np.nan]}),  # a missing value
        pd.DataFrame({"A": ["x", "y"], "B": [-0.0, 1e-300]}),
        pd.DataFrame({"A": ["x", "y"], "B": np.array([1.5e7, 2.25], dtype=np.float32)}),
        pd.DataFrame({"A": ["x", None], "B": [1, 2]}),  # not text, integers
        pd.DataFrame({"A": pd.Series([], dtype=object), "B": pd.Series([], dtype=float)}),
    ],
)
def test_tables_arrow_cannot_write_alike_are_written_by_pandas(table):
    assert tsv_bytes(table) == _pandas_tsv(table) == table.to_csv(sep="\t", index=False, lineterminator="\n").encode()


def test_float_strings_equal_numpy_repr_over_the_plain_decimal_range():
    # Reference: ndarray.astype(str), which pandas' CSV writer uses for floats. Log-uniform
    # magnitudes over [1e-3, 1e10), both signs, rounded to several decimals, whole numbers.
    rng = np.random.default_rng(5)
    for low, high in ((-3, 10), (-3, 0), (0, 4), (9, 10)):
        values = np.sign(rng.uniform(-1, 1, 50_000)) * 10.0 ** rng.uniform(low, high, 50_000)
        for decimals in (None, 0, 1, 3):
            column = values if decimals is None else np.round(values, decimals)
            column = column[(np.abs(column) >= 1e-3) | (column == 0)] + 0.0  # no -0.0
            np.testing.assert_array_equal(np.array(_float_strings(column).to_pylist()), column.astype(str))
