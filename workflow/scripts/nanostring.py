"""Read each run's RCC files (or validation's parsed sets), QC every lane and normalize (contexture.nanostring.process_runs)."""

from contexture import nanostring
from contexture.io import write_table
from contexture.io.validation import read_validated_table
from contexture.runner import run


def main(smk):
    p = smk.params
    runs = [
        nanostring.RunInput(
            entry["name"],
            rcc=list(smk.input.get("rcc", [])),
            sheet=(
                read_validated_table(entry["samples"], "tables/nanostring_samples", what="NanoString sample sheet")
                if entry["samples"]
                else None
            ),
            sheet_path=str(entry["samples"] or ""),
            parsed=nanostring.parsed_run_folder(smk.input.parsed, entry["name"])
            if "parsed" in smk.input.keys()
            else None,
        )
        for entry in p.runs
    ]
    result = nanostring.process_runs(
        runs,
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
