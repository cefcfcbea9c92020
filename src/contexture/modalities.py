"""The one table of the workflow's stages and modalities.

``STAGES`` lists the stage packages in the order of the analysis (and of the methods
text). Every place that needs "each stage" (methods text, report captions, input
checks) iterates over it instead of keeping its own list.
"""

from __future__ import annotations

# Stage packages under contexture/, in the order of the analysis: raw data first, then
# the analyses that combine them. Each is a package with the shared shape (DESIGN.md).
STAGES = ("clinical", "nanostring", "signatures", "pet", "ihc", "response", "toxicity", "survival")
