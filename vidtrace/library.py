"""The persistent, crash-safe video library (``--db DIR``).

Layout of DIR:
- ``library.sqlite``: the source of truth. Table ``meta`` (format marker and
  the configuration that indexing and querying must share), ``videos`` (path,
  content SHA-256, duration, fps, size, status) and ``frames`` (video,
  index, timestamp in seconds, quality, descriptor). A video and all its
  frames are written in one transaction, so a video is either fully there or
  absent.
- ``index.bin``: the search index, a cache derived from the database. It is
  replaced atomically (write to a temporary file, fsync, rename) and carries
  the list of video ids it contains; on open, videos the database has but the
  index lacks are added, and ids the database no longer has are removed. So a
  process killed at any point leaves a library that opens consistent, and a
  re-run of ``index`` finishes the job with nothing duplicated or lost.
- ``lock``: an advisory lock held by the one writer at a time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from vidtrace.errors import ConfigError, LibraryError, VideoError, VidtraceError
from vidtrace.index.base import IndexBackend, get_index, make_keys
from vidtrace.types import FrameFeatures

FORMAT = "vidtrace-library"
SCHEMA_VERSION = 1
DB_NAME = "library.sqlite"
INDEX_NAME = "index.bin"
_INDEX_MAGIC = b"VTIDX001"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    duration REAL NOT NULL,
    fps REAL NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    n_frames INTEGER NOT NULL,
    n_indexed INTEGER NOT NULL,
    status TEXT NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS videos_path ON videos(path);
CREATE TABLE IF NOT EXISTS frames (
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    quality INTEGER NOT NULL,
    descriptor BLOB NOT NULL,
    variants BLOB NOT NULL,
    PRIMARY KEY (video_id, idx)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class LibraryConfig:
    """What indexing and querying must agree on.

    feature: extractor name and params; fps: sampling rate (frames/s);
    max_size: longest side (px) frames are resized to before description;
    keyframes: selector name and params; index: backend name and params;
    index_variants: extra descriptors stored per frame (extractor variant
    names, e.g. aspect-ratio crops), searched like the frame itself.
    """

    feature: dict = field(default_factory=lambda: {"name": "pdq", "min_quality": 50})
    fps: float = 2.0
    max_size: int = 256
    keyframes: dict = field(default_factory=lambda: {"name": "uniform"})
    index: dict = field(default_factory=lambda: {"name": "flat"})
    index_variants: tuple | None = None  # None: the extractor's suggestion

    def __post_init__(self) -> None:
        if self.index_variants is None:
            object.__setattr__(self, "index_variants", tuple(self.extractor().index_variant_names))
        object.__setattr__(self, "index_variants", tuple(self.index_variants))

    def extractor(self):
        from vidtrace.features import get_extractor

        params = {k: v for k, v in self.feature.items() if k != "name"}
        return get_extractor(self.feature["name"], **params)

    def selector(self):
        from vidtrace.keyframes import get_selector

        params = {k: v for k, v in self.keyframes.items() if k != "name"}
        return get_selector(self.keyframes["name"], **params)

    def decode_options(self, strict: bool = True):
        from vidtrace.decode import DecodeOptions

        return DecodeOptions(fps=self.fps, max_size=self.max_size, strict=strict)


@dataclass(frozen=True)
class VideoRecord:
    """One indexed video. duration in seconds; n_frames sampled frames stored,
    n_indexed of them searchable (quality high enough and kept as keyframes)."""

    id: int
    path: str
    sha256: str
    duration: float
    fps: float
    width: int
    height: int
    size_bytes: int
    n_frames: int
    n_indexed: int
    status: str

    def to_json(self) -> dict:
        return {"reference_id": self.id, "path": self.path, "duration": round(self.duration, 3),
                "frames": self.n_frames, "status": self.status}


@dataclass(frozen=True)
class IndexOutcome:
    """Result of indexing one file: status is "indexed", "skipped" or "failed";
    message explains skips and failures; seconds: wall time spent."""

    path: str
    status: str
    message: str = ""
    video_id: int | None = None
    duration: float = 0.0
    frames: int = 0
    seconds: float = 0.0


def _is_library(root: Path) -> bool:
    return (root / DB_NAME).is_file()


class _Lock:
    """Advisory exclusive lock on DIR/lock (one writer at a time)."""

    def __init__(self, root: Path):
        import fcntl

        self._fh = open(root / "lock", "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            raise LibraryError(f"{root}: another vidtrace process is writing to this library") from None

    def release(self) -> None:
        import fcntl

        if not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


class Library:
    """An on-disk library of indexed videos. Use `Library.open` or `Library.create`."""

    def __init__(self, root: Path, conn: sqlite3.Connection, config: LibraryConfig, writable: bool):
        self.root = root
        self._conn = conn
        self.config = config
        self.writable = writable
        self._lock = _Lock(root) if writable else None
        self._index: IndexBackend | None = None
        self._index_ids: set[int] = set()
        self._dirty = False
        self._last_save = time.monotonic()

    # ------------------------------------------------------------------ open / create
    @classmethod
    def create(cls, root: str | os.PathLike, config: LibraryConfig | None = None) -> "Library":
        """Create a new library in `root` (a missing or empty directory)."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise LibraryError(f"{root}: exists and is not a directory; refusing to create a library there")
        if root.is_dir() and any(root.iterdir()):
            if _is_library(root):
                raise LibraryError(f"{root}: already a vidtrace library")
            raise LibraryError(f"{root}: directory is not empty and is not a vidtrace library; refusing to use it")
        config = config or LibraryConfig()
        # Validate the configuration before writing anything.
        ext = config.extractor()
        selector = config.selector()
        basis_fps = selector.basis_fps
        if basis_fps and abs(basis_fps - float(config.fps or 0)) > 1e-9:
            raise ConfigError(f"keyframe selector {config.keyframes['name']!r} was trained on frames sampled "
                              f"at {basis_fps:g} fps; create the library at that rate "
                              f"(vidtrace index --fps {basis_fps:g}), not {config.fps!r}")
        get_index(config.index["name"], ext.index_dim, ext.kind, **{k: v for k, v in config.index.items() if k != "name"})
        unknown = set(config.index_variants) - set(ext.query_variant_names)
        if unknown:
            raise ConfigError(f"feature {ext.name!r} has no variant(s) {sorted(unknown)} to index")
        if not (config.fps and config.fps > 0):
            raise ConfigError(f"sampling fps must be > 0, got {config.fps!r}")
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / (DB_NAME + ".creating")
        conn = sqlite3.connect(tmp)
        conn.executescript(_SCHEMA)
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [
            ("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("config", json.dumps(asdict(config))),
        ])
        conn.commit()
        conn.close()
        os.replace(tmp, root / DB_NAME)
        return cls.open(root, writable=True)

    @classmethod
    def open(cls, root: str | os.PathLike, *, writable: bool = False, create: bool = False,
             config: LibraryConfig | None = None) -> "Library":
        """Open an existing library (create it when `create` and it does not exist)."""
        root = Path(root)
        if not _is_library(root):
            if create and (not root.exists() or (root.is_dir() and not any(root.iterdir()))):
                return cls.create(root, config)
            if not root.exists():
                raise LibraryError(f"{root}: no such library (run `vidtrace index ... --db {root}` to create one)")
            raise LibraryError(f"{root}: not a vidtrace library (no {DB_NAME}); refusing to use it")
        try:
            conn = sqlite3.connect(root / DB_NAME, timeout=30)
            conn.execute("PRAGMA foreign_keys = ON")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{root / DB_NAME}: not a vidtrace library database ({exc})") from None
        if meta.get("format") != FORMAT:
            conn.close()
            raise LibraryError(f"{root / DB_NAME}: not a vidtrace library database")
        if int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
            conn.close()
            raise LibraryError(f"{root}: made by a newer vidtrace (schema {meta['schema_version']})")
        if writable:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        stored = LibraryConfig(**json.loads(meta["config"]))
        lib = cls(root, conn, stored, writable)
        try:
            if writable:
                lib._recover()
        except BaseException:
            lib.close()
            raise
        return lib

    def close(self) -> None:
        if self.writable and self._dirty:
            self.save_index()
        self._conn.close()
        if self._lock:
            self._lock.release()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ index file
    def _new_index(self) -> IndexBackend:
        params = {k: v for k, v in self.config.index.items() if k != "name"}
        ext = self.config.extractor()
        return get_index(self.config.index["name"], ext.index_dim, ext.kind, **params)

    def _load_index_file(self) -> tuple[IndexBackend, set[int]] | None:
        path = self.root / INDEX_NAME
        if not path.exists():
            return None
        try:
            data = path.read_bytes()
            if data[:8] != _INDEX_MAGIC:
                return None
            (hlen,) = struct.unpack("<Q", data[8:16])
            header = json.loads(data[16:16 + hlen])
            off = 16 + hlen
            n_ids = header["n_videos"]
            ids = np.frombuffer(data[off:off + 8 * n_ids], dtype=np.int64)
            off += 8 * n_ids
            params = {k: v for k, v in self.config.index.items() if k != "name"}
            cls = type(self._new_index())
            index = cls.from_bytes(data[off:], self.config.extractor().index_dim, **params)
            return index, set(int(i) for i in ids)
        except Exception:
            # A damaged cache is rebuilt from the database, never trusted.
            return None

    def save_index(self) -> None:
        """Write the index atomically (temp file, fsync, rename, fsync dir)."""
        if self._index is None:
            return
        ids = np.array(sorted(self._index_ids), dtype=np.int64)
        header = json.dumps({"n_videos": len(ids), "backend": self.config.index["name"],
                             "entries": len(self._index)}).encode()
        tmp = self.root / (INDEX_NAME + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_INDEX_MAGIC)
            fh.write(struct.pack("<Q", len(header)))
            fh.write(header)
            fh.write(ids.tobytes())
            fh.write(self._index.to_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / INDEX_NAME)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._dirty = False
        self._last_save = time.monotonic()

    def _ready_ids(self) -> set[int]:
        return {int(r[0]) for r in self._conn.execute("SELECT id FROM videos WHERE status = 'ready'")}

    def _searchable(self, video_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys int64 [n], codes uint8 [n, bytes]) of a video's searchable descriptors."""
        ext = self.config.extractor()
        rows = self._conn.execute(
            "SELECT idx, descriptor, variants FROM frames WHERE video_id = ? AND quality >= ? ORDER BY idx",
            (video_id, ext.min_quality)).fetchall()
        idx = np.array([r[0] for r in rows], dtype=np.int64)
        desc = self._decode_rows([r[1] for r in rows])
        nvar = len(self.config.index_variants)
        var = self._decode_rows([r[2] for r in rows]).reshape(len(rows), nvar, -1) if nvar else \
            np.zeros((len(rows), 0) + desc.shape[1:], desc.dtype)
        return self._entries(video_id, idx, desc, var)

    def _decode_rows(self, blobs: list[bytes]) -> np.ndarray:
        """Stored descriptor blobs -> array [n, ...] of the extractor's dtype."""
        dtype = self.config.extractor().dtype
        return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), -1)

    def _entries(self, video_id: int, idx: np.ndarray, desc: np.ndarray, var: np.ndarray):
        """Index entries of frames idx [n]: the frames' index vectors under
        variant 0 and each stored variant [n, V, ...] under 1..V where it
        differs noticeably from the frame's own descriptor."""
        ext = self.config.extractor()
        keys = [make_keys(video_id, idx, 0)]
        out = [ext.index_vectors(desc)]
        for v in range(var.shape[1]):
            differs = ext.rowwise_similarity(var[:, v], desc) < 0.95
            keys.append(make_keys(video_id, idx[differs], v + 1))
            out.append(ext.index_vectors(var[differs, v]))
        return np.concatenate(keys), np.concatenate(out)

    def _recover(self) -> None:
        """Bring the index in line with the database after any interruption."""
        # Rows from an interrupted multi-step write (none today: writes are single transactions).
        self._conn.execute("DELETE FROM videos WHERE status != 'ready'")
        self._conn.commit()
        self.index  # loads and reconciles

    @property
    def index(self) -> IndexBackend:
        """The search index, loaded on first use and reconciled with the database."""
        if self._index is None:
            loaded = self._load_index_file()
            index, ids = loaded if loaded else (self._new_index(), set())
            ready = self._ready_ids()
            extra, missing = ids - ready, ready - ids
            if extra:
                if index.supports_remove:
                    index.remove_videos(extra)
                    ids = ids - extra
                else:  # e.g. HNSW: rebuild from the database
                    index, ids, missing = self._new_index(), set(), ready
            self._index, self._index_ids = index, set(ids)
            for vid in sorted(missing):
                keys, codes = self._searchable(vid)
                self._index.add(keys, codes)
                self._index_ids.add(vid)
            if (extra or missing) and self.writable:
                self.save_index()
        return self._index

    # ------------------------------------------------------------------ queries on the catalogue
    def videos(self) -> list[VideoRecord]:
        rows = self._conn.execute(
            "SELECT id, path, sha256, duration, fps, width, height, size_bytes, n_frames, n_indexed, status "
            "FROM videos ORDER BY id").fetchall()
        return [VideoRecord(*r) for r in rows]

    def video(self, video_id: int) -> VideoRecord | None:
        r = self._conn.execute(
            "SELECT id, path, sha256, duration, fps, width, height, size_bytes, n_frames, n_indexed, status "
            "FROM videos WHERE id = ?", (int(video_id),)).fetchone()
        return VideoRecord(*r) if r else None

    def find(self, ref: str) -> list[VideoRecord]:
        """Videos matching `ref`: a numeric id, a path (as given or absolute) or a content hash."""
        out = []
        if ref.isdigit():
            v = self.video(int(ref))
            if v:
                out.append(v)
        absref = os.path.abspath(ref)
        for v in self.videos():
            if v.path in (ref, absref) or v.sha256 == ref:
                if v not in out:
                    out.append(v)
        return out

    def by_sha(self, sha: str) -> VideoRecord | None:
        r = self._conn.execute("SELECT id FROM videos WHERE sha256 = ?", (sha,)).fetchone()
        return self.video(r[0]) if r else None

    def frame_times(self, video_id: int) -> np.ndarray:
        """float64 [n_frames] timestamps (s) of a video's stored frames, by frame index."""
        rows = self._conn.execute("SELECT timestamp FROM frames WHERE video_id = ? ORDER BY idx",
                                  (int(video_id),)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.float64)

    def frame_features(self, video_id: int) -> FrameFeatures:
        rows = self._conn.execute("SELECT timestamp, quality, descriptor FROM frames WHERE video_id = ? ORDER BY idx",
                                  (int(video_id),)).fetchall()
        ext = self.config.extractor()
        return FrameFeatures(ext.name, ext.kind, np.array([r[0] for r in rows], np.float64),
                             np.array([r[1] for r in rows], np.int16), self._decode_rows([r[2] for r in rows]))

    def stats(self) -> dict:
        n_videos, n_frames, n_indexed, dur = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_frames),0), COALESCE(SUM(n_indexed),0), COALESCE(SUM(duration),0) "
            "FROM videos").fetchone()
        files = [self.root / DB_NAME, self.root / INDEX_NAME, self.root / (DB_NAME + "-wal")]
        size = sum(f.stat().st_size for f in files if f.exists())
        return {"videos": n_videos, "frames": n_frames, "indexed_frames": n_indexed, "duration_s": dur,
                "bytes": size, "bytes_per_frame": size / n_frames if n_frames else 0.0}

    def check(self) -> list[str]:
        """Consistency problems between the database and the index (empty = consistent)."""
        problems = []
        for vid, n_frames, n_rows in self._conn.execute(
                "SELECT v.id, v.n_frames, (SELECT COUNT(*) FROM frames f WHERE f.video_id = v.id) FROM videos v"):
            if n_frames != n_rows:
                problems.append(f"video {vid}: {n_rows} frame rows, expected {n_frames}")
        dup = self._conn.execute("SELECT sha256, COUNT(*) FROM videos GROUP BY sha256 HAVING COUNT(*) > 1").fetchall()
        problems += [f"content {sha} indexed {n} times" for sha, n in dup]
        index = self.index
        ready = self._ready_ids()
        if self._index_ids != ready:
            problems.append(f"index holds videos {sorted(self._index_ids ^ ready)} that differ from the database")
        expected = sum(len(self._searchable(v)[0]) for v in ready)
        if len(index) != expected:
            problems.append(f"index has {len(index)} entries, database implies {expected}")
        return problems

    # ------------------------------------------------------------------ writes
    def _require_writable(self) -> None:
        if not self.writable:
            raise LibraryError(f"{self.root}: opened read-only")

    def add_video(self, path: str, sha: str, size_bytes: int, info, feats: FrameFeatures,
                  variants: dict | None = None) -> int:
        """Insert one described video atomically and add it to the index; returns its id.

        variants: {name: descriptors [N, bytes]} for every name in
        config.index_variants (extra searchable descriptors per frame)."""
        self._require_writable()
        ext = self.config.extractor()
        keep = self.config.selector().select(feats)
        searchable = keep & (feats.quality >= ext.min_quality)
        with self._conn:  # one transaction: the video and all its frames, or nothing
            cur = self._conn.execute(
                "INSERT INTO videos(path, sha256, duration, fps, width, height, size_bytes, n_frames, n_indexed, "
                "status, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ?)",
                (path, sha, float(info.duration), float(info.fps), int(info.width), int(info.height),
                 int(size_bytes), int(keep.sum()), int(searchable.sum()), time.time()))
            vid = int(cur.lastrowid)
            kept_idx = np.nonzero(keep)[0]
            names = self.config.index_variants
            var = np.stack([np.asarray(variants[n]) for n in names], axis=1) if names else \
                np.zeros((len(feats), 0) + feats.descriptors.shape[1:], feats.descriptors.dtype)
            self._conn.executemany(
                "INSERT INTO frames(video_id, idx, timestamp, quality, descriptor, variants) VALUES (?, ?, ?, ?, ?, ?)",
                [(vid, j, float(feats.timestamps[i]), int(feats.quality[i]), feats.descriptors[i].tobytes(),
                  var[i].tobytes()) for j, i in enumerate(kept_idx)])
        index = self.index
        j = np.nonzero(feats.quality[kept_idx] >= ext.min_quality)[0]
        sel = kept_idx[j]
        index.add(*self._entries(vid, j, feats.descriptors[sel], var[sel]))
        self._index_ids.add(vid)
        self._dirty = True
        return vid

    def maybe_save(self, every_s: float = 20.0) -> None:
        if self._dirty and time.monotonic() - self._last_save >= every_s:
            self.save_index()

    def remove(self, video_ids: Iterable[int]) -> int:
        """Delete videos from the database and the index; returns how many were removed."""
        self._require_writable()
        ids = [int(v) for v in video_ids]
        with self._conn:
            n = 0
            for vid in ids:
                self._conn.execute("DELETE FROM frames WHERE video_id = ?", (vid,))
                n += self._conn.execute("DELETE FROM videos WHERE id = ?", (vid,)).rowcount
        index = self.index
        gone = set(ids) & self._index_ids
        if gone:
            if index.supports_remove:
                index.remove_videos(gone)
            else:
                self._index, self._index_ids = None, set()
                if (self.root / INDEX_NAME).exists():
                    os.remove(self.root / INDEX_NAME)
            self._index_ids -= gone
            self._dirty = True
            self.index  # rebuild if needed
            self.save_index()
        return n

    def index_files(self, paths: Iterable[str], *, on_result: Callable[[IndexOutcome], None] | None = None,
                    save_every_s: float = 20.0, workers: int = 1) -> list[IndexOutcome]:
        """Index files; failures are reported and the batch goes on.

        workers > 1 decodes and describes that many files at once in worker
        processes; the database is written by this process only, in input order.
        """
        from vidtrace.decode import file_sha256

        self._require_writable()
        if workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        results: list[IndexOutcome] = []

        def emit(out: IndexOutcome) -> None:
            results.append(out)
            if on_result:
                on_result(out)
            self.maybe_save(save_every_s)

        def jobs():
            """Yield (path, abspath, sha, size) of files to extract; emit skips and early failures."""
            pending: dict[str, str] = {}
            for p in paths:
                t0 = time.perf_counter()
                apath = os.path.abspath(p)
                try:
                    if not os.path.isfile(apath):
                        raise VideoError(p, "file not found" if not os.path.exists(apath) else "not a regular file")
                    size = os.path.getsize(apath)
                    if size == 0:
                        raise VideoError(p, "empty file (0 bytes)")
                    sha = file_sha256(apath)
                except VideoError as exc:
                    emit(IndexOutcome(p, "failed", exc.problem, seconds=time.perf_counter() - t0))
                    continue
                except OSError as exc:
                    emit(IndexOutcome(p, "failed", f"cannot read ({exc.strerror or exc})",
                                      seconds=time.perf_counter() - t0))
                    continue
                known = self.by_sha(sha)
                if known is not None or sha in pending:
                    where = known.path if known is not None else pending[sha]
                    note = "already indexed" if where == apath else f"same content already indexed as {where}"
                    emit(IndexOutcome(p, "skipped", note, known.id if known else None,
                                      known.duration if known else 0.0, known.n_frames if known else 0,
                                      time.perf_counter() - t0))
                    continue
                pending[sha] = apath
                yield p, apath, sha, size

        def finish(job, extracted, t0: float) -> None:
            p, apath, sha, size = job
            if isinstance(extracted, str):
                emit(IndexOutcome(p, "failed", extracted, seconds=time.perf_counter() - t0))
                return
            vid = self.add_video(apath, sha, size, extracted.info, extracted.features, extracted.variants)
            emit(IndexOutcome(p, "indexed", "", vid, extracted.info.duration, len(extracted.features),
                              time.perf_counter() - t0))

        config = asdict(self.config)
        try:
            if workers == 1:
                for job in jobs():
                    t0 = time.perf_counter()
                    finish(job, _extract_job(job[1], config), t0)
            else:
                import multiprocessing
                from collections import deque
                from concurrent.futures import ProcessPoolExecutor

                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                    inflight: deque = deque()
                    for job in jobs():
                        inflight.append((job, pool.submit(_extract_job, job[1], config), time.perf_counter()))
                        while len(inflight) >= 2 * workers:
                            j, fut, t0 = inflight.popleft()
                            finish(j, fut.result(), t0)
                    while inflight:
                        j, fut, t0 = inflight.popleft()
                        finish(j, fut.result(), t0)
        finally:
            if self._dirty:
                self.save_index()
        return results


def _extract_job(path: str, config: dict):
    """Decode and describe one file (runs in a worker process): an
    ExtractedVideo, or the problem as a string when the file is unusable."""
    from vidtrace.pipeline import extract_video

    cfg = LibraryConfig(**config)
    try:
        return extract_video(path, cfg.extractor(), cfg.decode_options(), variants=cfg.index_variants,
                             thumb_size=cfg.selector().thumb_size)
    except VideoError as exc:
        return exc.problem
    except (OSError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
