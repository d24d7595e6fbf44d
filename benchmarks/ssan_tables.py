"""SSAN-style tables on the shared eval benchmark: aligners (table 1) and keyframes (table 2).

    .venv/bin/python benchmarks/ssan_tables.py [--bench bench-out/eval-s1] [--tables 1,2] [--json OUT]

The benchmark is the one of benchmarks/recipe.md (``vidtrace bench make
--seed 1`` on the "eval" families; built here when ``--bench`` is missing).
Nothing of it was seen in training: SPD and SKE train on the "train"
families only (:mod:`vidtrace.train.mapdata`, seed 1729).

Table 1 (SSAN table 1): the references indexed as the engine does (PDQ, 2 fps
uniform, default LibraryConfig); every query is described once (8 fps, query
variants) and searched once; the kNN hits give one sparse map per shortlisted
(reference, mirrored or not) pair, exactly as ``search_extracted`` builds
them. Every aligner then runs on those same maps; its segments are merged per
pair (``merge_segments``) and all of them are kept with their scores (no
``min_score`` cut, so the AP curves run to full recall). Columns: segment
µAP, pair µAP, best VCSL F1, mean alignment time per map.

Table 2 (SSAN table 2): the references' 8 fps basis frames are described once;
each row stores a subset of them in a fresh library -- uniform sampling at
8/4/2/1 fps, the SKE teacher (PDQ rule), the SKE student at two thresholds,
and SSAN (jointly trained student + SPD) -- and the queries are searched
again and aligned with SPD (and TN for reference). After every keyframe row
comes uniform sampling at the rate (found by bisection) that stores at most
as many frames, aligned with the same SPD. Compression ratio = stored /
basis frames; stored fps = stored frames / reference seconds.

``--tables errors`` adds an error analysis of table 1's aligners: false
positive rows by the reference's capture setup, and an oracle that removes
the non-copy pairs of look-alike references (same room / camera).

``--keep DIR`` pickles the described queries, references and the table-1
maps there, so that a second run (other weights) skips decoding.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_BENCH = REPO / "bench-out" / "eval-s1"
SHARED = REPO.parent / "shared" / "data" / "videos"
WEIGHTS = REPO / "vidtrace" / "models" / "weights"
SKE_DEFAULT = WEIGHTS / "ske.onnx"


def ensure_bench(bench: Path) -> Path:
    if (bench / "ground_truth.csv").is_file():
        return bench
    from vidtrace.bench.make import make_benchmark

    print(f"building the benchmark in {bench} (seed 1) ...", flush=True)
    make_benchmark(SHARED, bench, seed=1)
    return bench


def read_refs(bench: Path) -> list[Path]:
    out = []
    for line in (bench / "refs.txt").read_text().splitlines():
        if line.strip():
            p = Path(line.strip())
            out.append(p if p.is_absolute() else bench / p)
    return out


def query_files(bench: Path) -> list[Path]:
    return sorted((bench / "queries").glob("*.mp4"))


def run_aligner(aligner, maps, suppress: float = 1.0) -> tuple[list, float]:
    """Prediction rows of ``aligner`` on the maps and its mean seconds per map;
    suppress < 1: cross-reference suppression per query (vidtrace.scoring)."""
    from vidtrace.scoring import merge_segments, suppress_across_references
    from vidtrace.types import MatchRow

    per_pair: dict[tuple[str, str], list] = {}
    spent = 0.0
    for qid, rid, smap in maps:
        t0 = time.perf_counter()
        segs = aligner.align(smap)
        spent += time.perf_counter() - t0
        if smap.flipped:
            segs = [replace(s, flipped=True) for s in segs]
        per_pair.setdefault((qid, rid), []).extend(segs)
    per_query: dict[str, list] = {}
    for (qid, rid), segs in per_pair.items():
        per_query.setdefault(qid, []).extend((rid, s) for s in merge_segments(segs))
    rows = []
    for qid, pairs in per_query.items():
        for (rid, _), s in zip(pairs, suppress_across_references(pairs, suppress)):
            rows.append(MatchRow(qid, rid, s.query_start, s.query_end, s.reference_start, s.reference_end, s.score))
    return rows, spent / max(1, len(maps))


def scores(gt, rows) -> dict:
    from vidtrace.eval.report import evaluate

    r = evaluate(gt, rows)
    return {k: round(float(r[k]), 4) for k in ("segment_uap", "pair_uap", "vcsl_best_f1")}


def build_aligner(name: str, spd_model: str | None = None):
    import vidtrace.align.spd  # noqa: F401  (registers "spd")
    from vidtrace.align import get_aligner

    if name.startswith("spd"):
        return get_aligner("spd", model=spd_model) if spd_model else get_aligner("spd")
    return get_aligner(name)


# --------------------------------------------------------------------------- table 1


def cached(path: Path | None, make):
    """make(), pickled at ``path`` when given (a benchmark-only cache of
    extracted queries and maps; delete the folder to recompute)."""
    import pickle

    if path is not None and path.is_file():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    value = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            pickle.dump(value, fh)
    return value


def table1(bench: Path, gt, work: Path, aligners: list[str], keep: Path | None = None,
           suppress: float = 1.0, spd_model: str | None = None) -> tuple[list[dict], dict]:
    from vidtrace.library import Library, LibraryConfig
    from vidtrace.search import SearchParams
    from vidtrace.train.mapdata import extract_queries, search_maps

    params = SearchParams()
    config = LibraryConfig()
    queries = cached(keep and keep / "queries.pkl",
                     lambda: extract_queries(query_files(bench), config, params))

    def make_maps():
        lib = Library.create(work / "lib-2fps", config)
        lib.index_files([str(p) for p in read_refs(bench)])
        lib.save_index()
        lib.close()
        with Library.open(work / "lib-2fps") as lib:
            return search_maps(lib, queries, params)

    maps = cached(keep and keep / "maps-2fps.pkl", make_maps)
    rows = []
    for name in aligners:
        preds, spent = run_aligner(build_aligner(name, spd_model), maps)
        rows.append({"aligner": name, **scores(gt, preds), "ms_per_pair": round(1000 * spent, 2)})
        print(f"  {name}: {rows[-1]}", flush=True)
        if suppress < 1.0:
            preds, _ = run_aligner(build_aligner(name, spd_model), maps, suppress)
            rows.append({"aligner": f"{name} + cross-reference suppression x{suppress:g}", **scores(gt, preds),
                         "ms_per_pair": round(1000 * spent, 2)})
            print(f"  {rows[-1]}", flush=True)
    return rows, {"maps": len(maps), "queries": len(queries), "queries_obj": queries, "maps_obj": maps}


def error_analysis(bench: Path, gt, maps, aligners: list[str], spd_model: str | None = None) -> list[dict]:
    """Where the false positives come from: prediction rows that overlap no
    true box of their pair, by the reference's capture setup ("group" in the
    manifest: resolution@fps; the ASL clips share one room, 640x480@30), and
    each aligner's scores with the non-copy pairs of look-alike references
    (groups of 3 or more references) removed -- an oracle bound on what
    separating look-alikes would give."""
    man = json.loads((bench / "manifest.json").read_text())
    group = {r["id"]: r["group"] for r in man["references"]}
    sizes: dict[str, int] = {}
    for g in group.values():
        sizes[g] = sizes.get(g, 0) + 1
    lookalike = {r for r, g in group.items() if sizes[g] >= 3}
    boxes: dict = {}
    for g in gt:
        boxes.setdefault((g.query_id, g.ref_id), []).append(g)

    def hits(r) -> bool:
        return any(min(r.query_end, g.query_end) > max(r.query_start, g.query_start)
                   and min(r.ref_end, g.ref_end) > max(r.ref_start, g.ref_start)
                   for g in boxes.get((r.query_id, r.ref_id), []))

    supported = 0  # true segments with two or more kNN hits inside their box on some map of their pair
    for g in gt:
        best = 0
        for qid, rid, smap in maps:
            if (qid, rid) != (g.query_id, g.ref_id):
                continue
            qt, rt = smap.query_times[smap.qi], smap.ref_times[smap.ri]
            best = max(best, int(np.sum((qt >= g.query_start) & (qt <= g.query_end)
                                        & (rt >= g.ref_start) & (rt <= g.ref_end))))
        supported += best >= 2
    print(f"  true segments with >= 2 hits inside their box: {supported} of {len(gt)} "
          f"(a recall ceiling of {supported / len(gt):.3f} for any aligner on these maps)", flush=True)
    out = []
    for name in aligners:
        rows, _ = run_aligner(build_aligner(name, spd_model), maps)
        false = [r for r in rows if not hits(r)]
        look = [r for r in false if r.ref_id in lookalike]
        oracle = [r for r in rows if not (r.ref_id in lookalike and (r.query_id, r.ref_id) not in boxes)]
        out.append({"aligner": name, "rows": len(rows), "false_rows": len(false), "lookalike_false_rows": len(look),
                    "false_score_mass": round(sum(r.score for r in false), 2),
                    "lookalike_score_mass": round(sum(r.score for r in look), 2),
                    **{f"oracle_{k}": v for k, v in scores(gt, oracle).items()}})
        print(f"  {out[-1]}", flush=True)
    return out


# --------------------------------------------------------------------------- table 2


def describe_refs(refs: list[Path], config, basis_fps: float, thumb_size: int):
    """Per reference: (ExtractedVideo at the basis rate with index variants, thumbnails uint8 [N, s, s])."""
    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.keyframes import make_thumbs
    from vidtrace.pipeline import extract_video

    ext = config.extractor()
    opts = DecodeOptions(fps=basis_fps, max_size=config.max_size)
    out = []
    for p in refs:
        ev = extract_video(p, ext, opts, variants=config.index_variants)
        th = make_thumbs([f.rgb for f in iter_frames(p, opts)], thumb_size)
        out.append((p, ev, th))
    return out


def subset_library(root: Path, described, masks, config):
    """A library storing, of each reference's basis frames, those of its mask."""
    import hashlib

    from vidtrace.library import Library
    from vidtrace.types import FrameFeatures

    lib = Library.create(root, config)
    for (path, ev, _), keep in zip(described, masks):
        f = ev.features
        idx = np.flatnonzero(keep)
        feats = FrameFeatures(f.name, f.kind, f.timestamps[idx], f.quality[idx], f.descriptors[idx])
        var = {k: v[idx] for k, v in ev.variants.items()}
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        lib.add_video(str(path), sha, Path(path).stat().st_size, ev.info, feats, var)
    lib.save_index()
    lib.close()
    return Library.open(root)


