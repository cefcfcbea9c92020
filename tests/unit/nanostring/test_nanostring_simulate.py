"""The NanoString simulator: real-format files, deterministic, truth recoverable."""

import numpy as np
import pandas as pd

from contexture.io.rcc import merge_rcc, parse_rcc
from contexture.nanostring.normalization import process
from contexture.simulate import simulate_latent
from contexture.simulate.nanostring import (
    B_CELL_CHANGE_LOG2,
    T_CELL_CHANGE_LOG2,
    _rcc_text,
    read_panel,
    simulate_nanostring,
)

REQUIRED = (
    "CD3E CD8A CD4 GZMA GZMB PRF1 GNLY IFNG CXCL9 CXCL10 CXCL13 CCL5 CCL22 CXCL14 IL15 IL7 IL18 IL21 STAT1 IDO1 "
    "LAG3 PDCD1 CD274 PDCD1LG2 TIGIT HLA-DRA CD27 CD276 CMKLR1 NKG7 PSMB10 HLA-E CCR5 TAGAP CD19 MS4A1 CD79A "
    "CD79B PAX5 ABCF1 G6PD NRDE2 OAZ1 POLR2A SDHA STK11IP TBC1D10B TBP UBB ZBTB34"
).split()


def test_panel_has_the_required_genes():
    panel = read_panel()
    assert set(REQUIRED) <= set(panel["name"])
    assert panel["name"].is_unique and 250 <= len(panel) <= 400
    assert 6 <= (panel["code_class"] == "Housekeeping").sum() <= 10


def _files(sim):
    prefix = [f"{c},{n},{a}," for c, n, a in zip(sim["code_class"], sim["names"], sim["accession"], strict=True)]
    files = []
    for j, (sample, lane) in enumerate(
        zip(sim["samples"].to_dict("records"), sim["lanes"].to_dict("records"), strict=True)
    ):
        lines = "".join(p + str(c) + "\n" for p, c in zip(prefix, sim["counts"][:, j], strict=True))
        files.append(parse_rcc(_rcc_text(sample, lane, lines), sample["file"]))
    return files


def test_deterministic_and_parseable():
    latent = simulate_latent(30, 5)[0]
    first, second = simulate_nanostring(latent, 5), simulate_nanostring(latent, 5)
    np.testing.assert_array_equal(first["counts"], second["counts"])
    pd.testing.assert_frame_equal(first["samples"], second["samples"])
    rccs = merge_rcc(_files(first), list(first["samples"]["sample_id"]))
    assert (
        rccs.counts.shape[1]
        == len(first["samples"])
        == latent["has_biopsy"].sum() + (first["samples"]["timepoint"] == "on_treatment").sum()
    )
    assert set(rccs.probes.loc[rccs.probes["code_class"] == "Positive", "concentration"]) == {128, 32, 8, 2, 0.5, 0.125}


def test_designed_failures_are_caught_and_truth_is_recovered():
    latent = simulate_latent(400, 11)[0]
    sim = simulate_nanostring(latent, 11)
    samples = sim["samples"]
    rccs = merge_rcc(_files(sim), list(samples["sample_id"]))
    # Background subtraction: the additive Poisson background would shrink log fold changes of
    # low-expressed genes (B-cell genes) towards zero.
    result = process(rccs.probes, rccs.counts, rccs.lanes, background="mean")
    lanes = result.lanes.set_index("sample_id")
    designed = sim["truth"]["failed_lanes"]
    failed = set(lanes.index[~lanes["qc_pass"]])
    assert set(designed) <= failed
    assert len(failed - set(designed)) <= 0.02 * len(lanes)  # clean lanes essentially all pass
    # Paired on-treatment minus baseline change of the mean T-cell / B-cell gene, by response.
    expr = result.normalized.set_index("name")
    genes = sim["truth"]["genes_by_group"]
    meta = samples.set_index("sample_id").loc[expr.columns]
    meta = meta.join(latent.set_index("patient_id")["responder"], on="patient_id")
    for group, truth in (("t_cell", T_CELL_CHANGE_LOG2), ("b_cell", B_CELL_CHANGE_LOG2)):
        score = expr.loc[genes[group]].mean()
        wide = pd.DataFrame({"score": score, "patient_id": meta["patient_id"], "timepoint": meta["timepoint"]})
        wide = wide.pivot(index="patient_id", columns="timepoint", values="score").dropna()
        change = (wide["on_treatment"] - wide["baseline"]).to_frame("change")
        change["responder"] = latent.set_index("patient_id").loc[change.index, "responder"].astype(bool)
        for responder, key in ((True, "responder"), (False, "non_responder")):
            values = change.loc[change["responder"] == responder, "change"]
            half_width = 2.5 * values.std(ddof=1) / np.sqrt(len(values))
            assert abs(values.mean() - truth[key]) < max(half_width, 0.1), (group, key, values.mean())
