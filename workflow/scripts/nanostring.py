"""Read RCC files, QC every lane and normalize (contexture.io.rcc, contexture.nanostring.normalization)."""

from pathlib import Path

from contexture.io import write_table
from contexture.io.rcc import check_rlf, find_rcc_files, read_rcc_files
from contexture.io.validation import read_validated_table
from contexture.nanostring.normalization import QCThresholds, match_sample_sheet, process, samples_table
from contexture.runner import run


def main(smk):
    rcc = list(smk.input.rcc)
    files = find_rcc_files(rcc[0]) if len(rcc) == 1 and Path(rcc[0]).is_dir() else sorted(Path(p) for p in rcc)
    sheet = None
    if "samples" in smk.input.keys():
        sheet = read_validated_table(smk.input.samples, "tables/nanostring_samples", what="NanoString sample sheet")
    samples = match_sample_sheet([str(f) for f in files], sheet, str(smk.input.get("samples", "")))
    rccs = read_rcc_files(files, list(samples["sample_id"]))
    if "rlf" in smk.input.keys():
        check_rlf(smk.input.rlf, rccs)
    p = smk.params
    result = process(
        rccs.probes,
        rccs.counts,
        rccs.lanes,
        thresholds=QCThresholds.from_config(p.qc),
        exclude_failed=p.exclude_failed,
        method=p.method,
        housekeeping=p.housekeeping,
        background=p.background,
        background_mode=p.background_mode,
        ruv_k=p.ruv_k,
    )
    write_table(result.raw_counts, smk.output.raw_counts)
    write_table(result.lanes, smk.output.lanes)
    write_table(result.normalized, smk.output.normalized)
    write_table(samples_table(samples, result.lanes), smk.output.samples)


run(main, snakemake)
