"""`snakemake --report`: every figure and key table registered, with captions filled from
the data, and the HTML report rendered by headless Chromium."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contexture.report.captions import FACTS, format_p
from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow

CONFIG = {"cohorts": {"small": {"simulate": {"patients": 24, "seed": 7}}}}
CHROMIUM = Path("/usr/bin/chromium")
# Figures and tables whose caption must carry a test's p.
TESTED = {
    "signature_changes_by_response.png",
    "chemokine_tcell_correlations.png",
    "pet_suvmax_by_site.png",
    "pet_suvmax_by_dmmr.png",
    "pet_suvmax_by_ihc_phenotype.png",
    "pet_change_per_week_by_response.png",
    "ihc_suvmax_vs_cd8_density.png",
    "response_classifier_roc.png",
    "survival_km_pfs.png",
    "survival_km_os.png",
    "survival_cox_forest.png",
    "pet_models.tsv",
    "ihc_pet_correlation.tsv",
    "classifier.tsv",
}
KEY_TABLES = {
    "tables/patients.tsv",
    "tables/data_availability.tsv",
    "nanostring/lanes.tsv",
    "tables/signature_scores.tsv",
    "tables/expression_changes.tsv",
    "tables/expression_correlations.tsv",
    "tables/lesions.tsv",
    "tables/pet_models.tsv",
    "tables/ihc_slides.tsv",
    "tables/ihc_pet_correlation.tsv",
    "tables/recist_timepoints.tsv",
    "tables/response_rates.tsv",
    "tables/classifier.tsv",
    "tables/toxicity.tsv",
    "tables/survival_km.tsv",
    "tables/survival_logrank.tsv",
    "tables/survival_cox.tsv",
}


def embedded_json(html: str, name: str) -> dict:
    """The ``var <name> = {...};`` object the report's page embeds in a script tag."""
    block = html.split(f'<script id="{name}">', 1)[1].split("</script>", 1)[0].strip()
    assert block.startswith(f"var {name} = ")
    return json.loads(block[len(f"var {name} = ") :].rstrip(";"))


@pytest.fixture(scope="module")
def report(demo_run, tmp_path_factory):
    """The report of the demo run, unzipped: (folder with report.html, results, categories)."""
    folder = tmp_path_factory.mktemp("report")
    run_snakemake(demo_run, CONFIG, "--report", str(folder / "report.zip"))
    with zipfile.ZipFile(folder / "report.zip") as archive:
        archive.extractall(folder)
    page = folder / "report" / "report.html"
    html = page.read_text()
    return page, embedded_json(html, "results"), embedded_json(html, "categories")


def test_every_figure_and_key_table_is_in_the_report_with_a_caption(demo_run, report):
    page, results, categories = report
    cohort_dir = demo_run / "results/small"
    figures = {f"results/small/figures/{p.name}" for p in (cohort_dir / "figures").glob("*.png")}
    tables = {f"results/small/{t}" for t in KEY_TABLES}
    assert len(figures) >= 25
    assert figures | tables <= set(results), sorted((figures | tables) - set(results))
    # A category per stage, a subcategory per cohort.
    assert set(categories) == {"Cohort", "NanoString", "Signatures", "PET", "IHC", "Response", "Survival"}
    assert all(set(sub) == {"small"} for sub in categories.values())
    for path, entry in results.items():
        name = Path(path).name
        assert name in FACTS
        caption = entry["caption"]
        assert "Cohort small:" in caption and "n = " in caption, (path, caption)
        assert entry["labels"]["summary"] in caption.replace("&lt;", "<").replace("&amp;", "&"), path
        if name in TESTED:
            assert "p = " in caption or "p &lt; 0.0001" in caption, (path, caption)
        # The file itself is in the zip.
        assert (page.parent / entry["data_uri"]).is_file(), path


def test_captions_state_the_numbers_of_the_tables(demo_run, report):
    _, results, _ = report
    cohort_dir = demo_run / "results/small"
    km = pd.read_csv(cohort_dir / "tables/survival_km.tsv", sep="\t")
    logrank = pd.read_csv(cohort_dir / "tables/survival_logrank.tsv", sep="\t")
    everyone = km[(km["endpoint"] == "pfs") & (km["stratifier"] == "all")].iloc[0]
    test = logrank[(logrank["endpoint"] == "pfs") & (logrank["stratifier"] == "dmmr") & (logrank["test"] == "log-rank")]
    caption = results["results/small/figures/survival_km_pfs.png"]["caption"].replace("&lt;", "<")
    assert f"n = {everyone['n']} patients, {everyone['events']} events" in caption
    assert f"dmmr (n = {test['n'].iat[0]}) {format_p(test['p'].iat[0])}" in caption
    correlation = pd.read_csv(cohort_dir / "tables/ihc_pet_correlation.tsv", sep="\t").iloc[0]
    caption = results["results/small/figures/ihc_suvmax_vs_cd8_density.png"]["caption"].replace("&lt;", "<")
    assert (
        f"{correlation['timepoint']} n = {correlation['n']} lesions of {correlation['n_patients']} patients, "
        f"Kendall tau-b = {correlation['tau']:.2f}"
    ) in caption
    assert format_p(correlation["p"]) in caption
    overview = pd.read_csv(cohort_dir / "figures/cohort_overview.source.tsv", sep="\t")
    assert "n = 24 patients" in results["results/small/figures/cohort_overview.png"]["caption"] and len(overview) == 24


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium not installed (.ci/run installs Debian's chromium)"
)
def test_report_renders_a_figure_in_headless_chromium(report, tmp_path):
    import matplotlib.image

    page, results, _ = report
    figure = next(path for path in results if path.endswith("/figures/survival_km_pfs.png"))
    # The report is a single-page app without routes: open it on the figure's view, as a
    # click on the result would (app.setView), then take the screenshot.
    script = (
        "<script>(function show() {"
        ' if (typeof app === "undefined" || !app) { setTimeout(show, 50); return; }'
        f" const path = {json.dumps(figure)};"
        ' app.setView({navbarMode: "resultinfo", resultPath: path, content: "img",'
        " contentPath: results[path].data_uri});"
        "})();</script>"
    )
    html = page.read_text()
    cut = html.rfind("</body>")
    view = page.with_name("view.html")
    view.write_text(html[:cut] + script + html[cut:])
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--screenshot={screenshot}",
            "--window-size=1400,2000",
            "--virtual-time-budget=10000",
            view.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = matplotlib.image.imread(screenshot)
    assert image.shape[:2] == (2000, 1400)
    pixels = np.round(image[..., :3] * 255).astype(int).reshape(-1, 3)
    colours = np.unique(pixels, axis=0)
    assert len(colours) > 500  # a real render, not a blank page
    # The figure is on screen: its Okabe-Ito blue and vermillion curves (the report's own
    # interface uses neither).
    for rgb in ((0x00, 0x72, 0xB2), (0xD5, 0x5E, 0x00)):
        assert (np.abs(pixels - rgb).max(axis=1) <= 8).sum() > 200, rgb
