# Signatures stage: gene signature scores of NanoString expression (files in
# resources/signatures/), the patient-level Immunosign columns, paired pre/post changes by
# response, and chemokine/cytokine vs T-cell correlations. Reads the nanostring stage's
# normalized matrix and sample table (plain paths).


include: "functions/signatures.smk"


rule signature_scores:
    input:
        expression="results/{cohort}/nanostring/normalized.tsv",
        samples="results/{cohort}/nanostring/samples.tsv",
        raw_counts="results/{cohort}/nanostring/raw_counts.tsv",
        lanes="results/{cohort}/nanostring/lanes.tsv",
        signatures=lambda wc: signature_files(wc.cohort),
    output:
        scores=report(
            "results/{cohort}/tables/signature_scores.tsv",
            caption="../report/signature_scores.rst",
            category="Signatures",
            subcategory="{cohort}",
            labels=report_labels("signature_scores.tsv"),
        ),
        coverage="results/{cohort}/tables/signature_coverage.tsv",
        features="results/{cohort}/signatures/patient_features.tsv",
    log:
        "results/{cohort}/logs/signature_scores.log",
    benchmark:
        "results/{cohort}/benchmarks/signature_scores.tsv"
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/signatures.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        immunosign=lambda wc: signatures_config(wc.cohort)["immunosign"],
        min_gene_fraction=lambda wc: signatures_config(wc.cohort)["min_gene_fraction"],
        on_insufficient=lambda wc: signatures_config(wc.cohort)["on_insufficient"],
        low_quantile=lambda wc: signatures_config(wc.cohort)["low_quantile"],
        log_base=lambda wc: signatures_config(wc.cohort)["log_base"],
        allow_partial_weighted=lambda wc: signatures_config(wc.cohort)[
            "allow_partial_weighted"
        ],
        below_lod_warn_fraction=lambda wc: signatures_config(wc.cohort)[
            "below_lod_warn_fraction"
        ],
        exclude_below_lod=lambda wc: signatures_config(wc.cohort)["exclude_below_lod"],
        exclude_below_lod_fraction=lambda wc: signatures_config(wc.cohort)[
            "exclude_below_lod_fraction"
        ],
    script:
        "../scripts/signatures_scores.py"


rule expression_changes:
    input:
        expression="results/{cohort}/nanostring/normalized.tsv",
        samples="results/{cohort}/nanostring/samples.tsv",
        scores="results/{cohort}/tables/signature_scores.tsv",
        patients="results/{cohort}/tables/patients.tsv",
        heatmap_genes=lambda wc: signature_resource(
            signatures_config(wc.cohort)["heatmap_genes"]
        ),
    output:
        changes=report(
            "results/{cohort}/tables/expression_changes.tsv",
            caption="../report/expression_changes.rst",
            category="Signatures",
            subcategory="{cohort}",
            labels=report_labels("expression_changes.tsv"),
        ),
        heatmap=[
            report(
                "results/{cohort}/figures/immune_genes_baseline_heatmap.png",
                caption="../report/immune_genes_baseline_heatmap.rst",
                category="Signatures",
                subcategory="{cohort}",
                labels=report_labels("immune_genes_baseline_heatmap.png"),
            ),
            "results/{cohort}/figures/immune_genes_baseline_heatmap.pdf",
            "results/{cohort}/figures/immune_genes_baseline_heatmap.source.tsv",
        ],
    log:
        "results/{cohort}/logs/expression_changes.log",
    benchmark:
        "results/{cohort}/benchmarks/expression_changes.tsv"
    conda:
        "../../envs/signatures.yaml"
    # Gene tests in blocks on this many processes (at most --cores; SLURM: cpus per
    # task), merged in a fixed order: the table does not depend on it (docs/scale.md). One
    # thread per 500 genes, at most 8 (common.smk).
    threads: threads_by_table_rows("expression", 500)
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        immunosign=lambda wc: signatures_config(wc.cohort)["immunosign"],
        pre=lambda wc: signatures_config(wc.cohort)["pre_timepoint"],
        post=lambda wc: signatures_config(wc.cohort)["post_timepoint"],
    script:
        "../scripts/signatures_changes.py"


