"""The persistent library: create/open rules, incremental indexing, removal, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vidtrace.errors import LibraryError
from vidtrace.library import DB_NAME, INDEX_NAME, Library, LibraryConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = REPO.parent / "shared" / "data" / "videos"


def _make_corpus(root: Path, n: int) -> list[Path]:
    """n short distinct videos: generated scenes (no shared data needed)."""
    from vidtrace.synth import render_scene
    from vidtrace.videoio import write_video

    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        clip = render_scene(seed=100 + i, duration_s=3.0, fps=12, width=160, height=120)
        p = root / f"scene{i:02d}.mp4"
        write_video(p, clip, fps=12)
        out.append(p)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    return _make_corpus(tmp_path_factory.mktemp("corpus"), 10)


def _small_config(**kw) -> LibraryConfig:
    return LibraryConfig(fps=4.0, max_size=256, **kw)


def test_refuses_foreign_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(LibraryError, match="not a vidtrace library"):
        Library.open(tmp_path, writable=True, create=True)
    assert (tmp_path / "notes.txt").read_text() == "precious"
    assert not (tmp_path / DB_NAME).exists()


def test_refuses_file_and_missing(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(LibraryError):
        Library.open(f, writable=True, create=True)
    with pytest.raises(LibraryError, match="no such library"):
        Library.open(tmp_path / "missing")


def test_refuses_foreign_sqlite(tmp_path):
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="not a vidtrace library"):
        Library.open(tmp_path, writable=True)


def test_incremental_and_remove(tmp_path, corpus):
    db = tmp_path / "lib"
    with Library.open(db, writable=True, create=True, config=_small_config()) as lib:
        res = lib.index_files([str(p) for p in corpus[:4]])
        assert [r.status for r in res] == ["indexed"] * 4
    with Library.open(db, writable=True) as lib:
        res = lib.index_files([str(p) for p in corpus[:6]])
        assert [r.status for r in res] == ["skipped"] * 4 + ["indexed"] * 2
        assert len(lib.videos()) == 6
        assert lib.check() == []
        victim = lib.videos()[1]
        assert lib.remove([victim.id]) == 1
        assert lib.check() == []
        assert victim.id not in {v.id for v in lib.videos()}
    with Library.open(db) as lib:  # persisted
        assert len(lib.videos()) == 5
        assert lib.check() == []


def test_same_content_other_path_is_skipped(tmp_path, corpus):
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(corpus[0].read_bytes())
    with Library.open(tmp_path / "lib", writable=True, create=True, config=_small_config()) as lib:
        lib.index_files([str(corpus[0])])
        (res,) = lib.index_files([str(copy)])
        assert res.status == "skipped" and "already indexed as" in res.message


def test_bad_files_fail_but_batch_continues(tmp_path, corpus):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(os.urandom(5000))
    text = tmp_path / "notes.avi"
    text.write_text("this is not a video\n" * 50)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(corpus[1].read_bytes()[: corpus[1].stat().st_size // 3])
    files = [str(corpus[0]), str(empty), str(junk), str(text), str(truncated), str(tmp_path / "missing.mp4"),
             str(corpus[2])]
    with Library.open(tmp_path / "lib", writable=True, create=True, config=_small_config()) as lib:
        res = lib.index_files(files)
        status = {Path(r.path).name: (r.status, r.message) for r in res}
        assert status["scene00.mp4"][0] == "indexed" and status["scene02.mp4"][0] == "indexed"
        for name in ("empty.mp4", "junk.mkv", "notes.avi", "truncated.mp4", "missing.mp4"):
            assert status[name][0] == "failed", name
            assert status[name][1], name
        assert "empty" in status["empty.mp4"][1]
        assert "not found" in status["missing.mp4"][1]
        assert len(lib.videos()) == 2
        assert lib.check() == []


def test_damaged_index_is_rebuilt(tmp_path, corpus):
    db = tmp_path / "lib"
    with Library.open(db, writable=True, create=True, config=_small_config()) as lib:
        lib.index_files([str(p) for p in corpus[:3]])
        n = len(lib.index)
    (db / INDEX_NAME).write_bytes(b"garbage")
    with Library.open(db, writable=True) as lib:
        assert len(lib.index) == n
        assert lib.check() == []


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_index_types_search(tmp_path, corpus, index_type):
    with Library.open(tmp_path / "lib", writable=True, create=True,
                      config=_small_config(index={"name": index_type})) as lib:
        lib.index_files([str(p) for p in corpus[:3]])
        vid = lib.videos()[2].id
        feats = lib.frame_features(vid)
        dist, keys = lib.index.search(feats.descriptors[:2], 1)
        assert (dist[:, 0] == 0).all()
        assert ((keys[:, 0] >> 24) == vid).all()
        lib.remove([vid])
        assert lib.check() == []


def _count_videos(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db / DB_NAME}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 3, 6])
def test_kill_mid_indexing_then_resume(tmp_path, corpus, kill_after):
    """SIGKILL an indexing process part-way; the library must open consistent
    and a re-run must finish with every file exactly once."""
    db = tmp_path / "lib"
    folder = corpus[0].parent
    cmd = [sys.executable, "-m", "vidtrace.cli", "index", str(folder), "--db", str(db), "--fps", "4",
           "--max-size", "256", "-q"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and _count_videos(db) < kill_after:
        time.sleep(0.01)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _count_videos(db)
    assert killed, "indexing finished before it could be killed; use more or longer videos"
    assert kill_after <= before < len(corpus)
    with Library.open(db, writable=True) as lib:
        assert lib.check() == []
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    with Library.open(db, writable=True) as lib:
        assert lib.check() == []
        videos = lib.videos()
        assert sorted(Path(v.path).name for v in videos) == sorted(p.name for p in corpus)
        assert len({v.sha256 for v in videos}) == len(videos)
        total = sum(v.n_indexed for v in videos)
        assert total > 0
        # every searchable frame is findable at distance 0
        v = videos[-1]
        feats = lib.frame_features(v.id)
        ok = feats.quality >= lib.config.extractor().min_quality
        dist, keys = lib.index.search(feats.descriptors[ok], 1)
        assert np.all(dist[:, 0] == 0)
