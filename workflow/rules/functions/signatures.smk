# Input functions and helpers of the signatures stage; signatures.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
import os


def signatures_config(cohort):
    return cohort_config(cohort)["signatures"]


def expression_available(cohort):
    """Whether the signature analyses can run: the cohort has NanoString data."""
    return has_modality(cohort, "nanostring")


def signature_resource(path):
    """A resource path of the signatures section: absolute or relative to the working
    directory if it exists there, otherwise a file shipped in the contexture package."""
    from contexture.package_data import package_path

    if os.path.isabs(path) or os.path.exists(path):
        return path
    return str(package_path(path))


def signature_files(cohort):
    """The signature files named in signatures.use (shipped names or .yaml paths)."""
    from contexture.signatures.scores import signature_path

    return [
        signature_resource(str(signature_path(name)))
        for name in signatures_config(cohort)["use"]
    ]