def table2(bench: Path, gt, work: Path, queries, spd_models: dict, ske_models: dict,
           keep: Path | None = None) -> list[dict]:
    from vidtrace.keyframes import SKESelector, teacher_keyframes, fill_intervals
    from vidtrace.library import LibraryConfig
    from vidtrace.search import SearchParams
    from vidtrace.train.mapdata import sample_times, search_maps

    params = SearchParams()
    config = LibraryConfig(fps=8.0)
    refs = read_refs(bench)
    meta = json.loads(Path(next(iter(ske_models.values()))[0]).with_suffix(".json").read_text())
    described = cached(keep and keep / "refs-basis.pkl",
                       lambda: describe_refs(refs, config, float(meta["basis_fps"]), int(meta["thumb_size"])))
    duration = sum(ev.info.duration for _, ev, _ in described)
    basis = sum(len(ev.features) for _, ev, _ in described)
    tcfg = meta["teacher"]

    def teacher(ev):
        f = ev.features
        good = f.quality >= tcfg["min_quality"]
        k = teacher_keyframes(f.descriptors, f.quality, f.timestamps, min_distance=tcfg["min_distance"],
                              min_gap=tcfg["min_gap"], max_gap=tcfg["max_gap"], min_quality=tcfg["min_quality"])
        return fill_intervals(k, np.zeros(k.size), tcfg["interval"], good)

    def uniform(fps):
        def rule(ev):
            k = np.zeros(len(ev.features), bool)
            k[sample_times(ev.features.timestamps, fps)] = True
            return k
        return rule

    def student(model, threshold=None):
        sel = SKESelector(model=model, threshold=threshold)

        def rule(ev, th):
            return sel.select_scores(sel.scores(th), ev.features.quality)
        return rule

    model_of_student = ske_models.get("SKE student", (None,))[0] or ""
    rows_spec = [("uniform 8 fps", uniform(8.0), "spd"), ("uniform 4 fps", uniform(4.0), "spd"),
                 ("uniform 2 fps", uniform(2.0), "spd"), ("uniform 1 fps", uniform(1.0), "spd"),
                 ("SKE teacher (PDQ rule)", teacher, "spd")]
    for label, (model, thr) in ske_models.items():
        rows_spec.append((label, student(model, thr), "spd" if "SSAN" not in label else "spd_ssan"))
    out = []

    def row_of(label: str, lib, stored: int, spd_key: str) -> dict:
        """One table row: the queries searched in ``lib`` (``stored`` frames), aligned by SPD and TN."""
        maps = search_maps(lib, queries, params)
        row = {"method": label, "compression": round(stored / basis, 4), "stored_fps": round(stored / duration, 3)}
        for name in ("spd", "tn"):
            al = build_aligner(name, spd_models.get(spd_key) if name == "spd" else None)
            preds, spent = run_aligner(al, maps)
            row.update({f"{name}_{k}": v for k, v in scores(gt, preds).items()})
            row[f"{name}_ms_per_pair"] = round(1000 * spent, 2)
        print(f"  {row}", flush=True)
        return row

    def run_row(i: int, label: str, rule, spd_key: str) -> dict:
        masks = [rule(ev, th) if rule.__code__.co_argcount == 2 else rule(ev) for _, ev, th in described]
        with subset_library(work / f"lib-t2-{i}", described, masks, config) as lib:
            return row_of(label, lib, int(sum(m.sum() for m in masks)), spd_key)

    def library_row() -> dict:
        """The shipped student as the library runs it at index time (vidtrace index --keyframes ske --fps 8)."""
        from vidtrace.library import Library

        root = work / "lib-t2-ske-index"
        with Library.open(root, writable=True, create=True, config=replace(config, keyframes={"name": "ske"})) as lib:
            lib.index_files([str(p) for p in refs], workers=1)
        with Library.open(root) as lib:
            stored = sum(v.n_frames for v in lib.videos())
            return row_of("SKE student at index time (--keyframes ske)", lib, stored, "spd")

    for i, (label, rule, spd_key) in enumerate(rows_spec):
        out.append(run_row(i, label, rule, spd_key))
        if "SKE" in label or "SSAN" in label:  # uniform sampling storing at most as many frames
            target = out[-1]["compression"] * basis
            lo, hi = 0.1, 8.0
            for _ in range(30):  # bisection on the sampling rate
                mid = 0.5 * (lo + hi)
                n = sum(int(uniform(mid)(ev).sum()) for _, ev, _ in described)
                lo, hi = (mid, hi) if n <= target else (lo, mid)
            out.append(run_row(100 + i, f"uniform {lo:.2f} fps (frames of the row above)", uniform(lo), spd_key))
        if label == "SKE student" and Path(model_of_student).resolve() == SKE_DEFAULT.resolve():
            out.append(library_row())
    return out


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    from vidtrace.types import read_match_csv

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--tables", default="1,2", help="comma separated: 1, 2, errors")
    ap.add_argument("--aligners", default="tn,hv,dp,dtw,spd")
    ap.add_argument("--spd", default=None, help="SPD ONNX (default: the shipped one)")
    ap.add_argument("--spd-ssan", default=str(WEIGHTS / "spd_ssan.onnx"))
    ap.add_argument("--ske", default=str(WEIGHTS / "ske.onnx"))
    ap.add_argument("--ske-ssan", default=str(WEIGHTS / "ske_ssan.onnx"))
    ap.add_argument("--ske-thresholds", default="", help="extra student thresholds, comma separated")
    ap.add_argument("--suppress", type=float, default=1.0,
                    help="table 1: also report each aligner with cross-reference suppression by this factor (< 1)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", type=Path, default=None,
                    help="folder keeping extracted queries, reference descriptors and maps between runs")
    args = ap.parse_args(argv)
    bench = ensure_bench(args.bench)
    gt = read_match_csv(bench / "ground_truth.csv")
    tables = {t.strip() for t in args.tables.split(",")}
    result: dict = {"bench": str(bench)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        print("table 1: aligners on the same index maps", flush=True)
        rows1, info = table1(bench, gt, work, [a for a in args.aligners.split(",") if a] if "1" in tables else [],
                             args.keep, args.suppress, args.spd)
        queries = info.pop("queries_obj")
        maps = info.pop("maps_obj")
        if "1" in tables:
            print(markdown(rows1))
            result["table1"] = {"rows": rows1, **info, "seconds": round(time.perf_counter() - t0, 1)}
        if "errors" in tables:
            print("errors: false positives by reference setup, and the look-alike oracle", flush=True)
            rows_e = error_analysis(bench, gt, maps, [a for a in args.aligners.split(",") if a], args.spd)
            print(markdown(rows_e))
            result["errors"] = rows_e
        if "2" in tables:
            print("table 2: keyframes (SKE) vs uniform sampling, SPD alignment", flush=True)
            ske = {"SKE student": (args.ske, None)}
            for t in [float(x) for x in args.ske_thresholds.split(",") if x]:
                ske[f"SKE student (threshold {t})"] = (args.ske, t)
            if Path(args.ske_ssan).is_file() and Path(args.spd_ssan).is_file():
                ske["SSAN (joint SKE + SPD)"] = (args.ske_ssan, None)
            rows2 = table2(bench, gt, work, queries, {"spd": args.spd, "spd_ssan": args.spd_ssan}, ske, args.keep)
            print(markdown(rows2))
            result["table2"] = {"rows": rows2}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
