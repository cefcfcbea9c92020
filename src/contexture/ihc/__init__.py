"""CD8 IHC stage: QuPath exports -> densities, immune phenotype, Immunoscore, PET relation.

Submodules: :mod:`~contexture.ihc.densities` (counts per region, densities, phenotype),
:mod:`~contexture.ihc.immunoscore` (percentiles and categories),
:mod:`~contexture.ihc.spatial` (CD8-to-tumour distances), :mod:`~contexture.ihc.pet`
(Kendall's tau with SUVmax, paired change), :mod:`~contexture.ihc.slides` (the slide
sheet to one row per slide and patient features) and :mod:`~contexture.ihc.figures`.
Methods and config keys: docs/ihc.md.
"""

from contexture.ihc.densities import immune_phenotype
from contexture.ihc.immunoscore import immunoscore, percentile_rank
from contexture.ihc.pet import kendall_tau_b, paired_change
from contexture.ihc.spatial import proximity_measures

__all__ = ["immune_phenotype", "immunoscore", "kendall_tau_b", "paired_change", "percentile_rank", "proximity_measures"]
