"""Raw-input checks of NanoString RCC files, sample sheet and RLF (rule ``validate_inputs``).

Sample-sheet rows naming an RCC file that does not exist and RCC files present but not
in the sheet are both errors (the nanostring stage refuses them too: an unlisted file
is either a forgotten sheet row or a stray file from another study, and guessing would
silently change the sample set). Called through :data:`contexture.modalities.MODALITIES`
by :func:`contexture.inputs.validate_cohort_inputs`.

Every RCC file is parsed here once: when all of them pass, the merged set (under the
files' paths) is left in ``found.parsed["nanostring"]`` for rule ``validate_inputs`` to
write, and the nanostring stage reads that instead of the raw files
(:func:`contexture.io.rcc.write_rcc_set`).
"""

from __future__ import annotations

import hashlib
from collections import Counter

from contexture.errors import InputError
from contexture.inputs import Collector
from contexture.io.rcc import (
    RccMerger,
    find_rcc_files,
    parse_rcc_bytes,
    plexset_classes,
    read_rcc_bytes,
    read_rlf_name,
    split_plexset,
)
from contexture.nanostring.normalization import match_sample_sheet


def check_nanostring_inputs(section: dict, found: Collector) -> None:
    """RCC files, sample sheet and RLF of a cohort's ``nanostring`` section.

    Every RCC file parses and is within ``limits.rcc_mb``; the sample sheet passes its
    schema and names exactly the RCC files present (a PlexSet lane's rows by its
    ``plexset_row``); the files share one CodeSet (``GeneRLF``) and one probe set; PlexSet
    lanes carry all eight rows and are not mixed with single-sample lanes; no two files are one lane
    (CartridgeID + lane ID) or copies (identical counts); the RLF, when given, names that
    CodeSet (its ``Name=``, or its file stem for RLFs without one).
    """
    problems_before = len(found.problems)
    merger, merge_error = RccMerger(), None
    reference = reference_keys = reference_set = None
    try:
        files = find_rcc_files(section["rcc"])
    except InputError as error:
        found.add(f"nanostring.rcc: {error}")
        return
    sheet, clean = None, False
    if "samples" in section:
        sheet, clean = found.table(
            section["samples"], "tables/nanostring_samples", "NanoString sample sheet", "nanostring"
        )
    plexset: list[str] = []  # PlexSet lanes (eight samples each); the rest are single-sample lanes
    single: list[str] = []
    codesets: dict[str, list[str]] = {}
    probe_sets: dict[int, list[str]] = {}
    lanes: dict[tuple[str, str], str] = {}
    copies: dict[tuple, str] = {}
    for path in files:
        found.record(path, "nanostring", "RCC file")
        if found.too_big(path, "rcc_mb", "RCC file"):
            continue
        try:
            raw = read_rcc_bytes(path)
            rcc = parse_rcc_bytes(raw, str(path))
        except InputError as error:
            found.add(str(error))
            continue
        found.record(path, "nanostring", "RCC file", len(rcc.counts), sha256=hashlib.sha256(raw).hexdigest())
        # Files laid out as the first one (the rule: one CodeSet, one export) share its
        # probe keys, so their set and hash are computed once.
        if reference is not None and rcc.same_probe_layout(reference):
            keys, key_set, layout = reference_keys, reference_set, 0
        else:
            keys = rcc.keys
            key_set = frozenset(keys)
            if reference is None:
                reference, reference_keys, reference_set = rcc, keys, key_set
            # Copies are files with the same probe keys in the same order and the same counts.
            layout = 0 if keys == reference_keys else tuple(keys)
        repeated = [key for key, n in Counter(keys).items() if n > 1] if len(key_set) != len(keys) else []
        if repeated:
            found.add(
                f"RCC file '{path}', <Code_Summary>: probe key (CodeClass, Name, Accession) repeated: {repeated[:5]}; "
                "expected each probe once"
            )
        if plexset_classes(rcc):
            try:
                split_plexset(rcc)  # all eight rows, one probe set: else named here, per file
            except InputError as error:
                found.add(str(error))
            plexset.append(str(path))
        else:
            single.append(str(path))
        lane = (rcc.attributes.get("cartridge_id", ""), rcc.attributes.get("lane_id", ""))
        if all(lane) and lanes.setdefault(lane, str(path)) != str(path):
            found.add(
                f"RCC file '{path}', <Lane_Attributes>: CartridgeID {lane[0]!r} lane {lane[1]} is also the lane of "
                f"'{lanes[lane]}'; one lane is one sample: remove the duplicate file"
            )
        copy = (layout, rcc.counts.tobytes())
        if rcc.counts.any() and copies.setdefault(copy, str(path)) != str(path):
            found.add(
                f"RCC file '{path}', <Code_Summary>: identical counts for every probe to '{copies[copy]}'; one is a "
                "copy of the other: remove the copy"
            )
        codesets.setdefault(rcc.attributes["gene_rlf"], []).append(str(path))
        probe_sets.setdefault(hash(key_set), []).append(str(path))
        if merge_error is None:
            try:
                merger.add(rcc)
            except InputError as error:  # the checks above name the same problem
                merge_error = str(error)
    if clean:
        with found.capture():
            match_sample_sheet([str(f) for f in files], sheet, str(section["samples"]), plexset)
    if plexset and single:
        found.add(
            f"RCC files mix PlexSet lanes ({len(plexset)}, e.g. '{plexset[0]}': eight samples, rows A-H) and "
            f"single-sample lanes ({len(single)}, e.g. '{single[0]}') in one CodeSet; they are different assays "
            "(other controls, other normalization): analyse each as its own cohort"
        )
    if len(codesets) > 1:
        usual = max(codesets, key=lambda name: len(codesets[name]))
        for name, paths in sorted(codesets.items()):
            if name != usual:
                for path in paths:
                    found.add(
                        f"RCC file '{path}', <Sample_Attributes> GeneRLF: got {name!r}; expected the CodeSet of the "
                        f"other {len(codesets[usual])} file(s), {usual!r} (e.g. '{codesets[usual][0]}'). Probes of "
                        "different CodeSets cannot be merged: analyse each CodeSet as its own cohort"
                    )
    elif len(probe_sets) > 1 and not (plexset and single):
        usual = max(probe_sets, key=lambda key: len(probe_sets[key]))
        for key, paths in probe_sets.items():
            if key != usual:
                for path in paths:
                    found.add(
                        f"RCC file '{path}', <Code_Summary>: its probes (CodeClass, Name, Accession) differ from those "
                        f"of the other file(s) of CodeSet {next(iter(codesets))!r} (e.g. '{probe_sets[usual][0]}')"
                    )
    if "rlf" in section and codesets:
        with found.capture():
            found.record(section["rlf"], "nanostring", "RLF file")
            name = read_rlf_name(section["rlf"])
            if sorted(codesets) != [name]:
                found.add(
                    f"RLF file '{section['rlf']}', Name: got {name!r}; the RCC files' GeneRLF is {sorted(codesets)}: "
                    "the RLF and the RCC files must belong to one CodeSet"
                )
    if len(found.problems) == problems_before:
        if merge_error is not None:  # a refusal of the merge no check above names
            found.add(merge_error)
        else:
            found.parsed["nanostring"] = merger.finish(list(merger.paths))


