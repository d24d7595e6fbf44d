"""``vidtrace bench run``: index a benchmark's references and query every query, per configuration.

A configuration is a name and a JSON object whose keys are
:class:`vidtrace.library.LibraryConfig` fields (feature, fps, max_size,
keyframes, index, index_variants; feature / keyframes / index may be given
as a bare name) and :class:`vidtrace.search.SearchParams` fields (k,
max_distance, sim_scale, variants, query_fps, max_candidates, aligner,
aligner_params, min_score); anything left out keeps its default, so
``default={}`` is the shipped pipeline.

Each configuration runs in its own Python process (so peak memory is its
own): a fresh library in a temporary folder, every reference indexed, every
query searched, predictions written as VSC2022 CSV. The parent scores them
with :func:`vidtrace.eval.report.evaluate` and prints one table row per
configuration:

- segment µAP, pair µAP, best VCSL F1 (:data:`vidtrace.eval.report.METRICS`);
- indexing speed: reference video-seconds per CPU-second (user + system
  time of the process and its index workers);
- query latency p50 / p95: wall seconds per query (decode + features + search);
- bytes per indexed frame: library size on disk / frames stored;
- peak RSS: the largest resident set of the configuration's process (or of
  one of its index workers), MB.

Results go to DIR/results/<UTC time>.json (or ``--json OUT``) with the
predictions beside it, so runs can be compared.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from vidtrace.errors import ConfigError, VidtraceError

DEFAULT_CONFIGS: tuple[tuple[str, dict], ...] = (("default", {}),)
"""The configurations run when none is given: the shipped pipeline."""
ALIGNERS = ("tn", "hv", "dp", "dtw")
_NAMED = ("feature", "keyframes", "index")  # LibraryConfig fields that may be a bare name
_TUPLES = ("index_variants", "variants")

COLUMNS = (
    ("config", "config"),
    ("seg µAP", "segment_uap"),
    ("pair µAP", "pair_uap"),
    ("VCSL best F1", "vcsl_best_f1"),
    ("index video-s/CPU-s", "index_speed"),
    ("query p50 s", "query_p50_s"),
    ("query p95 s", "query_p95_s"),
    ("bytes/frame", "bytes_per_frame"),
    ("peak RSS MB", "peak_rss_mb"),
)
"""Table columns: (header, result key)."""


@dataclass(frozen=True)
class RunConfig:
    """One configuration: name, LibraryConfig keyword arguments and
    SearchParams keyword arguments (plain JSON values)."""

    name: str
    library: dict = field(default_factory=dict)
    search: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "library": self.library, "search": self.search}


def make_config(name: str, values: dict) -> RunConfig:
    """Split a configuration object into library and search settings and
    check them (ConfigError naming the configuration and the key)."""
    from vidtrace.library import LibraryConfig
    from vidtrace.search import SearchParams

    if not isinstance(values, dict):
        raise ConfigError(f"--config {name}: expected a JSON object, got {type(values).__name__}")
    lib_keys = {f.name for f in fields(LibraryConfig)}
    search_keys = {f.name for f in fields(SearchParams)}
    library, search = {}, {}
    for key, value in values.items():
        if key in _NAMED and isinstance(value, str):
            value = {"name": value}
        if key in lib_keys:
            library[key] = value
        elif key in search_keys:
            search[key] = value
        else:
            known = ", ".join(sorted(lib_keys | search_keys))
            raise ConfigError(f"--config {name}: unknown key {key!r} (known: {known})")
    config = RunConfig(name, library, search)
    try:
        _library_config(config).extractor()
        _search_params(config)
    except VidtraceError as exc:
        raise ConfigError(f"--config {name}: {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"--config {name}: bad value ({exc})") from None
    return config


def parse_config(text: str) -> RunConfig:
    """A ``NAME=JSON`` argument as a RunConfig."""
    name, sep, body = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ConfigError(f"--config {text!r}: expected NAME=JSON, e.g. hnsw='{{\"index\": \"hnsw\"}}'")
    try:
        values = json.loads(body) if body.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config {name}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    return make_config(name, values)


def expand_configs(configs: Sequence[RunConfig], aligners: Sequence[str] = ()) -> list[RunConfig]:
    """Each configuration once per aligner (named NAME-ALIGNER, or ALIGNER
    when the only configuration is the default); the configurations as they
    are without aligners. Names must be unique."""
    base = list(configs) or [make_config(n, v) for n, v in DEFAULT_CONFIGS]
    out = base
    if aligners:
        plain = not configs
        out = [make_config(al if plain else f"{c.name}-{al}",
                           {**c.library, **c.search, "aligner": al}) for c in base for al in aligners]
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"--config: the name {dup[0]!r} is used twice")
    return out


def _library_config(config: RunConfig):
    from vidtrace.library import LibraryConfig

    values = dict(config.library)
    if "feature" in values and "min_quality" not in values["feature"] and values["feature"].get("name") == "pdq":
        values["feature"] = {**LibraryConfig().feature, **values["feature"]}
    return LibraryConfig(**values)


def _search_params(config: RunConfig):
    from vidtrace.search import SearchParams

    values = {k: tuple(v) if k in _TUPLES else v for k, v in config.search.items()}
    return SearchParams(**values)


# --------------------------------------------------------------------------- the benchmark folder


@dataclass(frozen=True)
class Bench:
    """A benchmark folder: references (absolute paths), queries (id, absolute
    path), ground-truth rows and the manifest."""

    root: Path
    references: tuple[str, ...]
    queries: tuple[tuple[str, str], ...]
    gt: tuple
    manifest: dict


def load_bench(bench_dir: str | Path) -> Bench:
    """Read refs.txt, manifest.json and ground_truth.csv; ConfigError naming
    the first missing file."""
    from vidtrace.bench.make import read_manifest
    from vidtrace.types import read_match_csv

    root = Path(bench_dir).resolve()
    manifest = read_manifest(bench_dir)
    refs_txt = root / "refs.txt"
    if not refs_txt.is_file():
        raise ConfigError(f"--bench {bench_dir}: no refs.txt")
    refs = tuple(str((root / line).resolve()) for line in refs_txt.read_text().splitlines() if line.strip())
    queries = tuple((q["id"], str(root / q["file"])) for q in manifest["queries"])
    for path in list(refs) + [p for _, p in queries]:
        if not os.path.isfile(path):
            raise ConfigError(f"--bench {bench_dir}: missing file {path}")
    try:
        gt = tuple(read_match_csv(root / "ground_truth.csv"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{root / 'ground_truth.csv'}: {exc}") from None
    return Bench(root, refs, queries, gt, manifest)


# --------------------------------------------------------------------------- one configuration (child process)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _peak_rss_bytes() -> int:
    """Largest resident set of this process or of one of its children (Linux: ru_maxrss in KiB)."""
    import resource

    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def run_one(job: dict) -> dict:
    """Index and query for one configuration (runs in its own process).

    job: {"bench", "config" (RunConfig.to_json()), "predictions" (CSV path),
    "work" (folder for the library), "workers"}. Returns the measurements;
    the predictions are written to job["predictions"]."""
    from vidtrace.library import Library
    from vidtrace.search import search_file
    from vidtrace.types import rows_from_results, write_match_csv

    bench = load_bench(job["bench"])
    config = RunConfig(**job["config"])
    lib_dir = Path(tempfile.mkdtemp(prefix="lib-", dir=job["work"])) / "library"
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    with Library.open(lib_dir, writable=True, create=True, config=_library_config(config)) as lib:
        outcomes = lib.index_files(list(bench.references), workers=int(job.get("workers", 1)))
    index_cpu, index_wall = _cpu_seconds() - cpu0, time.perf_counter() - wall0
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise VidtraceError(f"{failed[0].path}: cannot be indexed ({failed[0].message})")
    video_s = sum(o.duration for o in outcomes if o.status == "indexed")
    params = _search_params(config)
    results, latencies, cpu_latencies, errors = [], {}, {}, {}
    query_cpu0 = _cpu_seconds()
    with Library.open(lib_dir) as lib:
        stats = lib.stats()
        for qid, path in bench.queries:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                res = search_file(lib, path, params)
            except VidtraceError as exc:
                errors[qid] = str(exc)
                continue
            latencies[qid] = time.perf_counter() - t0
            cpu_latencies[qid] = time.process_time() - c0
            results.append((qid, res))
    rows = rows_from_results([r for _, r in results], [q for q, _ in results])
    write_match_csv(rows, job["predictions"])
    return {
        "index_video_s": video_s, "index_cpu_s": index_cpu, "index_wall_s": index_wall,
        "query_cpu_s": _cpu_seconds() - query_cpu0, "latencies_s": latencies, "cpu_latencies_s": cpu_latencies,
        "query_errors": errors,
        "library_bytes": stats["bytes"], "frames": stats["frames"], "indexed_frames": stats["indexed_frames"],
        "peak_rss_bytes": _peak_rss_bytes(),
    }


def _child_main(job_path: str) -> int:
    """Entry point of the per-configuration process: job JSON in, result JSON out."""
    job = json.loads(Path(job_path).read_text())
    try:
        result = {"ok": True, **run_one(job)}
    except VidtraceError as exc:
        result = {"ok": False, "error": str(exc)}
    Path(job["result"]).write_text(json.dumps(result))
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------- the parent: scoring and the table


def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else math.nan


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def summarise(bench: Bench, config: RunConfig, raw: dict, predictions: Path) -> dict:
    """One result record: the configuration, every metric of evaluate() and the speed and size figures."""
    from vidtrace.eval.report import evaluate
    from vidtrace.types import read_match_csv

    out: dict = {"config": config.name, "settings": config.to_json()}
    if not raw.get("ok"):
        return {**out, "error": raw.get("error", "configuration process failed")}
    pred = read_match_csv(predictions)
    metrics = evaluate(list(bench.gt), pred)
    lat = list(raw["latencies_s"].values())
    cpu = raw["index_cpu_s"]
    return {
        **out,
        **{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()},
        "index_speed": raw["index_video_s"] / cpu if cpu > 0 else None,
        "query_p50_s": _percentile(lat, 50), "query_p95_s": _percentile(lat, 95),
        "bytes_per_frame": raw["library_bytes"] / raw["frames"] if raw["frames"] else None,
        "peak_rss_mb": raw["peak_rss_bytes"] / 2**20,
        "predictions": str(predictions),
        "breakdown": breakdown(bench.manifest, pred, _finite(metrics["vcsl_best_threshold"])),
        **{k: raw[k] for k in ("index_video_s", "index_cpu_s", "index_wall_s", "query_cpu_s", "library_bytes",
                               "frames", "indexed_frames", "latencies_s", "cpu_latencies_s", "query_errors")},
    }


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return min(a1, b1) > max(a0, b0)


def breakdown(manifest: dict, pred: Sequence, threshold: float | None) -> dict:
    """Recall and false alarms by kind of edit, at a score threshold (None: every prediction).

    A ground-truth segment is found when a prediction for the same query
    and reference with score >= threshold overlaps it on both time axes.
    Returns {"recall": {key: {"found": n, "segments": n}}, "false_alarm_queries": {kind: {"alarmed": n, "queries": n}}}
    where key is "plain" (no transformation), "family:strength",
    "family:name:strength" or "montage:strength"."""
    keep = [r for r in pred if threshold is None or (r.score is not None and r.score >= threshold)]
    by_query: dict[str, list] = {}
    for r in keep:
        by_query.setdefault(r.query_id, []).append(r)
    recall: dict[str, dict[str, int]] = {}
    alarms: dict[str, dict[str, int]] = {}
    for q in manifest["queries"]:
        rows = by_query.get(q["id"], [])
        if not q["segments"]:
            a = alarms.setdefault(q["kind"], {"alarmed": 0, "queries": 0})
            a["queries"] += 1
            a["alarmed"] += bool(rows)
            continue
        copies = {c["copy"]: (c, p.get("strength")) for p in q["pieces"] for c in p.get("copies", [])}
        for seg in q["segments"]:
            copy, montage = copies[seg["copy"]]
            found = any(r.ref_id == seg["ref"] and _overlaps(r.query_start, r.query_end, seg["query_start"],
                                                              seg["query_end"])
                        and _overlaps(r.ref_start, r.ref_end, seg["ref_start"], seg["ref_end"]) for r in rows)
            keys = [f"{t['family']}:{t['strength']}" for t in copy["transforms"]]
            keys += [f"{t['family']}:{t['name']}:{t['strength']}" for t in copy["transforms"]]
            keys += [f"montage:{montage}"] if montage else []
            for key in keys or ["plain"]:
                cell = recall.setdefault(key, {"found": 0, "segments": 0})
                cell["segments"] += 1
                cell["found"] += found
    return {"threshold": threshold, "recall": dict(sorted(recall.items())),
            "false_alarm_queries": dict(sorted(alarms.items()))}


def _cell(value, key: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key == "config":
        return str(value)
    if key in ("segment_uap", "pair_uap", "vcsl_best_f1", "query_p50_s", "query_p95_s"):
        return f"{value:.3f}"
    if key in ("index_speed", "peak_rss_mb"):
        return f"{value:.1f}"
    return f"{value:.0f}"


def table_header() -> str:
    """The markdown table's header and rule lines."""
    heads = [h for h, _ in COLUMNS]
    return "| " + " | ".join(heads) + " |\n|" + "|".join("-" * (len(h) + 2) for h in heads) + "|"


