"""Body-weight standardized uptake value (SUVbw) from stored PET voxel values.

    SUVbw = C(t_ref) * W / (D * exp(-lambda * (t_ref - t_inj))),   lambda = ln 2 / T_half

with C the activity concentration (Bq/ml) decay-corrected to the reference time t_ref,
W the body weight in g (1 g ~ 1 ml of tissue, so SUV is in g/ml), D the injected
activity (Bq) measured at injection time t_inj. References: QIBA FDG-PET/CT Profile
(2016/2019 consensus) and the QIBA "Vendor-neutral pseudo-code for SUV calculation"
(QIBA wiki, 2013); DICOM PS3.3 C.8.9.1 (PET Series module: Units, DecayCorrection,
SUVType, SeriesDate/Time), C.8.9.2 (PET Isotope module: RadionuclideTotalDose,
RadionuclideHalfLife, RadiopharmaceuticalStartDateTime), C.8.9.4 (PET Image module:
FrameReferenceTime, ActualFrameDuration, DecayFactor); Vácha et al., "Comprehensive manual
for SUV computation and digital reference objects for its verification" (IBSI SUV DROs).

89Zr imaging (89ZED88082A) happens days after injection, so the interval is computed
between full datetimes; time-of-day arithmetic alone would be wrong by whole days. An
injection time without a date is accepted only for radionuclides with a half-life of at
most :data:`SAME_DAY_MAX_HALF_LIFE_S` (F-18, Ga-68, C-11, ...), assuming injection on the
scan day (the previous day when the clock time is after the scan: QIBA, over midnight);
for longer-lived nuclides a date must come from the image or from the scans table's
``injection_date`` column.

Reference time for ``DecayCorrection = START`` (QIBA pseudo-code order):

1. ``SeriesDate``/``SeriesTime`` when not after the earliest acquisition time;
2. otherwise the GE private PET scan datetime (0009,100D) if present;
3. otherwise back-computed per slice from AcquisitionTime, ActualFrameDuration T and
   FrameReferenceTime dt: t_ref = t_acq + T_ave - dt with
   T_ave = ln(lambda T / (1 - exp(-lambda T))) / lambda (the time at which the decaying
   count rate equals its frame average; Vácha et al., option 4), only when every slice
   has FrameReferenceTime > 0 and ActualFrameDuration > 0, as the QIBA pseudo-code
   requires (a FrameReferenceTime of 0, as some vendors write, would move the reference
   by about half a frame);
4. otherwise the earliest AcquisitionDate/Time (QIBA's last resort).

``DecayCorrection = ADMIN``: images are corrected to the injection time, the dose is not
decayed. ``NONE``: each slice is corrected from its own frame to the injection time,
SUV = C * lambda T / (1 - exp(-lambda T)) * exp(lambda (t_acq - t_inj)) * W / D.

Uptake time plausibility (:func:`check_uptake_time`): the time from injection to the
reference time is compared with a window per radionuclide (config
``pet.uptake_window_hours``; :data:`DEFAULT_UPTAKE_WINDOWS_H`), on the DICOM and the
BIDS paths alike; outside it is a warning naming the scan, the uptake found and its
likely cause (an injection date missing or equal to the scan date), and the scan's
lesions carry the ``uptake_outside_window`` flag.

Lean body mass (:func:`lean_body_mass_kg`, :func:`lean_body_mass_factor`): SUL = SUVbw x
LBM / W (PERCIST 1.0 defines SULpeak on it), LBM by Janmahasatian et al. 2005 (default) or
James 1976, from PatientSize/PatientSex (DICOM), the sidecar's PatientSize/PatientSex
(dcm2niix names), or the clinical table's ``height_cm``/``sex``.

Units: BQML (activity), GML (already SUV; SUVType BW, or LBM / LBMJAMES128 / LBMJANMA /
IBW converted back to BW with PatientSize and PatientSex, the mean of the male and
female factors for sex O, as Vácha et al. suggest), CM2ML (SUVbsa, Du Bois BSA), CNTS
with a Philips activity concentration scale factor (7053,1009) (preferred: the decay is
then computed here, with dates) or SUV scale factor (7053,1000). Any other unit is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re

import numpy as np
import pandas as pd

from contexture.errors import InputError

__all__ = [
    "HALF_LIFE_S",
    "ZR89_HALF_LIFE_S",
    "SAME_DAY_MAX_HALF_LIFE_S",
    "MBQ_THRESHOLD",
    "decay_constant",
    "decayed_activity",
    "body_weight_suv_factor",
    "frame_average_time",
    "resolve_weight",
    "injection_datetime_dicom",
    "reference_datetime_dicom",
    "dicom_suv_factors",
    "nuclide_key",
    "bids_suv_factor",
    "lean_body_mass_factor",
    "DEFAULT_UPTAKE_WINDOWS_H",
    "check_uptake_time",
]

log = logging.getLogger(__name__)

# Half-lives in seconds (NNDC NuDat 3.0 evaluated values).
HALF_LIFE_S = {
    "Zr89": 78.41 * 3600.0,
    "F18": 109.77 * 60.0,
    "Ga68": 67.71 * 60.0,
    "C11": 20.364 * 60.0,
    "Cu64": 12.701 * 3600.0,
    "I124": 4.1760 * 86400.0,
    "N13": 9.965 * 60.0,
    "O15": 122.24,
    "Rb82": 76.38,
}
ZR89_HALF_LIFE_S = HALF_LIFE_S["Zr89"]
# Injection on the scan day may be assumed only for nuclides imaged within hours.
SAME_DAY_MAX_HALF_LIFE_S = 2 * 3600.0
# RadionuclideTotalDose below this many Bq can only be MBq (Vácha et al.: the two modes of
# real-world values are ~4e2 and ~4e8); 1e5 Bq is far below any diagnostic activity.
MBQ_THRESHOLD = 1e5

# Expected uptake (injection to reference time) per radionuclide, hours; a scan outside
# is warned about and flagged, not refused. 89Zr: the 89ZED88082A protocol images on day 2
# to 7 after injection (Kist de Ruijter et al., Nat Med 2022;28:2601-2610), days counted
# by calendar date, so with injection and scan anywhere in a working day 36 h (day 2,
# early scan after a late injection) to 180 h (day 7, late scan after an early one). 18F: 45 to
# 120 min covers FDG (60 min, 55-75 min, EANM guideline 2.0, Boellaard et al., EJNMMI
# 2015;42:328-354; QIBA FDG-PET/CT Profile) and PSMA-1007 (90-120 min, EANM/SNMMI
# guideline, Fendler et al., EJNMMI 2023;50:1466-1486). Config pet.uptake_window_hours
# (src/contexture/schemas/cohort/pet.schema.yaml) holds the same defaults.
DEFAULT_UPTAKE_WINDOWS_H = {"Zr89": (36.0, 180.0), "F18": (0.75, 2.0)}
# Lean body mass formulas of config pet.lean_body_mass.
LEAN_BODY_MASS_FORMULAS = ("janmahasatian", "james")

_ACTIVITY_UNITS = {"bq": 1.0, "kbq": 1e3, "mbq": 1e6, "gbq": 1e9, "mci": 3.7e7, "uci": 3.7e4, "µci": 3.7e4}
_CONCENTRATION_UNITS = {"bq/ml": 1.0, "kbq/ml": 1e3, "mbq/ml": 1e6}


def decay_constant(half_life_s: float) -> float:
    """lambda = ln 2 / T_half, per second."""
    return math.log(2.0) / half_life_s


def decayed_activity(injected_bq: float, elapsed_s: float, half_life_s: float) -> float:
    """Injected activity decayed over ``elapsed_s``: D exp(-lambda t)."""
    return injected_bq * math.exp(-decay_constant(half_life_s) * elapsed_s)


def body_weight_suv_factor(injected_bq: float, weight_kg: float, elapsed_s: float, half_life_s: float) -> float:
    """Factor turning Bq/ml (decay-corrected to the reference time) into SUVbw (g/ml).

    SUVbw = C * (1000 W_kg) / (D exp(-lambda t)), with t the time from injection to the
    reference time of the image (QIBA FDG-PET/CT Profile, SUV definition).
    """
    return weight_kg * 1000.0 / decayed_activity(injected_bq, elapsed_s, half_life_s)


def frame_average_time(frame_duration_s: float, half_life_s: float) -> float:
    """T_ave = ln(lambda T / (1 - exp(-lambda T))) / lambda: when the count rate equals its frame mean."""
    lam = decay_constant(half_life_s)
    x = lam * frame_duration_s
    if x < 1e-9:
        return frame_duration_s / 2.0
    return math.log(x / -math.expm1(-x)) / lam


def _scan(scan: str, message: str) -> InputError:
    return InputError(f"PET scan '{scan}': {message}")


# --- body size: lean body mass (SUL) and the conversions for Units GML / CM2ML ---------------


def lean_body_mass_kg(weight_kg: float, height_cm: float, sex: str, formula: str = "janmahasatian") -> float:
    """Lean body mass (kg) from weight (kg), height (cm) and sex (``M`` or ``F``).

    ``janmahasatian`` (Janmahasatian et al., Clin Pharmacokinet 2005;44:1051-1065; the LBM
    of PERCIST's SUL, Wahl et al., J Nucl Med 2009;50:122S, and DICOM SUVType LBMJANMA),
    with BMI = W / (H/100)^2:

        male   LBM = 9270 W / (6680 + 216 BMI)
        female LBM = 9270 W / (8780 + 244 BMI)

    ``james`` (James, Research on obesity, HMSO 1976; DICOM SUVType LBMJAMES128):

        male   LBM = 1.10 W - 128 (W / H)^2
        female LBM = 1.07 W - 148 (W / H)^2

    James' formula falls with weight beyond W/H^2 ~ 43 kg/m^2 (male) and is known to
    underestimate LBM in obesity, which is why Janmahasatian's is the default.
    """
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    male = sex == "M"
    if formula == "janmahasatian":
        bmi = weight_kg / (height_cm / 100) ** 2
        return 9270 * weight_kg / (6680 + 216 * bmi) if male else 9270 * weight_kg / (8780 + 244 * bmi)
    if formula == "james":
        ratio2 = (weight_kg / height_cm) ** 2
        return 1.10 * weight_kg - 128 * ratio2 if male else 1.07 * weight_kg - 148 * ratio2
    raise ValueError(f"unknown lean body mass formula {formula!r}; expected one of {LEAN_BODY_MASS_FORMULAS}")


def _size_factors(suv_type: str, weight_kg: float, height_cm: float, sex: str) -> list[float]:
    """Normalizing mass (kg) or BSA (m^2) of SUVType, per applicable sex (Vácha et al.)."""
    sexes = ["M", "F"] if sex not in ("M", "F") else [sex]
    out = []
    for s in sexes:
        male = s == "M"
        ratio2 = (weight_kg / height_cm) ** 2
        if suv_type == "LBM":  # Morgan
            out.append(1.10 * weight_kg - 120 * ratio2 if male else 1.07 * weight_kg - 148 * ratio2)
        elif suv_type == "LBMJAMES128":  # James 1976, DICOM variant
            out.append(lean_body_mass_kg(weight_kg, height_cm, s, "james"))
        elif suv_type == "LBMJANMA":  # Janmahasatian 2005
            out.append(lean_body_mass_kg(weight_kg, height_cm, s, "janmahasatian"))
        elif suv_type == "IBW":
            out.append(48.0 + 1.06 * (height_cm - 152) if male else 45.5 + 0.91 * (height_cm - 152))
        elif suv_type == "BSA":  # Du Bois & Du Bois 1916, m^2
            out.append(0.007184 * height_cm**0.725 * weight_kg**0.425)
        else:
            raise ValueError(suv_type)
    return out


def _normalized_to_bw(attrs: dict, scan: str, units: str) -> float:
    """Factor from a GML/CM2ML image (SUVlbm, SUVibw, SUVbsa) back to SUVbw."""
    suv_type = attrs.get("SUVType") or ("BSA" if units == "CM2ML" else "BW")
    weight = attrs.get("PatientWeight")
    if suv_type == "BW" and units == "GML":
        return 1.0
    known = {"LBM", "LBMJAMES128", "LBMJANMA", "IBW", "BSA"}
    if suv_type not in known or (units == "CM2ML") != (suv_type == "BSA"):
        raise _scan(scan, f"Units {units} with SUVType '{suv_type}' (0054,1006) cannot be converted to SUVbw.")
    height_m = attrs.get("PatientSize")
    if not weight or not height_m:
        raise _scan(
            scan, f"Units {units} (SUVType {suv_type}) needs PatientWeight (0010,1030) and PatientSize (0010,1020)."
        )
    height_cm = height_m * 100 if height_m < 3 else height_m
    sex = attrs.get("PatientSex") or "O"
    values = _size_factors(suv_type, weight, height_cm, sex)
    size = float(np.mean(values))
    if suv_type == "BSA":
        # SUVbsa in cm^2/ml: SUVbw = SUVbsa * W[g] / BSA[cm^2]
        return weight * 1000.0 / (size * 1e4)
    return weight / size


# --- DICOM ---------------------------------------------------------------------------------


def resolve_weight(header_kg: float | None, override_kg: float | None, fallback_kg: float | None, scan: str, tag: str):
    """Body weight: scans-table ``weight_kg``, else the image's, else the clinical table's."""
    for value, source in (
        (override_kg, "scans table weight_kg"),
        (header_kg, tag),
        (fallback_kg, "clinical weight_kg"),
    ):
        if value is None or not np.isfinite(value) or value <= 0:
            continue
        if value > 1000:  # entered in grams (Vácha et al.)
            log.warning("PET scan %s: body weight %s from %s > 1000 taken as grams", scan, value, source)
            value = value / 1000.0
        elif value > 500:
            raise _scan(scan, f"body weight {value} kg from {source} is implausible (neither kg nor g).")
        return float(value), source
    raise _scan(
        scan,
        f"no body weight: {tag} is missing or 0, and neither the scans table nor the clinical table has weight_kg.",
    )


def _injected_bq(value: float | None, scan: str) -> float:
    if value is None or value <= 0:
        raise _scan(scan, "RadionuclideTotalDose (0018,1074) is missing or 0; cannot compute SUV.")
    if value < MBQ_THRESHOLD:
        log.warning("PET scan %s: RadionuclideTotalDose %s taken as MBq", scan, value)
        return value * 1e6
    return value


def _half_life(value: float | None, default_s: float, scan: str, tag: str) -> float:
    if value is None or value <= 0:
        log.warning("PET scan %s: %s missing; using the configured half-life %.1f h", scan, tag, default_s / 3600)
        return default_s
    return value


def injection_datetime_dicom(
    attrs: dict, reference: dt.datetime | None, half_life_s: float, scan: str, injection_date: dt.date | None = None
) -> tuple[dt.datetime, str]:
    """Injection datetime from RadiopharmaceuticalStartDateTime, GE's private tag or time + date."""
    if attrs.get("RadiopharmaceuticalStartDateTime") is not None:
        return attrs["RadiopharmaceuticalStartDateTime"], "RadiopharmaceuticalStartDateTime"
    if attrs.get("GEAdministrationDateTime") is not None:
        return attrs["GEAdministrationDateTime"], "GE (0009,103B)"
    time = attrs.get("RadiopharmaceuticalStartTime")
    if time is None:
        raise _scan(
            scan,
            "no injection time: RadiopharmaceuticalStartDateTime (0018,1078) and RadiopharmaceuticalStartTime "
            "(0018,1072) are both missing.",
        )
    if injection_date is not None:
        return dt.datetime.combine(injection_date, time), "RadiopharmaceuticalStartTime + scans table injection_date"
    if half_life_s > SAME_DAY_MAX_HALF_LIFE_S:
        raise _scan(
            scan,
            f"only RadiopharmaceuticalStartTime (0018,1072) is given, without a date, and the half-life is "
            f"{half_life_s / 3600:.1f} h: a long-lived tracer (e.g. 89Zr) is imaged days after injection, so the "
            "date is needed; add RadiopharmaceuticalStartDateTime or the scans table column 'injection_date'.",
        )
    if reference is None:
        raise _scan(scan, "RadiopharmaceuticalStartTime has no date and the series has no date to combine it with.")
    injection = dt.datetime.combine(reference.date(), time)
    if injection > reference:  # over midnight (QIBA)
        injection -= dt.timedelta(days=1)
    return injection, "RadiopharmaceuticalStartTime on the scan day"


def reference_datetime_dicom(
    attrs: dict, slices: pd.DataFrame, half_life_s: float, scan: str
) -> tuple[dt.datetime, str]:
    """Reference time of a DecayCorrection START series (module docstring, QIBA order)."""
    acquisitions = [t for t in slices["acquisition_datetime"] if t is not None and not pd.isna(t)]
    earliest = min(acquisitions) if acquisitions else None
    series = attrs.get("SeriesDateTime")
    if series is not None and (earliest is None or series <= earliest):
        return series, "SeriesDate/SeriesTime"
    if attrs.get("GEScanDateTime") is not None:
        return attrs["GEScanDateTime"], "GE PET scan datetime (0009,100D)"
    columns = ["acquisition_datetime", "actual_frame_duration_ms", "frame_reference_time_ms"]
    timing = slices[columns[1:]].astype(float)
    if len(slices) and slices[columns].notna().all().all() and bool((timing > 0).all().all()):
        times = []
        for acquisition, duration_ms, reference_ms in slices[columns].itertuples(index=False):
            average = frame_average_time(duration_ms / 1000.0, half_life_s)
            times.append(acquisition + dt.timedelta(seconds=average - reference_ms / 1000.0))
        times = sorted(times)
        spread = (times[-1] - times[0]).total_seconds()
        if spread > 60:
            log.warning("PET scan %s: back-computed reference times spread over %.0f s", scan, spread)
        return times[len(times) // 2], "AcquisitionTime + frame average - FrameReferenceTime"
    if earliest is not None:
        log.warning(
            "PET scan %s: SeriesTime missing or after AcquisitionTime, and no FrameReferenceTime > 0 with ActualFrameDuration > 0 "
            "on every slice (QIBA); using the earliest AcquisitionTime",
            scan,
        )
        return earliest, "earliest AcquisitionDate/AcquisitionTime"
    raise _scan(
        scan, "no scan time: SeriesDate/SeriesTime (0008,0021/0031) and AcquisitionTime (0008,0032) are missing."
    )


def dicom_suv_factors(
    attrs: dict,
    slices: pd.DataFrame,
    *,
    scan: str,
    weight_kg: float | None = None,
    fallback_weight_kg: float | None = None,
    injection_date: dt.date | None = None,
    default_half_life_s: float = ZR89_HALF_LIFE_S,
) -> tuple[np.ndarray, dict]:
    """Per-slice factors f_k with SUVbw = (rescaled stored value) * f_k, and their provenance.

    ``weight_kg`` (scans table) overrides PatientWeight; ``fallback_weight_kg`` (clinical
    table) is used when PatientWeight is missing. See the module docstring for the rules.
    """
    units = attrs.get("Units")
    n = len(slices)
    info: dict = {"units": units, "decay_correction": attrs.get("DecayCorrection")}
    if units in ("GML", "CM2ML"):
        factor = _normalized_to_bw(attrs, scan, units)
        header_weight = attrs.get("PatientWeight")
        if weight_kg and header_weight:  # the scanner's SUV used its weight; SUV is proportional to W
            factor *= weight_kg / header_weight
        info.update(method=f"Units {units}, SUVType {attrs.get('SUVType') or 'BW'}")
        _record_weight(info, weight_kg, header_weight, fallback_weight_kg)
        return np.full(n, factor), info
    scale = np.ones(n)
    if units == "CNTS":
        activity = slices["philips_activity_scale_factor"].to_numpy(float)
        suv_scale = slices["philips_suv_scale_factor"].to_numpy(float)
        if np.all(np.isfinite(activity) & (activity > 0)):
            scale = activity
            info["method"] = "Units CNTS x Philips activity concentration scale factor (7053,1009)"
        elif np.all(np.isfinite(suv_scale) & (suv_scale > 0)):
            factor = suv_scale.copy()
            header_weight = attrs.get("PatientWeight")
            if weight_kg and header_weight:
                factor *= weight_kg / header_weight
            info.update(method="Units CNTS x Philips SUV scale factor (7053,1000)")
            _record_weight(info, weight_kg, header_weight, fallback_weight_kg)
            return factor, info
        else:
            raise _scan(
                scan,
                "Units CNTS without a Philips activity concentration (7053,1009) or SUV (7053,1000) scale factor: "
                "counts cannot be converted to activity concentration.",
            )
    elif units != "BQML":
        raise _scan(
            scan, f"Units (0054,1001) is '{units}'; only BQML, GML, CM2ML and Philips CNTS can be converted to SUVbw."
        )
    weight, weight_source = resolve_weight(
        attrs.get("PatientWeight"), weight_kg, fallback_weight_kg, scan, "PatientWeight (0010,1030)"
    )
    dose = _injected_bq(attrs.get("RadionuclideTotalDose"), scan)
    half_life = _half_life(
        attrs.get("RadionuclideHalfLife"), default_half_life_s, scan, "RadionuclideHalfLife (0018,1075)"
    )
    info.update(weight_kg=weight, weight_source=weight_source, injected_bq=dose, half_life_s=half_life)
    info["radionuclide"] = nuclide_key(attrs.get("Radionuclide")) or nuclide_from_half_life(half_life)
    correction = attrs.get("DecayCorrection")
    if correction == "ADMIN":
        info.setdefault("method", "Units BQML")
        info.update(reference="injection (DecayCorrection ADMIN)", uptake_s=0.0)
        return scale * weight * 1000.0 / dose, info
    if correction == "START":
        reference, how = reference_datetime_dicom(attrs, slices, half_life, scan)
        injection, injection_how = injection_datetime_dicom(attrs, reference, half_life, scan, injection_date)
        elapsed = (reference - injection).total_seconds()
        if elapsed < 0:
            raise _scan(
                scan, f"injection ({injection}, from {injection_how}) is after the scan reference time ({reference})."
            )
        info.setdefault("method", "Units BQML")
        info.update(reference=how, injection=injection_how, reference_datetime=reference, injection_datetime=injection)
        info["uptake_s"] = elapsed
        return scale * body_weight_suv_factor(dose, weight, elapsed, half_life), info
    if correction == "NONE":
        columns = ["acquisition_datetime", "actual_frame_duration_ms"]
        if not slices[columns].notna().all().all():
            raise _scan(
                scan,
                "DecayCorrection NONE needs AcquisitionTime (0008,0032) and ActualFrameDuration (0018,1242) on every slice.",
            )
        first = min(slices["acquisition_datetime"])
        injection, injection_how = injection_datetime_dicom(attrs, first, half_life, scan, injection_date)
        lam = decay_constant(half_life)
        factors = np.empty(n)
        for k, (acquisition, duration_ms) in enumerate(slices[columns].itertuples(index=False)):
            x = lam * duration_ms / 1000.0
            within_frame = x / -math.expm1(-x) if x > 0 else 1.0
            elapsed = (acquisition - injection).total_seconds()
            if elapsed < 0:
                raise _scan(scan, f"injection ({injection}) is after the acquisition of slice {k} ({acquisition}).")
            factors[k] = within_frame * math.exp(lam * elapsed) * weight * 1000.0 / dose
        info.setdefault("method", "Units BQML")
        info.update(reference="per slice (DecayCorrection NONE)", injection=injection_how, injection_datetime=injection)
        info["uptake_s"] = float((first - injection).total_seconds())
        return scale * factors, info
    raise _scan(scan, f"DecayCorrection (0054,1102) is '{correction}'; expected START, ADMIN or NONE.")


def _record_weight(info: dict, override_kg, header_kg, fallback_kg) -> None:
    """The body weight an SUV image stands for (scans table, header, clinical), for SUL."""
    for value, source in (
        (override_kg, "scans table weight_kg"),
        (header_kg, "PatientWeight (0010,1030)"),
        (fallback_kg, "clinical weight_kg"),
    ):
        if value is not None and np.isfinite(value) and 0 < value <= 500:
            info.update(weight_kg=float(value), weight_source=source)
            return


# --- BIDS-PET -------------------------------------------------------------------------------


def nuclide_key(text: str | None) -> str | None:
    """Normalize a radionuclide name ('Zr89', '89Zr', 'Zr-89', '^89^Zirconium') to 'Zr89'."""
    if not text:
        return None
    names = {"zirconium": "Zr", "fluorine": "F", "gallium": "Ga", "carbon": "C", "copper": "Cu", "iodine": "I"}
    cleaned = text.replace("^", "").replace("-", "").replace(" ", "")
    number = re.search(r"\d+", cleaned)
    letters = re.sub(r"\d+", "", cleaned)
    letters = names.get(letters.lower(), letters)
    if number is None or not letters:
        return None
    return f"{letters[0].upper()}{letters[1:].lower()}{number.group()}"


def _seconds(attrs: dict, key: str, scan: str) -> float:
    value = attrs.get(key)
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise _scan(scan, f"BIDS-PET sidecar field '{key}' is missing or not a number of seconds (got {value!r}).")
    return float(value)


def bids_suv_factor(
    attrs: dict,
    *,
    scan: str,
    weight_kg: float | None = None,
    fallback_weight_kg: float | None = None,
    default_half_life_s: float = ZR89_HALF_LIFE_S,
) -> tuple[float, dict]:
    """Factor f with SUVbw = voxel value * f for a NIfTI image with a BIDS-PET sidecar.

    Accepted fields (BIDS 1.9 PET): ``Units`` (Bq/mL, kBq/mL, MBq/mL; g/mL = already
    SUVbw), ``InjectedRadioactivity`` + ``InjectedRadioactivityUnits`` (Bq, kBq, MBq, GBq,
    mCi, uCi), ``TracerRadionuclide`` (half-life from :data:`HALF_LIFE_S`), ``TimeZero``,
    ``InjectionStart``, ``ScanStart``, ``ImageDecayCorrected``, ``ImageDecayCorrectionTime``
    (seconds relative to TimeZero; InjectionStart is negative by days for 89Zr),
    ``FrameTimesStart``/``FrameDuration`` (first frame; needed when not decay corrected),
    ``BodyWeight`` (kg). Optional dates (non-standard, for multi-day tracers): with
    ``ScanDate`` (date of TimeZero) and ``InjectionDate`` both given, an InjectionStart that
    lands on another calendar day than InjectionDate is taken as a clock-time difference
    and shifted by the whole days between the dates.
    """
    sidecar = attrs.get("_sidecar", scan)
    units = str(attrs.get("Units", "")).strip()
    info: dict = {"units": units}
    if units.lower() in ("g/ml", "suv", "suvbw"):
        info["method"] = "Units g/mL (SUVbw)"
        return 1.0, info
    if units.lower() not in _CONCENTRATION_UNITS:
        raise _scan(
            scan, f"BIDS-PET sidecar '{sidecar}' field 'Units' is {units!r}; expected Bq/mL, kBq/mL, MBq/mL or g/mL."
        )
    concentration = _CONCENTRATION_UNITS[units.lower()]
    weight, weight_source = resolve_weight(
        attrs.get("BodyWeight"), weight_kg, fallback_weight_kg, scan, "sidecar BodyWeight"
    )
    activity = attrs.get("InjectedRadioactivity")
    activity_units = str(attrs.get("InjectedRadioactivityUnits", "")).strip().lower()
    if not isinstance(activity, int | float) or activity <= 0:
        raise _scan(scan, f"BIDS-PET sidecar '{sidecar}' field 'InjectedRadioactivity' is missing or not positive.")
    if activity_units not in _ACTIVITY_UNITS:
        raise _scan(
            scan,
            f"BIDS-PET sidecar '{sidecar}' field 'InjectedRadioactivityUnits' is {attrs.get('InjectedRadioactivityUnits')!r}; "
            f"expected one of {sorted(_ACTIVITY_UNITS)}.",
        )
    dose = float(activity) * _ACTIVITY_UNITS[activity_units]
    key = nuclide_key(attrs.get("TracerRadionuclide"))
    if key is None:
        log.warning("PET scan %s: no TracerRadionuclide; using the configured half-life", scan)
        half_life = default_half_life_s
    elif key in HALF_LIFE_S:
        half_life = HALF_LIFE_S[key]
    else:
        raise _scan(scan, f"BIDS-PET sidecar '{sidecar}': unknown TracerRadionuclide {attrs['TracerRadionuclide']!r}.")
    injection = _seconds(attrs, "InjectionStart", scan)
    scan_date, injection_date = attrs.get("ScanDate"), attrs.get("InjectionDate")
    if scan_date and injection_date and attrs.get("TimeZero"):
        try:
            zero = dt.datetime.fromisoformat(f"{scan_date}T{attrs['TimeZero']}")
            wanted = dt.date.fromisoformat(str(injection_date))
        except ValueError as error:
            raise _scan(
                scan, f"BIDS-PET sidecar '{sidecar}': ScanDate/InjectionDate/TimeZero unreadable ({error})."
            ) from error
        landed = (zero + dt.timedelta(seconds=injection)).date()
        if landed != wanted:
            shift = (wanted - landed).days * 86400.0
            log.warning("PET scan %s: InjectionStart shifted by %+.0f s to fall on InjectionDate", scan, shift)
            injection += shift
    corrected = attrs.get("ImageDecayCorrected")
    if not isinstance(corrected, bool):
        raise _scan(scan, f"BIDS-PET sidecar '{sidecar}' field 'ImageDecayCorrected' is missing (expected true/false).")
    info.update(weight_kg=weight, weight_source=weight_source, injected_bq=dose, half_life_s=half_life)
    info["radionuclide"] = key if key in HALF_LIFE_S else nuclide_from_half_life(half_life)
    if corrected:
        reference = _seconds(attrs, "ImageDecayCorrectionTime", scan)
        elapsed = reference - injection
        if elapsed < 0:
            raise _scan(scan, f"BIDS-PET sidecar '{sidecar}': InjectionStart is after ImageDecayCorrectionTime.")
        info.update(method="BIDS-PET, decay corrected", reference="ImageDecayCorrectionTime", uptake_s=elapsed)
        factor = concentration * body_weight_suv_factor(dose, weight, elapsed, half_life)
    else:
        start = (
            _seconds(attrs, "FrameTimesStart", scan)
            if "FrameTimesStart" in attrs
            else _seconds(attrs, "ScanStart", scan)
        )
        duration = _seconds(attrs, "FrameDuration", scan)
        lam = decay_constant(half_life)
        x = lam * duration
        elapsed = start - injection
        if elapsed < 0:
            raise _scan(scan, f"BIDS-PET sidecar '{sidecar}': InjectionStart is after the frame start.")
        within_frame = x / -math.expm1(-x) if x > 0 else 1.0
        factor = concentration * within_frame * math.exp(lam * elapsed) * weight * 1000.0 / dose
        info.update(method="BIDS-PET, not decay corrected", reference="frame", uptake_s=elapsed)
    return factor, info


# --- plausibility of the uptake time ---------------------------------------------------------


def nuclide_from_half_life(half_life_s: float | None) -> str | None:
    """The radionuclide of :data:`HALF_LIFE_S` whose half-life is within 1 % of ``half_life_s``."""
    if half_life_s is None or not np.isfinite(half_life_s):
        return None
    for key, value in HALF_LIFE_S.items():
        if abs(half_life_s - value) <= 0.01 * value:
            return key
    return None


def _likely_uptake_cause(info: dict, low: bool) -> str:
    """Why an uptake time may lie outside its window, from how the injection time was found."""
    injection, reference = info.get("injection_datetime"), info.get("reference_datetime")
    how = str(info.get("injection") or "")
    if not low:
        return "an injection date too early (a previous injection?) or a wrong scan date"
    if str(info.get("method", "")).startswith("BIDS"):
        return (
            "InjectionStart written as a same-day clock difference rather than seconds before TimeZero "
            "(days missing; give ScanDate and InjectionDate)"
        )
    if "on the scan day" in how:
        return "the injection date is missing: only RadiopharmaceuticalStartTime is given and the scan day was assumed"
    if injection is not None and reference is not None and injection.date() == reference.date():
        return (
            f"the injection date equals the scan date ({reference.date()}; {how}): a console that stores the scan "
            "date with a typed clock time? Correct the header or give the scans table's injection_date"
        )
    return "a wrong injection date or time"


# A scan whose scans-table row states days_post_injection (a dose-finding series imaged
# on day 0, 2, 4, 7) is checked against that day, +- this many days, instead.
DECLARED_DAY_TOLERANCE_DAYS = 0.75
# Long-lived nuclides without a configured window: an uptake under this many hours means
# the days were lost (the BIDS path's earlier rule, now on both paths).
LONG_LIVED_MIN_UPTAKE_H = 12.0


def uptake_window_hours(
    nuclide: str | None,
    half_life_s: float | None,
    windows_h: dict[str, tuple[float, float]],
    days_post_injection: float | None = None,
) -> tuple[float, float] | None:
    """The (earliest, latest) uptake in hours a scan is checked against, or None (not checked).

    A declared ``days_post_injection`` d gives d +- :data:`DECLARED_DAY_TOLERANCE_DAYS`;
    else the radionuclide's configured window; else, for a half-life over 12 h, at least
    :data:`LONG_LIVED_MIN_UPTAKE_H` hours.
    """
    if days_post_injection is not None and np.isfinite(days_post_injection):
        tolerance = DECLARED_DAY_TOLERANCE_DAYS
        return max(0.0, days_post_injection - tolerance) * 24.0, (days_post_injection + tolerance) * 24.0
    if nuclide and nuclide in windows_h:
        earliest, latest = windows_h[nuclide]
        return float(earliest), float(latest)
    if half_life_s is not None and half_life_s > 12 * 3600.0:
        return LONG_LIVED_MIN_UPTAKE_H, math.inf
    return None


def check_uptake_time(
    scan: str, info: dict, windows_h: dict[str, tuple[float, float]], days_post_injection: float | None = None
) -> bool | None:
    """Whether a scan's uptake time lies in its expected window (None: not checked).

    ``info`` is the provenance of :func:`dicom_suv_factors` or :func:`bids_suv_factor`
    (``radionuclide``, ``half_life_s``, ``uptake_s``); ``windows_h`` maps a radionuclide
    key (``Zr89``, ``F18``) to ``(earliest, latest)`` hours after injection
    (:func:`uptake_window_hours`). Images corrected to the injection time (DecayCorrection
    ADMIN) and images already in SUV carry no uptake time and are not checked. Outside the
    window is a warning naming the scan, the uptake found and the likely cause; the caller
    flags the scan's lesions.
    """
    nuclide, uptake_s = info.get("radionuclide"), info.get("uptake_s")
    if uptake_s is None or str(info.get("reference", "")).startswith("injection"):
        return None
    window = uptake_window_hours(nuclide, info.get("half_life_s"), windows_h, days_post_injection)
    if window is None:
        return None
    earliest, latest = window
    hours = float(uptake_s) / 3600.0
    if earliest <= hours <= latest:
        return True
    if days_post_injection is not None and np.isfinite(days_post_injection):
        expected = f"{earliest:g}-{latest:g} h after injection, from the scans table's days_post_injection"
    elif nuclide in windows_h:
        expected = f"{earliest:g}-{latest:g} h after injection for {nuclide}, config pet.uptake_window_hours"
    else:
        expected = f"at least {earliest:g} h for a {info['half_life_s'] / 3600:.1f} h half-life"
    log.warning(
        "PET scan %s: uptake time %.2f h (%.2f days) from injection to the reference time is outside the expected "
        "window (%s); likely cause: %s. SUV is computed with this uptake; the scan's lesions are flagged "
        "uptake_outside_window.",
        scan,
        hours,
        hours / 24,
        expected,
        _likely_uptake_cause(info, hours < earliest),
    )
    return False


# --- lean body mass ---------------------------------------------------------------------------


def _height_cm(value) -> float | None:
    """A height in m (DICOM PatientSize) or cm, as cm; None when missing or 0."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(value) or value <= 0:
        return None
    return value * 100.0 if value < 3 else value


def _sex(value) -> str | None:
    text = str(value).strip().upper() if value is not None and not pd.isna(value) else ""
    return {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F"}.get(text)


def lean_body_mass_factor(
    attrs: dict,
    info: dict,
    *,
    scan: str,
    clinical_height_cm: float | None = None,
    clinical_sex: str | None = None,
    formula: str = "janmahasatian",
) -> tuple[float | None, dict]:
    """Factor LBM / W turning SUVbw into SUL, and its provenance; None with one warning when undefined.

    Height and sex come from the image (DICOM PatientSize in m and PatientSex; a BIDS
    sidecar's PatientSize/PatientSex as dcm2niix writes them), else from the clinical
    table (``height_cm``, ``sex``); W is the weight SUVbw was computed with
    (``info['weight_kg']``). Sex other than M/F (DICOM ``O``) leaves SUL undefined: both
    formulas are sex-specific. Heights outside 100-250 cm are taken as wrong and ignored.
    """
    weight = info.get("weight_kg")
    height, height_source = _height_cm(attrs.get("PatientSize")), "PatientSize"
    if height is None or not 100 <= height <= 250:
        height, height_source = _height_cm(clinical_height_cm), "clinical height_cm"
    sex, sex_source = _sex(attrs.get("PatientSex")), "PatientSex"
    if sex is None:
        sex, sex_source = _sex(clinical_sex), "clinical sex"
    missing = []
    if weight is None:
        missing.append("body weight")
    if height is None or not 100 <= height <= 250:
        found = attrs.get("PatientSize")
        clinical = None if clinical_height_cm is None or pd.isna(clinical_height_cm) else clinical_height_cm
        missing.append(
            f"height (PatientSize {'missing' if found in (None, '') else found!r}, clinical height_cm "
            f"{'missing' if clinical is None else repr(clinical)}; 100-250 cm expected)"
        )
    if sex is None:
        clinical = None if clinical_sex is None or pd.isna(clinical_sex) else clinical_sex
        missing.append(
            f"sex M or F (PatientSex {attrs.get('PatientSex') or 'missing'!r}, clinical sex "
            f"{'missing' if clinical is None else repr(clinical)})"
        )
    out = {"lbm_formula": formula}
    if missing:
        log.warning("PET scan %s: SUL (lean body mass SUV) left empty, missing %s.", scan, "; ".join(missing))
        return None, out
    lbm = lean_body_mass_kg(weight, height, sex, formula)
    out.update(height_cm=height, height_source=height_source, sex=sex, sex_source=sex_source, lbm_kg=lbm)
    return lbm / weight, out