def check_nanostring_runs(section: dict, found: Collector) -> None:
    """Every run of a cohort's ``nanostring`` section (:mod:`contexture.nanostring.runs`), then across runs.

    Each run is checked alone by :func:`check_nanostring_inputs` (its files, sheet and RLF:
    one CodeSet per run), its problems prefixed with ``nanostring.runs.<i> (<name>)`` when
    the section lists runs. Across runs: an RCC file in two runs, and a sample ID in two
    runs (from the sheets, or the file names without one), are refused naming both runs'
    sheets or folders; a patient and timepoint in two runs is allowed. When every run is
    clean, ``found.parsed["nanostring"]`` is ``{run name: merged set}`` in run order.
    """
    from contexture.errors import ConfigError
    from contexture.nanostring.runs import nanostring_runs

    try:
        runs = nanostring_runs(section)
    except ConfigError as error:
        found.add(str(error))
        return
    several = "runs" in section
    problems_before = len(found.problems)
    sets = {}
    for position, run in enumerate(runs):
        before = len(found.problems)
        found.parsed.pop("nanostring", None)
        check_nanostring_inputs(run, found)
        if several:
            found.problems[before:] = [
                f"nanostring.runs.{position} ({run['name']}): {problem}" for problem in found.problems[before:]
            ]
        if "nanostring" in found.parsed:
            sets[run["name"]] = found.parsed.pop("nanostring")
    if several:
        _check_across_runs(runs, found)
    if len(found.problems) == problems_before and len(sets) == len(runs):
        found.parsed["nanostring"] = sets


def _run_sample_ids(run: dict) -> tuple[list, dict[str, int]] | None:
    """(RCC files, {sample ID: first sheet row}) of one run; None when its files or sheet do not read
    (the run's own check reports why)."""
    from pathlib import Path

    from contexture.io import read_input_table
    from contexture.io.rcc import rcc_stem
    from contexture.io.validation import load_schema, validate_frame

    try:
        files = find_rcc_files(run["rcc"])
    except InputError:
        return None
    if "samples" not in run:
        return files, {rcc_stem(Path(f).name): 0 for f in files}
    try:
        sheet, problems = validate_frame(
            read_input_table(run["samples"]), load_schema("tables/nanostring_samples"), str(run["samples"])
        )
    except InputError:
        return None
    if problems:
        return None
    ids: dict[str, int] = {}
    for row, sample in enumerate(sheet["sample_id"].astype(str), start=1):
        ids.setdefault(sample, row)
    return files, ids


def _check_across_runs(runs: list[dict], found: Collector) -> None:
    """A file or a sample ID in two runs is refused, naming both runs (:func:`check_nanostring_runs`)."""
    seen_files: dict[str, str] = {}
    seen_ids: dict[str, tuple[str, str]] = {}
    for position, run in enumerate(runs):
        read = _run_sample_ids(run)
        if read is None:
            continue
        files, ids = read
        where = f"nanostring.runs.{position} ({run['name']})"
        for path in files:
            key = str(path.resolve())
            if key in seen_files:
                found.add(
                    f"RCC file '{path}' is in {where} and in {seen_files[key]}: a lane belongs to one run; remove it "
                    "from one of the runs' folders"
                )
            else:
                seen_files[key] = where
        source = f"sample sheet '{run['samples']}'" if "samples" in run else f"RCC folder '{run['rcc']}' (file names)"
        for sample, row in ids.items():
            if sample in seen_ids:
                other_where, other_source = seen_ids[sample]
                found.add(
                    f"{source}{f', row {row}' if row else ''}, column 'sample_id': {sample!r} of {where} is also a "
                    f"sample of {other_where} ({other_source}); expected each sample ID in one run only (the same "
                    "patient and timepoint in two runs is fine under two sample IDs)"
                )
            else:
                seen_ids[sample] = (where, source)


__all__ = [
    "check_nanostring_inputs",
    "check_nanostring_runs",
]
