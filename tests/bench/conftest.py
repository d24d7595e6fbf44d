"""Fixtures of the benchmark tests: a folder of tiny generated source videos
and one tiny benchmark made from it (session-scoped, a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidtrace.bench.make import MakeOptions, make_benchmark
from vidtrace.synth import render_video
from vidtrace.videoio import write_video

SOURCE_SECONDS = 2.4
SOURCE_FPS = 25.0
SOURCE_SIZE = (128, 96)  # width, height
TINY_OPTIONS = MakeOptions(queries=5, negatives=2, copy_seconds=(1.0, 2.0), filler_seconds=(0.5, 1.0),
                           min_query_seconds=2.0, negative_seconds=(2.0, 3.0), long_side=(96, 128),
                           fps_choices=(25.0,), synth_filler=0.5)
TINY_SEED = 3


def write_sources(folder: Path, count: int = 4) -> Path:
    """`count` unrelated generated videos v0.mp4 ... (2.4 s, 25 fps, 128x96, one family each)."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = SOURCE_SIZE
    for i in range(count):
        clip = render_video(100 + i, duration_s=SOURCE_SECONDS, fps=SOURCE_FPS, width=w, height=h, shots=1)
        write_video(folder / f"v{i}.mp4", clip, options={"threads": "1", "mbtree": "0"})
    return folder


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory) -> Path:
    """Folder of generated source videos (see write_sources)."""
    return write_sources(tmp_path_factory.mktemp("bench_sources"))


@pytest.fixture(scope="session")
def tiny_bench(tiny_sources, tmp_path_factory) -> Path:
    """A benchmark made from tiny_sources with TINY_OPTIONS and TINY_SEED."""
    out = tmp_path_factory.mktemp("tiny_bench") / "bench"
    make_benchmark(tiny_sources, out, TINY_SEED, TINY_OPTIONS)
    return out