def table_row(result: dict) -> str:
    """One markdown table row of a result record (an error row when it failed)."""
    if "error" in result:
        return f"| {result['config']} | error: {result['error']} |" + " |" * (len(COLUMNS) - 2)
    return "| " + " | ".join(_cell(result.get(k), k) for _, k in COLUMNS) + " |"


def machine_info() -> dict:
    """Where the run happened: platform, CPUs usable, CPU model, Python and library versions."""
    import numpy

    info = {"platform": platform.platform(), "python": platform.python_version(), "numpy": numpy.__version__,
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    try:
        import av

        info["pyav"] = av.__version__
    except ImportError:  # pragma: no cover - av is a dependency
        pass
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info.update(_source_state(Path(__file__).resolve().parents[2]))
    return info


def _source_state(repo: Path) -> dict:
    """{"commit": short hash, "modified": files of the package that differ
    from it} of the checkout that runs, when it is a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10,
                              check=False).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        if not commit:
            return {}
        changed = [line[3:] for line in git("status", "--porcelain", "--", "vidtrace").splitlines()]
        return {"commit": commit, "modified": changed}
    except (OSError, subprocess.SubprocessError):
        return {}


def _child_env() -> dict:
    """The environment of a configuration process: this one, with the
    folder holding the vidtrace package first on PYTHONPATH."""
    package_parent = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": package_parent + (os.pathsep + path if path else "")}


def run_benchmark(bench_dir: str | Path, configs: Sequence[RunConfig], json_out: str | Path | None = None,
                  workers: int = 1, emit: Callable[[str], None] = print,
                  progress: Callable[[str], None] | None = None) -> dict:
    """Run every configuration on the benchmark; emit the table line by line;
    write and return the results document."""
    bench = load_bench(bench_dir)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    json_path = Path(json_out) if json_out else bench.root / "results" / f"{stamp}.json"
    pred_dir = json_path.with_suffix("")
    pred_dir.mkdir(parents=True, exist_ok=True)
    doc = {"bench": str(bench.root), "started": stamp, "machine": machine_info(),
           "seed": bench.manifest.get("seed"), "split": bench.manifest.get("split"),
           "references": len(bench.references), "queries": len(bench.queries), "gt_rows": len(bench.gt),
           "results": []}
    for line in table_header().splitlines():
        emit(line)
    with tempfile.TemporaryDirectory(prefix="vidtrace-bench-") as work:
        for config in configs:
            if progress:
                progress(f"running {config.name}: index {len(bench.references)} references, "
                         f"{len(bench.queries)} queries")
            predictions = pred_dir / f"{config.name}.csv"
            job = {"bench": str(bench.root), "config": config.to_json(), "predictions": str(predictions),
                   "work": work, "workers": workers, "result": str(Path(work) / f"{config.name}.result.json")}
            job_path = Path(work) / f"{config.name}.job.json"
            job_path.write_text(json.dumps(job))
            proc = subprocess.run([sys.executable, "-m", "vidtrace.bench.run", str(job_path)], env=_child_env(), check=False)
            try:
                raw = json.loads(Path(job["result"]).read_text())
            except (OSError, ValueError):
                raw = {"ok": False, "error": f"configuration process exited with status {proc.returncode}"}
            result = summarise(bench, config, raw, predictions)
            doc["results"].append(result)
            emit(table_row(result))
            doc["finished"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            if hasattr(os, "getloadavg"):
                doc["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
            json_path.write_text(json.dumps(doc, indent=1) + "\n")
    return {**doc, "json": str(json_path)}


if __name__ == "__main__":  # the per-configuration process
    sys.exit(_child_main(sys.argv[1]))