# Paired scores by response: made only when the cohort has responses (RECIST, or a
# responder column in the clinical table), as its grouping needs them.
rule signature_changes_figure:
    input:
        expression="results/{cohort}/nanostring/normalized.tsv",
        samples="results/{cohort}/nanostring/samples.tsv",
        scores="results/{cohort}/tables/signature_scores.tsv",
        patients="results/{cohort}/tables/patients.tsv",
    output:
        png=report(
            "results/{cohort}/figures/signature_changes_by_response.png",
            caption="../report/signature_changes_by_response.rst",
            category="Signatures",
            subcategory="{cohort}",
            labels=report_labels("signature_changes_by_response.png"),
        ),
        pdf="results/{cohort}/figures/signature_changes_by_response.pdf",
        source="results/{cohort}/figures/signature_changes_by_response.source.tsv",
    log:
        "results/{cohort}/logs/signature_changes_figure.log",
    conda:
        "../../envs/signatures.yaml"
    params:
        pre=lambda wc: signatures_config(wc.cohort)["pre_timepoint"],
        post=lambda wc: signatures_config(wc.cohort)["post_timepoint"],
        labels=lambda wc: figure_labels(wc.cohort),
    script:
        "../scripts/signatures_changes_figure.py"


rule expression_correlations:
    input:
        expression="results/{cohort}/nanostring/normalized.tsv",
        samples="results/{cohort}/nanostring/samples.tsv",
        genes=lambda wc: signature_resource(
            signatures_config(wc.cohort)["correlation_genes"]
        ),
        tcell_genes=lambda wc: signature_resource(
            signatures_config(wc.cohort)["tcell_genes"]
        ),
    output:
        correlations=report(
            "results/{cohort}/tables/expression_correlations.tsv",
            caption="../report/expression_correlations.rst",
            category="Signatures",
            subcategory="{cohort}",
            labels=report_labels("expression_correlations.tsv"),
        ),
        figure=[
            report(
                "results/{cohort}/figures/chemokine_tcell_correlations.png",
                caption="../report/chemokine_tcell_correlations.rst",
                category="Signatures",
                subcategory="{cohort}",
                labels=report_labels("chemokine_tcell_correlations.png"),
            ),
            "results/{cohort}/figures/chemokine_tcell_correlations.pdf",
            "results/{cohort}/figures/chemokine_tcell_correlations.source.tsv",
        ],
    log:
        "results/{cohort}/logs/expression_correlations.log",
    conda:
        "../../envs/signatures.yaml"
    params:
        timepoint="baseline",
        fdr_alpha=lambda wc: signatures_config(wc.cohort)["fdr_alpha"],
    script:
        "../scripts/signatures_correlations.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: (
        [
            path.format(cohort=cohort)
            for path in (
                "results/{cohort}/tables/signature_scores.tsv",
                "results/{cohort}/tables/signature_coverage.tsv",
                "results/{cohort}/tables/expression_changes.tsv",
                "results/{cohort}/tables/expression_correlations.tsv",
            )
        ]
        + [
            f"results/{cohort}/figures/{name}{ext}"
            for name in (
                ["signature_changes_by_response"]
                if patient_column_available(cohort, "responder")
                else []
            )
            + ["immune_genes_baseline_heatmap", "chemokine_tcell_correlations"]
            for ext in (".png", ".pdf", ".source.tsv")
        ]
        if expression_available(cohort)
        else []
    )
)
PATIENT_FEATURE_PROVIDERS.append(
    lambda cohort: (
        [("signatures", f"results/{cohort}/signatures/patient_features.tsv")]
        if expression_available(cohort)
        else []
    )
)
