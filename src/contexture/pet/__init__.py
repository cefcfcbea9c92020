"""CD8 PET stage: body-weight SUV from DICOM or NIfTI + BIDS-PET, per-lesion quantification.

Entry points (what ``workflow/scripts/pet_*.py`` call):

* :func:`quantify_cohort` -- scans (or a VOI table) to the lesion, reference-region,
  scans and patient-feature tables (rule ``pet_quantify``);
* :func:`fit_models` -- every PET model (rule ``pet_models``); :func:`model_figure` -- one
  of their figures (rules ``<name>_figure``);
* :func:`biodistribution_analysis` -- dose-finding reference-region tables and figure
  (rule ``pet_biodistribution``).

Submodules:

* :mod:`contexture.pet.suv` -- stored voxel values to SUVbw (QIBA, DICOM PS3.3 PET module),
  correct for 89Zr imaging days after injection.
* :mod:`contexture.pet.quantify` -- label maps on the PET grid, per-lesion SUVmax, SUVmean,
  SUVpeak (PERCIST 1.0), volume, reference regions; VOI-table input.
* :mod:`contexture.pet.features` -- the per-patient geometric mean SUVmax (written once)
  and the patient-feature columns.
* :mod:`contexture.pet.models` -- statistical models of lesion uptake;
  :mod:`contexture.pet.biodistribution` -- the dose-finding series;
  :mod:`contexture.pet.figures` -- their figures.

File formats are read in :mod:`contexture.io.pet_images`; the methods are in docs/pet.md.
"""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import pandas as pd

# Light (numpy and pandas only); the entry points import the heavy submodules (DICOM,
# NIfTI, scikit-image, matplotlib) when called: contexture.lazy.
from contexture.pet.suv import DEFAULT_UPTAKE_WINDOWS_H, ZR89_HALF_LIFE_S


class Quantification(NamedTuple):
    """The tables of rule ``pet_quantify``."""

    lesions: pd.DataFrame
    reference_regions: pd.DataFrame
    scans: pd.DataFrame
    features: pd.DataFrame


def quantify_cohort(
    *,
    scans: str | os.PathLike | None = None,
    voi_table: str | os.PathLike | None = None,
    voi_columns: dict | None = None,
    clinical: pd.DataFrame | None = None,
    peak_volume_ml: float = 1.0,
    half_life_hours: float = ZR89_HALF_LIFE_S / 3600.0,
    fov_tolerance_voxels: float = 1.0,
    lean_body_mass: str = "janmahasatian",
    adopt_pet_grid_for_unoriented_masks: bool = False,
    uptake_window_hours: dict | None = None,
    image_voxels: int | None = None,
    threads: int = 1,
) -> Quantification:
    """Lesions, reference regions, scans and patient features of a cohort's PET.

    From a per-VOI statistics table (``voi_table``; its scans table lists the scans the
    VOIs name, ``format = voi_table``; ``voi_columns``, the cohort's ``pet.columns``,
    maps the export's headers to ours) or else from the images of a scans table
    (``scans``, :func:`contexture.pet.quantify.quantify_scans`). The clinical table's
    ``weight_kg`` (when present) is the body weight of images that lack one.
    ``half_life_hours`` is the half-life used when an image does not state one. The
    clinical ``height_cm`` and ``sex`` give SUL where an image lacks them;
    ``lean_body_mass`` picks the LBM formula (``janmahasatian`` or ``james``);
    ``uptake_window_hours`` maps radionuclide keys (``Zr89``) to the expected
    ``[earliest, latest]`` uptake in hours (default
    :data:`contexture.pet.suv.DEFAULT_UPTAKE_WINDOWS_H`). ``image_voxels`` (config
    ``limits.image_voxels``) is the most voxels an image or mask header may declare; the
    readers' hard ceiling when None. Scans whose files are refused are all named in one
    :class:`~contexture.errors.InputError`. ``threads`` scans are
    quantified at once (the rule's threads; the tables do not depend on it).
    Patient features: :func:`contexture.pet.features.patient_features`.
    """
    from contexture.pet.features import patient_features
    from contexture.pet.quantify import QuantifyOptions, quantify_scans, read_voi_table, voi_scans

    if voi_table is not None:
        lesions, references = read_voi_table(voi_table, voi_columns)
        scan_table = voi_scans(lesions, references)
    else:
        weights = {}
        if clinical is not None and "weight_kg" in clinical.columns:
            weights = dict(zip(clinical["patient_id"].astype(str), clinical["weight_kg"], strict=True))
        body = {}
        if clinical is not None:
            sizes = clinical.reindex(columns=["patient_id", "height_cm", "sex"])
            body = {
                str(r["patient_id"]): {k: (None if pd.isna(r[k]) else r[k]) for k in ("height_cm", "sex")}
                for r in sizes.to_dict("records")
            }
        options = QuantifyOptions(
            peak_volume_ml=peak_volume_ml,
            default_half_life_s=half_life_hours * 3600.0,
            fov_tolerance_voxels=fov_tolerance_voxels,
            lean_body_mass=lean_body_mass,
            adopt_pet_grid_for_unoriented_masks=adopt_pet_grid_for_unoriented_masks,
            uptake_window_hours={
                k: tuple(v) for k, v in (uptake_window_hours or dict(DEFAULT_UPTAKE_WINDOWS_H)).items()
            },
        )
        if image_voxels is not None:
            options = dataclasses.replace(options, image_voxels=int(image_voxels))
        lesions, references, scan_table = quantify_scans(scans, weights, options, body, threads=threads)
    return Quantification(lesions, references, scan_table, patient_features(lesions))


def fit_models(
    lesions: pd.DataFrame,
    patients: pd.DataFrame | None,
    options: dict | None = None,
    slides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The PET models table (``tables/pet_models.tsv``).

    ``options`` is the cohort's ``pet_analysis`` section; ``slides`` the IHC slides table
    (``tables/ihc_slides.tsv``, None without IHC) whose ``lesion_id`` places each biopsy on
    its PET lesion. Models and figures (:func:`model_figure`) use the same lesion selection
    (:func:`contexture.pet.models.prepare_lesions`).
    """
    from contexture.pet.models import run_pet_models

    return run_pet_models(lesions, patients, dict(options or {}), slides)


def model_figure(
    name: str,
    lesions: pd.DataFrame,
    patients: pd.DataFrame | None,
    options: dict | None = None,
    slides: pd.DataFrame | None = None,
    labels: dict | None = None,
) -> tuple:
    """``(figure, source)`` of one PET figure (a key of :func:`contexture.pet.figures.pet_model_figures`)."""
    from contexture.pet.figures import pet_model_figures

    return pet_model_figures(lesions, patients, dict(options or {}), slides, labels, names=[name])[name]


def biodistribution_analysis(references: pd.DataFrame, options: dict | None = None):
    """``(table, dose comparison, (figure, source))`` of a dose-finding series' reference regions.

    ``options`` is the cohort's ``pet.biodistribution`` section
    (:mod:`contexture.pet.biodistribution`).
    """
    from contexture.pet import biodistribution
    from contexture.pet.figures import biodistribution_figure

    table = biodistribution.biodistribution_table(references, options)
    comparison = biodistribution.dose_comparison(references, options)
    figure = biodistribution_figure(table, biodistribution.prepare_reference_regions(references))
    return table, comparison, figure


__all__ = ["Quantification", "biodistribution_analysis", "fit_models", "model_figure", "quantify_cohort"]
