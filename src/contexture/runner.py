"""The boundary between a Snakemake script and the package.

Scripts call :func:`run` with their main function. It sends stderr and Python logging
to the rule's log, and turns a :class:`contexture.errors.ContextureError` into one
readable paragraph in the log and on the console with a non-zero exit, instead of a
traceback from deep inside pandas. Any other exception is a bug: it propagates with
its traceback (also to the log).
"""

from __future__ import annotations

__all__ = ["run"]

import logging
import sys
from collections.abc import Callable

from contexture.errors import ContextureError
from contexture.parallel import native_threads

log = logging.getLogger("contexture")


def run(main: Callable[[object], None], snakemake: object) -> None:
    """Run ``main(snakemake)`` with logging to ``snakemake.log[0]`` and clean user errors."""
    console = sys.__stderr__
    log_path = snakemake.log[0] if len(snakemake.log) else None
    handle = open(log_path, "w", buffering=1) if log_path else console
    sys.stderr = handle
    # The project's own messages at INFO; third-party libraries (fontTools' PDF subsetting,
    # matplotlib, numexpr) only from WARNING, so a rule's log is about the rule.
    logging.basicConfig(
        stream=handle, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    log.setLevel(logging.INFO)
    try:
        # The job uses the cores Snakemake granted it, native libraries' pools included
        # (contexture.parallel.native_threads).
        with native_threads(int(getattr(snakemake, "threads", 1) or 1)):
            main(snakemake)
    except ContextureError as error:
        rule = getattr(snakemake, "rule", "?")
        paragraph = f"contexture error in rule '{rule}' ({type(error).__name__}):\n{error}\n"
        handle.write(paragraph)
        if handle is not console:
            console.write(paragraph)
        console.flush()
        handle.flush()
        sys.exit(1)
