# contexture: the entry point for `snakemake --cores N` at the top of the repository.
# The workflow itself is workflow/Snakefile (the layout snakedeploy and the Snakemake
# workflow catalog expect); this file only includes it.


include: "workflow/Snakefile"


# A rule's default_target in an included file is not the default of the including file,
# so the top-level entry names the same target.
rule default:
    default_target: True
    input:
        rules.all.input,
