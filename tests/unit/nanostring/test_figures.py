"""NanoString QC figures at many lanes: unnamed lanes, and the RLE as bands carrying the
boxplot's own statistics."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.cbook import boxplot_stats
from matplotlib.collections import LineCollection

from contexture.nanostring.figures import LABELLED_LANES, rle_figure


def expression(samples: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(8, 1, size=(40, samples)), columns=[f"S{k:04d}" for k in range(samples)])
    frame.insert(0, "name", [f"G{k}" for k in range(40)])
    return frame


@pytest.mark.parametrize("samples", [LABELLED_LANES, LABELLED_LANES + 20])
def test_rle_is_boxes_up_to_the_limit_then_bands_of_the_same_statistics(samples):
    log2 = expression(samples)
    fig, source = rle_figure(log2, log2, "nsolver")
    ax = fig.axes[1]
    collections = [c for c in ax.collections if isinstance(c, LineCollection)]
    if samples <= LABELLED_LANES:
        # boxplot: no line collections, one label per sample
        assert collections == [] and len(ax.get_xticklabels()) == samples
    else:
        whiskers, boxes = collections
        rle = log2.set_index("name").sub(log2.set_index("name").median(axis=1), axis=0)
        expected = boxplot_stats([rle[c].to_numpy() for c in rle.columns])
        low_high = np.array([[segment[0][1], segment[1][1]] for segment in boxes.get_segments()])
        np.testing.assert_allclose(low_high, [[s["q1"], s["q3"]] for s in expected], rtol=0, atol=1e-12)
        ends = np.array([[segment[0][1], segment[1][1]] for segment in whiskers.get_segments()])
        np.testing.assert_allclose(ends, [[s["whislo"], s["whishi"]] for s in expected], rtol=0, atol=1e-12)
        # the source data's quartiles are the ones drawn (pandas and numpy: linear interpolation)
        after = source[source["stage"] == "normalized (nsolver)"]
        np.testing.assert_allclose(after[["q1", "q3"]].to_numpy(), low_high, rtol=0, atol=1e-12)
        assert len(ax.get_xticklabels()) == 0
    plt.close(fig)
