# contexture: raw files of an immunotherapy biomarker study -> the figures and tables
# of a paper. This file is the table of contents; each stage lives in workflow/rules/.
from snakemake.utils import min_version

min_version("9.0")


# The embedded demo is the default config only: a config given on the command line
# (--configfile, --config) replaces it rather than being merged into it, so a user's
# run analyses only the user's cohorts (config/README.md).
if not (workflow.overwrite_configfiles or config):

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/clinical.smk"
include: "workflow/rules/nanostring.smk"
include: "workflow/rules/signatures.smk"
include: "workflow/rules/pet.smk"
include: "workflow/rules/ihc.smk"
include: "workflow/rules/response.smk"
include: "workflow/rules/toxicity.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/patients.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
