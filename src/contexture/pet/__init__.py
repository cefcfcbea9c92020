"""CD8 PET stage: body-weight SUV from DICOM or NIfTI + BIDS-PET, per-lesion quantification.

* :mod:`contexture.pet.suv` -- stored voxel values to SUVbw (QIBA, DICOM PS3.3 PET module),
  correct for 89Zr imaging days after injection.
* :mod:`contexture.pet.quantify` -- label maps on the PET grid, per-lesion SUVmax, SUVmean,
  SUVpeak (PERCIST 1.0), volume, reference regions, and per-patient features.
* :mod:`contexture.pet.models` -- statistical models of lesion uptake (separate module).

File formats are read in :mod:`contexture.io.pet_images`; the methods are in docs/pet.md.
"""
