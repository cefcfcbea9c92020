"""Build results/{cohort}/bundle/ and {cohort}_bundle.zip (contexture.report.bundle)."""

from pathlib import Path

from contexture.report import bundle as report
from contexture.report import methods
from contexture.runner import run


def main(smk):
    cohort = smk.wildcards.cohort
    cohort_dir = Path("results") / cohort
    manifest = report.manifest(cohort, smk.params.cohort_config, smk.params.inputs, smk.params.repository)
    text = report.methods_text(
        cohort, smk.params.cohort_config, manifest["packages"], methods.paragraphs(cohort_dir, smk.params.cohort_config)
    )
    report.build_bundle(
        cohort_dir, smk.input.outputs, Path(smk.output.bundle), Path(smk.output.archive), manifest, text
    )


run(main, snakemake)
