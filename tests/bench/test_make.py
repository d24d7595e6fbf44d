"""bench make: planning (coverage, splits), exact ground truth, reproducibility."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.bench.conftest import SOURCE_FPS, SOURCE_SIZE, TINY_OPTIONS, TINY_SEED
from vidtrace.bench.make import (
    COPY_FAMILIES,
    CopySpec,
    Excerpt,
    MakeOptions,
    PieceSpec,
    QuerySpec,
    SourceVideo,
    TransformPick,
    coverage,
    fit_frames,
    make_benchmark,
    missing_coverage,
    plan_benchmark,
    render_query,
    scan_sources,
)
from vidtrace.errors import ConfigError
from vidtrace.transforms import STRENGTHS, family_transforms
from vidtrace.types import read_match_csv
from vidtrace.videoio import read_all_frames


def fake_videos(n: int = 24) -> list[SourceVideo]:
    """Family roots in four similar-scene groups, 2..10 s long (no files needed for planning)."""
    return [SourceVideo(f"v{i}.mp4", f"v{i}.mp4", "abcd"[i % 4], float(2 + i % 9), 640, 480, 30.0) for i in range(n)]


def pick(family: str, strength: str, name: str) -> TransformPick:
    options = family_transforms(family, strength)
    index = next(i for i, t in enumerate(options) if t.name == name)
    return TransformPick(family, strength, index, name)


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_default_plan_covers_every_transformation_at_both_strengths(seed):
    plan = plan_benchmark(fake_videos(), seed)
    assert missing_coverage(plan) == []
    have = coverage(plan)
    for family in COPY_FAMILIES:
        for strength in STRENGTHS:
            for t in family_transforms(family, strength):
                assert have[f"{family}:{t.name}"][strength] > 0, (family, t.name, strength)
    assert have["montage"]["weak"] > 0 and have["montage"]["strong"] > 0
    speeds = [p for q in plan.queries for c in q.copies() for p in c.picks if p.name == "speed"]
    factors = {family_transforms("temporal", p.strength)[p.index].factor for p in speeds}
    assert (0.5, 0.75) in factors and (1.5, 2.0) in factors  # slow and fast at strong


def test_plan_shape_and_limits():
    options = MakeOptions()
    plan = plan_benchmark(fake_videos(), 5, options)
    assert len(plan.queries) == options.queries
    kinds = [q.kind for q in plan.queries]
    assert kinds.count("negative") + kinds.count("hard_negative") == options.negatives
    assert kinds.count("hard_negative") >= 1 and kinds.count("montage") >= 2
    assert [q.id for q in plan.queries] == [f"q{k:03d}" for k in range(options.queries)]
    refs = {r.name for r in plan.references}
    assert refs.isdisjoint(v.name for v in plan.holdout)
    for q in plan.queries:
        assert options.long_side[0] <= max(q.width, q.height) <= options.long_side[1]
        assert q.width % 2 == 0 and q.height % 2 == 0
        for c in q.copies():
            assert c.excerpt.source in refs
            assert len(c.picks) <= 2 and len({p.family for p in c.picks}) == len(c.picks)
        for p in q.pieces:
            if p.filler is not None and p.filler.source is not None:
                assert p.filler.source not in refs
        if q.kind in ("negative", "hard_negative"):
            assert not q.copies()


def test_plan_is_a_function_of_the_seed():
    assert plan_benchmark(fake_videos(), 4) == plan_benchmark(fake_videos(), 4)
    assert plan_benchmark(fake_videos(), 4) != plan_benchmark(fake_videos(), 5)


def test_holdout_keeps_a_reference_in_every_group():
    plan = plan_benchmark(fake_videos(), 2)
    groups = {v.group for v in fake_videos()}
    assert {r.group for r in plan.references} == groups
    assert {v.group for v in plan.holdout} == groups  # each group of six gives two hard-negative families
    no_holdout = plan_benchmark(fake_videos(), 2, MakeOptions(holdout=0.0, negatives=4, queries=10))
    assert not no_holdout.holdout
    assert all(q.kind != "hard_negative" for q in no_holdout.queries)


def test_too_small_plans_report_what_they_miss():
    plan = plan_benchmark(fake_videos(), 0, MakeOptions(queries=3, negatives=1))
    assert missing_coverage(plan)


@pytest.mark.parametrize("bad", [{"queries": 0}, {"negatives": 60}, {"split": "test"}, {"holdout": 1.0},
                                 {"copy_seconds": (3.0, 1.0)}, {"refs": "symlink"}, {"long_side": (8, 16)}])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        MakeOptions(**bad)


def test_fit_frames_keeps_aspect_with_black_bars():
    frames = np.full((2, 40, 20, 3), 200, np.uint8)  # portrait into landscape
    out = fit_frames(frames, 40, 80)
    assert out.shape == (2, 40, 80, 3)
    assert out[:, :, :25].max() == 0 and out[:, :, 55:].max() == 0
    assert out[:, :, 35:45].min() > 150


# --------------------------------------------------------------------------- ground truth exactness


def test_ground_truth_maps_query_frames_to_the_reference_frames_they_show(tiny_sources, tmp_path):
    """Render a query with a plain copy, a reversed copy and a slowed copy at
    the sources' own size and frame rate; every copied query frame must show
    the reference frame the record names, every GT box must contain it, and
    filler frames must match no reference frame."""
    pieces = (
        PieceSpec("filler", Excerpt(None, 0.0, 1.0, seed=1)),
        PieceSpec("copy", copies=(CopySpec(Excerpt("v0.mp4", 0.52, 1.4)),)),
        PieceSpec("filler", Excerpt(None, 0.0, 0.6, seed=2)),
        PieceSpec("copy", copies=(CopySpec(Excerpt("v1.mp4", 0.2, 1.0), (pick("temporal", "weak", "reverse"),)),)),
        PieceSpec("filler", Excerpt("v3.mp4", 1.0, 0.8)),
        PieceSpec("copy", copies=(CopySpec(Excerpt("v2.mp4", 1.0, 1.2), (pick("temporal", "strong", "speed"),)),)),
        PieceSpec("filler", Excerpt(None, 0.0, 0.5, seed=3)),
    )
    spec = QuerySpec("qx", "multi", *SOURCE_SIZE, SOURCE_FPS, 11, pieces)
    ref_ids = {f"v{i}.mp4": f"v{i}" for i in range(3)}
    out = tmp_path / "qx.mp4"
    entry, rows, record = render_query(spec, tiny_sources, out, ref_ids)

    query = read_all_frames(out)
    assert len(query) == len(record.times) == entry["frames"]
    np.testing.assert_allclose(query.timestamps, np.arange(len(query)) / SOURCE_FPS, atol=1e-6)
    copy_ref = {s["copy"]: s["ref"] for s in entry["segments"]}
    assert sorted(set(copy_ref.values())) == ["v0", "v1", "v2"]
    refs = {rid: read_all_frames(tiny_sources / f"{rid}.mp4") for rid in copy_ref.values()}
    others = np.concatenate([r.frames for r in refs.values()]).astype(np.int16)

    for k in range(len(query)):
        frame = query.frames[k].astype(np.int16)
        c = int(record.source_clip[k])
        if c < 0:
            assert np.abs(others - frame).mean(axis=(1, 2, 3)).min() > 15, f"filler frame {k} looks copied"
            assert not any(r.query_start - 1e-9 <= record.times[k] < r.query_end for r in rows)
            continue
        ref = refs[copy_ref[c]]
        i = int(record.source_index[k])
        assert ref.timestamps[i] == pytest.approx(record.source_times[k], abs=1e-6)
        diffs = np.abs(ref.frames.astype(np.int16) - frame).mean(axis=(1, 2, 3))
        assert diffs[i] < 4.0 and diffs[i] <= diffs.min() + 0.5, f"query frame {k} is not reference frame {i}"
        assert any(r.ref_id == copy_ref[c] and r.query_start - 1e-9 <= record.times[k] < r.query_end
                   and r.ref_start - 1e-9 <= record.source_times[k] < r.ref_end for r in rows), k

    assert [r.ref_id for r in rows] == ["v0", "v1", "v2"]
    plain, _, slow = rows
    assert plain.query_end - plain.query_start == pytest.approx(plain.ref_end - plain.ref_start, abs=1e-9)
    assert [s["reversed"] for s in entry["segments"]] == [False, True, False]
    factor = entry["pieces"][5]["copies"][0]["record"]["children"][0]["params"]["factor"]
    assert (slow.ref_end - slow.ref_start) / (slow.query_end - slow.query_start) == pytest.approx(factor, abs=0.05)


def test_montage_ground_truth_matches_the_montage_placements(tiny_bench):
    manifest = json.loads((tiny_bench / "manifest.json").read_text())
    gt = read_match_csv(tiny_bench / "ground_truth.csv")
    montages = [q for q in manifest["queries"] if q["kind"] == "montage"]
    assert montages
    for q in montages:
        piece = q["pieces"][0]
        placements = piece["record"]["params"]["placements"]
        rows = [r for r in gt if r.query_id == q["id"]]
        assert len(rows) >= len(placements)
        for p in placements:  # every montage segment lies inside some ground-truth box of its reference
            ref = piece["copies"][p["source"]]["ref"]
            assert any(r.ref_id == ref and r.query_start <= p["output_start"] + 1e-3
                       and p["output_end"] <= r.query_end + 0.05 for r in rows), (q["id"], p)


# --------------------------------------------------------------------------- the benchmark folder


def test_bench_layout_and_negatives(tiny_bench, tiny_sources):
    manifest = json.loads((tiny_bench / "manifest.json").read_text())
    gt = read_match_csv(tiny_bench / "ground_truth.csv")
    refs = (tiny_bench / "refs.txt").read_text().split()
    assert manifest["format"] == "vidtrace-bench" and manifest["seed"] == TINY_SEED
    assert [f"references/{r['file']}" for r in manifest["references"]] == refs
    for r in manifest["references"]:  # references are the source files, byte for byte
        assert (tiny_bench / "references" / r["file"]).read_bytes() == (tiny_sources / r["file"]).read_bytes()
    ref_ids = {r["id"] for r in manifest["references"]}
    assert {r.ref_id for r in gt} <= ref_ids
    held = {h["file"] for h in manifest["holdout"]}
    assert held and held.isdisjoint(r["file"] for r in manifest["references"])
    kinds = {q["id"]: q["kind"] for q in manifest["queries"]}
    assert len(kinds) == TINY_OPTIONS.queries
    assert sorted(kinds.values()).count("hard_negative") == 1
    for qid, kind in kinds.items():
        assert (tiny_bench / "queries" / f"{qid}.mp4").is_file()
        has_rows = any(r.query_id == qid for r in gt)
        assert has_rows == (kind not in ("negative", "hard_negative")), (qid, kind)
    for q in manifest["queries"]:
        assert q["duration"] == pytest.approx(q["frames"] / q["fps"])
        for r in (r for r in gt if r.query_id == q["id"]):
            assert 0 <= r.query_start < r.query_end <= q["duration"] + 1e-3


def test_same_seed_gives_identical_files(tiny_bench, tiny_sources, tmp_path):
    again = tmp_path / "again"
    make_benchmark(tiny_sources, again, TINY_SEED, TINY_OPTIONS)
    for name in ("ground_truth.csv", "manifest.json", "refs.txt"):
        assert (again / name).read_bytes() == (tiny_bench / name).read_bytes(), name
    manifest = json.loads((tiny_bench / "manifest.json").read_text())
    for q in manifest["queries"]:
        names = {t["name"] for p in q["pieces"] for c in p.get("copies", []) for t in c["transforms"]}
        if "reencode" in names:  # x264 inside the Reencode transform is not bit-reproducible
            continue
        assert (again / q["file"]).read_bytes() == (tiny_bench / q["file"]).read_bytes(), q["id"]


def test_out_folder_must_be_new_or_empty(tiny_sources, tmp_path):
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        make_benchmark(tiny_sources, tmp_path, 1, TINY_OPTIONS)
    assert (tmp_path / "x.txt").read_text() == "keep me"


def test_refs_list_mode_writes_absolute_paths(tiny_sources, tmp_path):
    options = replace(TINY_OPTIONS, refs="list", queries=1, negatives=1)
    make_benchmark(tiny_sources, tmp_path / "b", 9, options)
    lines = (tmp_path / "b" / "refs.txt").read_text().split()
    assert lines and all(Path(p).is_absolute() and Path(p).is_file() for p in lines)
    assert not (tmp_path / "b" / "references").exists()


def test_scan_rejects_a_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        scan_sources(tmp_path / "nope", "eval")


# --------------------------------------------------------------------------- the shared corpus


@pytest.mark.shared
def test_shared_corpus_plan_uses_eval_families_only(shared_videos):
    from vidtrace.bench.sources import split_families

    videos, _ = scan_sources(shared_videos, "eval")
    plan = plan_benchmark(videos, 1)
    assert missing_coverage(plan) == []
    eval_roots = {f.root for f in split_families(shared_videos, "eval")}
    train_files = {m for f in split_families(shared_videos, "train") for m in f.members}
    assert {r.name for r in plan.references} <= eval_roots
    used = {c.excerpt.source for q in plan.queries for c in q.copies()}
    used |= {p.filler.source for q in plan.queries for p in q.pieces if p.filler is not None}
    assert used.isdisjoint(train_files)
    assert any(q.kind == "hard_negative" for q in plan.queries)
    held_families = {v.family for v in plan.holdout}
    assert held_families.isdisjoint(r.family for r in plan.references)
