"""The PET and IHC raw-file writers give the same bytes at any thread count, and the same
files as before they were parallel (issue 21: random numbers drawn first, files written
per scan / per slide on a process pool)."""

import gzip
import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest

from contexture.simulate import simulate_latent
from contexture.simulate.ihc import write_ihc
from contexture.simulate.pet import SHAPE, _plan_scans, simulated_heights_m, write_pet_raw

# Content digests of simulate_latent(20, 3) written with seed 3 by the sequential writers
# of commit 47431b5 (before the parallel ones): every file except DICOM (whose header
# names the pydicom version), gzip members decompressed (the digest must not depend on the
# zlib build). A change here means the random stream or a file format changed.
PET_DIGEST = "041db382b2dfe5ca5fd77701f3a436835d745815fbc454033b65b645a562c3cc"
IHC_DIGEST = "aca8947a9da581dcac1c09ed2706af97f56c2bdb3c7f2bd0417c083e3cd2204b"


def content_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".dcm"):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + data)
    return digest.hexdigest()


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cohort():
    # 20 patients: DICOM series (patients 2, 10, 18), the RTSTRUCT (10th) and SEG (18th)
    # patients, fine-grid masks (every 4th scan) and sidecars without BodyWeight (every 5th).
    patients, lesions, _ = simulate_latent(20, 3)
    return patients, lesions


@pytest.fixture(scope="module")
def pet_written(cohort, tmp_path_factory):
    patients, lesions = cohort
    one, two = tmp_path_factory.mktemp("pet1"), tmp_path_factory.mktemp("pet2")
    scans_one = write_pet_raw(patients, lesions, one, 3, threads=1)
    scans_two = write_pet_raw(patients, lesions, two, 3, threads=2)
    return one, two, scans_one, scans_two


def test_pet_files_identical_at_one_and_two_threads(pet_written):
    one, two, scans_one, scans_two = pet_written
    first, second = files(one), files(two)
    assert first.keys() == second.keys()
    # 20 patients: 3 DICOM patients x 2 scans x 48 slices, one RTSTRUCT and one SEG file each scan.
    assert sum(name.endswith(".dcm") for name in first) == 3 * 2 * SHAPE[2] + 2 + 2
    assert [name for name in first if first[name] != second[name]] == []
    assert scans_one.equals(scans_two)
    # 20 baseline scans and 11 on-treatment (simulate_latent(20, 3): has_on_treatment_scan).
    assert len(scans_one) == 31 and scans_one["image"].str.endswith("/dicom").sum() == 6


def test_pet_files_as_before_parallel(pet_written):
    assert content_digest(pet_written[0]) == PET_DIGEST


def test_ihc_files_identical_at_one_and_two_threads_and_as_before(cohort, tmp_path):
    patients, lesions = cohort
    sheet_one = write_ihc(patients, lesions, tmp_path / "one", 3, threads=1)
    sheet_two = write_ihc(patients, lesions, tmp_path / "two", 3, threads=2)
    first, second = files(tmp_path / "one"), files(tmp_path / "two")
    assert first.keys() == second.keys() and len(first) == 2 * len(sheet_one) + 1
    assert [name for name in first if first[name] != second[name]] == []
    assert sheet_one.equals(sheet_two)
    assert content_digest(tmp_path / "one") == IHC_DIGEST


def test_plan_skips_exactly_the_noise_draw(cohort, tmp_path):
    # A worker redraws a scan's noise from the state the plan recorded; the plan's own
    # draw must leave the stream where scan_volumes' draw would have left it.
    patients, lesions = cohort
    patients = patients.sort_values("patient_id").reset_index(drop=True)
    lesions = lesions.sort_values(["patient_id", "lesion_id", "timepoint"], kind="stable")
    units = _plan_scans(patients, lesions, simulated_heights_m(patients["sex"], 3), tmp_path, 3)
    # The first patient with two scans and NIfTI images (no DICOM file names drawn).
    first, second = next((a, b) for a, b in itertools.pairwise(units) if a.pid == b.pid and not a.dicom)
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = first.noise_state
    rng.normal(0.0, 0.05, SHAPE)
    # Then the second scan's clock time, injection offset, activity and blood-pool factor,
    # and nothing else, before its noise.
    assert first.timepoint == "baseline" and second.timepoint == "on_treatment"
    rng.integers(9, 15), rng.integers(0, 60), rng.integers(-3 * 3600, 3 * 3600)
    rng.uniform(0.95, 1.05), rng.uniform(0.9, 1.1)
    assert rng.bit_generator.state == second.noise_state
