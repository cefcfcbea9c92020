"""One publication style for every figure, and the writer that saves it with its data.

Journal-ready defaults: sizes in millimetres for one (89 mm) and two (183 mm) columns
(Nature's figure guide), TrueType fonts embedded in PDFs (``pdf.fonttype = 42``, so
text stays editable), and the Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008,
"Color Universal Design") used consistently: response groups and organ sites always
get the same colours. Every figure is written as PNG (300 dpi) and PDF (vector), with
the numbers it plots as a source-data TSV beside it (``<name>.source.tsv``).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_LABELS",
    "GROUP_COLOURS",
    "OKABE_ITO",
    "ONE_COLUMN_MM",
    "RESPONSE_COLOURS",
    "SEQUENCE",
    "SITE_COLOURS",
    "TWO_COLUMN_MM",
    "display_label",
    "figure",
    "panel_letters",
    "plain_log_ticks",
    "readable_name",
    "save_figure",
]

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt
import pandas as pd

from contexture.io import atomic_path, write_table

MM_PER_INCH = 25.4
ONE_COLUMN_MM = 89.0
TWO_COLUMN_MM = 183.0

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

# Fixed colours per category so a group looks the same in every figure.
RESPONSE_COLOURS = {
    "CR": OKABE_ITO["blue"],
    "PR": OKABE_ITO["sky_blue"],
    "SD": OKABE_ITO["green"],
    "PD": OKABE_ITO["vermillion"],
    "NE": OKABE_ITO["grey"],
    "NON-CR/NON-PD": OKABE_ITO["yellow"],
    "responder": OKABE_ITO["blue"],
    "non_responder": OKABE_ITO["vermillion"],
}
SITE_COLOURS = {
    "lymph_node": OKABE_ITO["blue"],
    "liver": OKABE_ITO["vermillion"],
    "lung": OKABE_ITO["sky_blue"],
    "bone": OKABE_ITO["orange"],
    "skin": OKABE_ITO["purple"],
    "other": OKABE_ITO["grey"],
}
GROUP_COLOURS = {
    "high": OKABE_ITO["blue"],
    "low": OKABE_ITO["vermillion"],
    "desert": OKABE_ITO["orange"],
    "stromal": OKABE_ITO["green"],
    "inflamed": OKABE_ITO["blue"],
    # Immunoscore categories (IHC histogram and survival curves alike).
    "Low": OKABE_ITO["vermillion"],
    "Intermediate": OKABE_ITO["orange"],
    "High": OKABE_ITO["blue"],
}
SEQUENCE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "sky_blue", "purple", "yellow", "black")]

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "axes.titlesize": 8,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.dpi": 300,
    "figure.dpi": 100,
    "axes.prop_cycle": matplotlib.cycler(color=SEQUENCE),
    # Reproducible files: no dates in the metadata (save_figure), fixed hash salt for SVG ids.
    "svg.hashsalt": "contexture",
    "path.simplify": True,
}


def figure(width_mm: float = ONE_COLUMN_MM, height_mm: float = 70.0, **subplots) -> tuple[plt.Figure, object]:
    """A new figure of the given size in millimetres, in the house style."""
    plt.rcParams.update(STYLE)
    return plt.subplots(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH), constrained_layout=True, **subplots)


def save_figure(fig: plt.Figure, png_path: str | Path, source_data: pd.DataFrame | None = None) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` (300 dpi) and ``<name>.pdf``, and its source data.

    ``png_path`` names the PNG; the PDF and ``<name>.source.tsv`` go beside it. Metadata
    carrying dates are blanked so the files do not change between identical runs.
    Returns the paths written.
    """
    png_path = Path(png_path)
    pdf_path = png_path.with_suffix(".pdf")
    written = []
    with atomic_path(png_path) as temporary:
        fig.savefig(temporary, format="png", dpi=300, metadata={"Software": None})
    written.append(png_path)
    # The PNG's draw placed every axes (constrained layout); keep those positions for the
    # PDF instead of solving the layout again, so both files show the same layout and the
    # figure is laid out once (issue 21: ~10 % of the survival figures job).
    fig.set_layout_engine(None)
    with atomic_path(pdf_path) as temporary:
        fig.savefig(
            temporary, format="pdf", metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        )
    written.append(pdf_path)
    if source_data is not None:
        source_path = png_path.with_name(png_path.stem + ".source.tsv")
        write_table(source_data, source_path)
        written.append(source_path)
    plt.close(fig)
    return written


