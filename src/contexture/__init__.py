"""contexture: immune contexture of immunotherapy biomarker studies.

The package holds all computation of the Snakemake workflow beside it; every stage is
one module (``nanostring``, ``signatures``, ``pet``, ``ihc``, ``response``, ``survival``,
``report``) that reads and writes plain pandas DataFrames. File formats live only in
:mod:`contexture.io`. The Python API, with examples: docs/api.md.
"""

__all__ = ["DAYS_PER_MONTH", "__version__"]

__version__ = "0.1.0"

# Months are days / 30.4375 (365.25 / 12), the convention of R's survival tutorials
# and of most oncology CSRs; one constant so every stage agrees.
DAYS_PER_MONTH = 30.4375
