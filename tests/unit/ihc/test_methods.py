"""The ihc methods paragraph: Immunoscore groups from the package, counts from the slides."""

from __future__ import annotations

import pandas as pd

from contexture.ihc import methods


def _write_slides(tmp_path):
    (tmp_path / "tables").mkdir(exist_ok=True)
    pd.DataFrame(
        {"slide_id": ["a", "b", "c"], "patient_id": ["001", "001", "002"],
         "ihc_phenotype": ["desert", "inflamed", "inflamed"]}
    ).to_csv(tmp_path / "tables/ihc_slides.tsv", sep="\t", index=False)  # fmt: skip


def test_empty_without_slides(tmp_path, cohort_config):
    assert methods.methods_paragraph(tmp_path, cohort_config()) == ""


def test_counts_groups_and_qupath_sentences(tmp_path, cohort_config):
    _write_slides(tmp_path)
    text = methods.methods_paragraph(tmp_path, cohort_config({"ihc": {"slides": "slides.tsv"}}))
    assert "3 slides of 2 patients were analysed from cell detections" in text
    assert "(desert / stromal / inflamed; inflamed 2, desert 1; tumour core vs max(stroma, margin); Hegde" in text
    assert "(Low 0–25%, Intermediate 25–70%, High 70–100%; Galon et al., Science 2006; Pagès" in text
    assert "(k-d tree)." in text and "Kendall" not in text
    (tmp_path / "tables/ihc_pet_correlation.tsv").write_text(
        "timepoint\tdensity\tn_irradiated_excluded\nbaseline\ta\t2\nbaseline\tb\t2\non_treatment\ta\t1\n"
    )
    assert methods.methods_paragraph(tmp_path, cohort_config()).endswith(
        "CD8+ density of non-irradiated biopsied lesions (3 irradiated lesion(s) excluded) was related to their "
        "PET SUVmax by Kendall's tau-b separately at each timepoint (baseline and on-treatment pairs of the same "
        "lesions not pooled), with a 95% percentile bootstrap interval resampling patients (2000 resamples), "
        "since a patient may contribute several lesions."
    )
    config = cohort_config({"ihc": {"pet_correlation": {"bootstrap": 500, "conf_level": 0.9}},
                            "pet_analysis": {"exclude_irradiated": False}})  # fmt: skip
    text = methods.methods_paragraph(tmp_path, config)
    assert "of biopsied lesions, irradiated ones included" in text and "90% percentile" in text
    assert "(500 resamples)" in text


def test_region_classes_phenotype_regions_and_pixel_size(tmp_path, cohort_config):
    (tmp_path / "tables").mkdir()
    pd.DataFrame(
        {"slide_id": ["a", "b", "c"], "patient_id": ["001", "002", "003"],
         "ihc_phenotype": ["desert", "inflamed", "inflamed"],
         "phenotype_regions": ["epithelium vs stroma", "epithelium vs stroma", "tumour core vs max(stroma, margin)"],
         "pixel_size_um": [0.25, None, 0.5]}
    ).to_csv(tmp_path / "tables/ihc_slides.tsv", sep="\t", index=False)  # fmt: skip
    config = cohort_config({"ihc": {"slides": "slides.tsv", "regions": {"core": ["CT"], "epithelium": []}}})
    text = methods.methods_paragraph(tmp_path, config)
    assert "(annotation classes: CT CT; IM Invasive margin, Margin, Invasive front, IM; stroma Stroma," in text
    assert "; epithelium none; not counted Tissue, Region*, Ignore*, Necrosis, Other)" in text
    assert "compared epithelium vs stroma on 2 slides, tumour core vs max(stroma, margin) on 1 slides" in text
    assert "against the cohort's baseline slides, one per patient" in text
    assert text.endswith(
        "exported in pixels (2 of 3 slides) were converted at 0.25, 0.5 µm per pixel (coordinates × s, areas × s²)."
    )
    _write_slides(tmp_path)  # no pixel_size_um column: every export in µm
    assert methods.methods_paragraph(tmp_path, config).endswith("Centroids and areas were exported in µm.")


def test_density_table_and_other_groups(tmp_path, cohort_config):
    _write_slides(tmp_path)
    text = methods.methods_paragraph(tmp_path, cohort_config({"ihc": {"densities": "densities.tsv"}}))
    assert "analysed from a per-region density table:" in text and "k-d tree" not in text
    groups = ((20.0, "Low"), (60.0, "Intermediate"), (100.0, "High"))
    assert methods.immunoscore_groups_text(groups) == "Low 0–20%, Intermediate 20–60%, High 60–100%"