# Display names of columns, signatures, endpoints and levels in figures (panel titles, axis
# labels, legends). A cohort's ``labels:`` config entries override these; a name in
# neither is shown by readable_name().
DEFAULT_LABELS = {
    "all": "All patients",
    "pet_geomean_suvmax_baseline": "Baseline CD8-PET geometric mean SUVmax",
    "pet_geomean_suvmax_on_treatment": "On-treatment CD8-PET geometric mean SUVmax",
    "pet_lesion_count_baseline": "Baseline CD8-PET lesion count",
    "immunosign_score": "Immunosign 21 score",
    "immunosign_high": "Immunosign 21 high",
    "immunoscore": "Immunoscore",
    "ihc_phenotype": "CD8 IHC phenotype",
    "dmmr": "MMR status",
    "tumor_burden": "Tumour burden",
    "bor": "Best overall response",
    "resistance": "Resistance",
    "pfs": "Progression-free survival",
    "os": "Overall survival",
    "baseline": "Baseline",
    "on_treatment": "On treatment",
    "responder": "Responder",
    "non_responder": "Non-responder",
    "unknown": "Unknown",
    "univariable": "univariable",
    "immunoscore_immunosign_burden": "Immunoscore + Immunosign 21 + tumour burden",
    "site": "Organ site",
    "lymph_node": "Lymph node",
    "cd8_density_tumor": "CD8+ density, tumour core",
    "cd8_density_stromal": "CD8+ density, stroma",
    "cyt": "Cytolytic activity (CYT)",
    "immunosign21": "Immunosign 21",
    "immunosign21_proxy": "Immunosign 21 (proxy)",
    "ayers_ifng6": "IFN-γ signature (Ayers, 6 genes)",
    "ayers_expanded_immune18": "Expanded immune (Ayers, 18 genes)",
    "ayers_tcell_inflamed_gep18": "T-cell-inflamed GEP (Ayers, 18 genes)",
    "irae_grade_max": "irAE, highest grade",
    "immunoscore_percentile": "Immunoscore percentile",
}


def readable_name(name: str) -> str:
    """A raw name made readable: underscores to spaces, first letter capitalised when
    the name is all lower case (so ``pMMR`` and ``CD8`` keep their case)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text.islower() else text


def display_label(name: object, labels: dict[str, str] | None = None) -> str:
    """The display text of a column, signature or level: the cohort's ``labels``, then
    :data:`DEFAULT_LABELS`, then :func:`readable_name`."""
    key = str(name)
    if labels and key in labels:
        return str(labels[key])
    if key in DEFAULT_LABELS:
        return DEFAULT_LABELS[key]
    return readable_name(key)


def panel_letters(axes, start: int = 0) -> None:
    """Bold panel letters A, B, C, ... at the top left of each visible axis, in order.

    Placed just outside the axis (left of the y tick labels, above the title), as
    journals ask for multi-panel figures (Nature's figure guide: 8 pt bold, upper case).
    """
    import string

    visible = [ax for ax in axes if ax.get_visible()]
    for index, ax in enumerate(visible, start=start):
        ax.annotate(
            string.ascii_uppercase[index % 26],
            xy=(0.0, 1.0),
            xycoords="axes fraction",
            xytext=(-22, 8),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold",
            ha="left",
            va="bottom",
            annotation_clip=False,
        )


def plain_log_ticks(axis) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k printed as plain numbers (``5``, ``20``), not
    ``5×10^0``; no minor labels. ``axis`` is ``ax.xaxis`` or ``ax.yaxis``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())
