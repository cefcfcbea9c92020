"""Read RCC files (or validation's parsed set), QC every lane and normalize (contexture.nanostring.process_cohort)."""

from contexture import nanostring
from contexture.io import write_table
from contexture.io.validation import read_validated_table
from contexture.runner import run


def main(smk):
    sheet = None
    if "samples" in smk.input.keys():
        sheet = read_validated_table(smk.input.samples, "tables/nanostring_samples", what="NanoString sample sheet")
    p = smk.params
    result = nanostring.process_cohort(
        list(smk.input.get("rcc", [])),
        sheet,
        sheet_path=str(smk.input.get("samples", "")),
        parsed=smk.input.get("parsed"),
        qc=p.qc,
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
    write_table(result.samples, smk.output.samples)


run(main, snakemake)
