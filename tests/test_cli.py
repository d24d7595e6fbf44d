"""The command line, end to end on generated videos: index, query, compare, list, remove, errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vidtrace.cli import main
from vidtrace.synth import render_video
from vidtrace.types import Clip
from vidtrace.videoio import write_video

FPS = 25.0


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Three references and queries holding known copies of them."""
    root = tmp_path_factory.mktemp("collection")
    refs = root / "refs"
    refs.mkdir()
    clips = {}
    for i in range(3):
        clip = render_video(seed=40 + i, duration_s=8.0, fps=FPS, width=192, height=144, shots=2)
        write_video(refs / f"ref{i}.mp4", clip)
        clips[i] = clip
    queries = root / "queries"
    queries.mkdir()
    filler = render_video(seed=90, duration_s=3.0, fps=FPS, width=192, height=144, shots=1).frames
    # ref1 [2, 6) s mirrored, after 3 s of unrelated footage
    part = clips[1].frames[50:150, :, ::-1]
    frames = np.concatenate([filler, part])
    write_video(queries / "mirrored.mp4", Clip(frames, np.arange(len(frames)) / FPS))
    # ref2 [1, 7) s played backwards
    part = clips[2].frames[25:175][::-1]
    write_video(queries / "reversed.mp4", Clip(part, np.arange(len(part)) / FPS))
    write_video(queries / "unrelated.mp4", Clip(filler, np.arange(len(filler)) / FPS))
    return root


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def library(collection, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "lib"
    assert main(["index", str(collection / "refs"), "--db", str(db), "-q", "--workers", "1"]) == 0
    return db


def test_index_summary_and_skip(capsys, collection, library):
    code, out, err = run(capsys, "index", collection / "refs", "--db", library, "-q")
    assert code == 0
    assert "skipped  3" in out and "indexed  0" in out


def test_list_json(capsys, library):
    code, out, _ = run(capsys, "list", "--db", library, "--json")
    items = json.loads(out)
    assert code == 0 and len(items) == 3
    assert set(items[0]) == {"reference_id", "path", "duration", "frames", "status"}
    assert all(Path(i["path"]).is_absolute() and i["status"] == "ready" for i in items)
    assert abs(items[0]["duration"] - 8.0) < 0.1


def test_query_mirrored_json(capsys, collection, library):
    code, out, _ = run(capsys, "query", collection / "queries" / "mirrored.mp4", "--db", library, "--json")
    res = json.loads(out)
    assert code == 0
    assert set(res) == {"query", "duration", "matches"}
    assert abs(res["duration"] - 7.0) < 0.1
    best = res["matches"][0]
    assert Path(best["reference"]).name == "ref1.mp4"
    assert set(best) == {"reference", "reference_id", "score", "segments"}
    seg = max(best["segments"], key=lambda s: s["score"])
    assert seg.get("flipped") is True
    assert abs(seg["query_start"] - 3.0) < 0.4 and abs(seg["query_end"] - 7.0) < 0.4
    assert abs(seg["reference_start"] - 2.0) < 0.4 and abs(seg["reference_end"] - 6.0) < 0.4
    scores = [m["score"] for m in res["matches"]]
    assert scores == sorted(scores, reverse=True)


def test_query_reversed_csv(capsys, collection, library):
    code, out, _ = run(capsys, "query", collection / "queries" / "reversed.mp4", "--db", library, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert list(rows[0]) == ["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score"]
    hit = [r for r in rows if r["ref_id"] == "ref2"]
    assert hit
    r = max(hit, key=lambda r: float(r["score"]))
    assert float(r["ref_start"]) < float(r["ref_end"]) and float(r["query_start"]) < float(r["query_end"])
    # within about one library sampling step (0.5 s at the default 2 fps)
    assert abs(float(r["ref_start"]) - 1.0) < 0.6 and abs(float(r["ref_end"]) - 7.0) < 0.6


def test_query_reversed_flag_in_json(capsys, collection, library):
    _, out, _ = run(capsys, "query", collection / "queries" / "reversed.mp4", "--db", library, "--json")
    best = json.loads(out)["matches"][0]
    assert any(s.get("reversed") for s in best["segments"])


def test_unrelated_query_finds_nothing(capsys, collection, library):
    code, out, _ = run(capsys, "query", collection / "queries" / "unrelated.mp4", "--db", library, "--json")
    assert code == 0 and json.loads(out)["matches"] == []


def test_compare_pair(capsys, collection):
    code, out, _ = run(capsys, "compare", collection / "queries" / "mirrored.mp4", collection / "refs" / "ref1.mp4",
                       "--json")
    res = json.loads(out)
    assert code == 0 and len(res["matches"]) == 1
    assert any(s.get("flipped") for s in res["matches"][0]["segments"])


def test_bad_files_listed_rest_indexed(capsys, tmp_path, collection, synth_videos):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(collection / "refs" / "ref0.mp4", folder / "good.mp4")
    for name in ("empty_mp4", "truncated_mp4", "garbage_mp4", "text_mkv"):
        src = synth_videos[name]
        shutil.copy(src, folder / f"{name}{src.suffix}")
    code, out, err = run(capsys, "index", folder, "--db", tmp_path / "lib", "-q")
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 4
    assert "Traceback" not in err
    for ln in lines:
        assert str(folder) in ln
    assert "indexed  1" in out and "failed   4" in out


@pytest.mark.parametrize("content", [None, b"", b"not a video at all" * 100])
def test_query_bad_file_one_clear_line(capsys, tmp_path, library, content):
    p = tmp_path / "q.mp4"
    if content is not None:
        p.write_bytes(content)
    code, out, err = run(capsys, "query", p, "--db", library)
    assert code == 2
    assert err.count("\n") == 1 and str(p) in err and "Traceback" not in err


def test_foreign_directory_refused(capsys, tmp_path, collection):
    (tmp_path / "photos").mkdir()
    keep = tmp_path / "photos" / "holiday.txt"
    keep.write_text("do not touch")
    code, _, err = run(capsys, "index", collection / "refs", "--db", tmp_path / "photos", "-q")
    assert code == 2 and "not a vidtrace library" in err
    assert keep.read_text() == "do not touch" and sorted(p.name for p in (tmp_path / "photos").iterdir()) == \
        ["holiday.txt"]
    code, _, err = run(capsys, "list", "--db", tmp_path / "photos")
    assert code == 2 and "not a vidtrace library" in err


def test_nonsense_arguments(capsys, collection, library):
    with pytest.raises(SystemExit) as exc:
        main(["index", str(collection), "--db", str(library), "--fps", "-3"])
    assert exc.value.code == 2
    code, _, err = run(capsys, "query", collection / "queries" / "mirrored.mp4", "--db", library, "--aligner", "nope")
    assert code == 2 and "unknown aligner" in err
    code, _, err = run(capsys, "query", collection / "queries" / "mirrored.mp4", "--db", library, "--k", "0")
    assert code == 2 and "k must be" in err
    code, _, err = run(capsys, "query", collection / "queries" / "mirrored.mp4", "--db", library,
                       "--cross-suppress", "2")
    assert code == 2 and "cross_suppress" in err


def test_remove(capsys, tmp_path, collection):
    db = tmp_path / "lib"
    assert main(["index", str(collection / "refs"), "--db", str(db), "-q"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "remove", collection / "refs" / "ref0.mp4", "--db", db)
    assert code == 0 and "removed 1" in out
    code, out, err = run(capsys, "remove", "no-such-video", "--db", db)
    assert code == 1 and "not in library" in err
    _, out, _ = run(capsys, "list", "--db", db, "--json")
    assert sorted(Path(i["path"]).name for i in json.loads(out)) == ["ref1.mp4", "ref2.mp4"]


@pytest.mark.parametrize("scorer", ["chamfer", "visil"])
def test_query_with_scorer_on_region_library(capsys, tmp_path, collection, scorer):
    db = tmp_path / "regions"
    assert main(["index", str(collection / "refs"), "--db", str(db), "--feature", "regions", "-q"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "query", collection / "queries" / "reversed.mp4", "--db", db, "--scorer", scorer,
                       "--min-score", "0.1", "--cross-suppress", "0.2", "--json")
    res = json.loads(out)
    assert code == 0 and res["matches"]
    assert Path(res["matches"][0]["reference"]).name == "ref2.mp4"
    assert all(0.0 <= m["score"] <= 1.0 for m in res["matches"])
