"""Shared pytest fixtures: small generated test videos and the shared corpus.

Session-scoped, generated once per run into a temporary folder (about a
second in all):

- `synth_videos`: dict name -> Path of the files below;
- `synth_video_clips`: dict name -> Clip of what was written to each good
  file (frames as coded, i.e. before any rotation; intended timestamps);
- `good_synth_video` / `bad_synth_video`: parametrised over the good / bad
  names, each giving (name, Path);
- `shared_videos`: Path of ../shared/data/videos (skips when absent).

Good files (160x120 unless said, 25 fps, content from vidtrace.synth):
  mp4 (H.264, 3 s, 2 shots), webm (VP9), mkv (H.264), avi (MPEG-4 part 2),
  gif -- all five hold the same 75 frames;
  vfr_mp4: 40 frames at irregular times (steps 20..160 ms);
  rotated_mp4: 1 s with 90-degree clockwise display rotation (coded 160x120,
  shown 120x160);
  odd_mp4: 321x241, 1 s (H.264 yuv444p, since 4:2:0 needs even sizes).
Bad files: empty_mp4 (0 bytes), truncated_mp4 (first 30% of mp4's bytes),
garbage_mp4 (random bytes), text_mkv (a text file named .mkv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidtrace.synth import render_scene, render_video
from vidtrace.types import Clip
from vidtrace.videoio import write_video

GOOD_SYNTH_VIDEOS = ("mp4", "webm", "mkv", "avi", "gif", "vfr_mp4", "rotated_mp4", "odd_mp4")
BAD_SYNTH_VIDEOS = ("empty_mp4", "truncated_mp4", "garbage_mp4", "text_mkv")

SHARED_VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def make_synth_videos(folder: Path) -> tuple[dict[str, Path], dict[str, Clip]]:
    """Write the test videos (see the module docstring) into folder; returns
    (name -> path, name -> source Clip of the good files)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    clips: dict[str, Clip] = {}

    base = render_video(seed=11, duration_s=3.0, fps=25.0, width=160, height=120, shots=2)
    for name, ext in (("mp4", "mp4"), ("webm", "webm"), ("mkv", "mkv"), ("avi", "avi"), ("gif", "gif")):
        paths[name] = write_video(folder / f"synth.{ext}", base)
        clips[name] = base

    steps = np.random.default_rng(12).choice([0.02, 0.04, 0.07, 0.1, 0.16], size=39)
    vfr_times = np.round(np.concatenate([[0.0], np.cumsum(steps)]), 3)
    vfr = Clip(render_scene(seed=12, duration_s=1.6, fps=25.0, width=160, height=120).frames, vfr_times)
    paths["vfr_mp4"] = write_video(folder / "vfr.mp4", vfr)
    clips["vfr_mp4"] = vfr

    rotated = render_scene(seed=13, duration_s=1.0, fps=25.0, width=160, height=120)
    paths["rotated_mp4"] = write_video(folder / "rotated.mp4", rotated, rotation=90)
    clips["rotated_mp4"] = rotated

    odd = render_scene(seed=14, duration_s=1.0, fps=25.0, width=321, height=241)
    paths["odd_mp4"] = write_video(folder / "odd_321x241.mp4", odd)
    clips["odd_mp4"] = odd

    paths["empty_mp4"] = folder / "empty.mp4"
    paths["empty_mp4"].write_bytes(b"")
    data = paths["mp4"].read_bytes()
    paths["truncated_mp4"] = folder / "truncated.mp4"
    paths["truncated_mp4"].write_bytes(data[: int(len(data) * 0.3)])
    paths["garbage_mp4"] = folder / "garbage.mp4"
    paths["garbage_mp4"].write_bytes(np.random.default_rng(15).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    paths["text_mkv"] = folder / "notes.mkv"
    paths["text_mkv"].write_text("This is not a video.\n" * 50)
    return paths, clips


@pytest.fixture(scope="session")
def synth_video_set(tmp_path_factory) -> tuple[dict[str, Path], dict[str, Clip]]:
    """(synth_videos, synth_video_clips), generated once per session."""
    return make_synth_videos(tmp_path_factory.mktemp("synth_videos"))


@pytest.fixture(scope="session")
def synth_videos(synth_video_set) -> dict[str, Path]:
    """name -> Path of the generated test videos (module docstring)."""
    return synth_video_set[0]


@pytest.fixture(scope="session")
def synth_video_clips(synth_video_set) -> dict[str, Clip]:
    """name -> source Clip of each good generated video."""
    return synth_video_set[1]


@pytest.fixture(params=GOOD_SYNTH_VIDEOS)
def good_synth_video(request, synth_videos) -> tuple[str, Path]:
    """(name, path), once for each good generated video."""
    return request.param, synth_videos[request.param]


@pytest.fixture(params=BAD_SYNTH_VIDEOS)
def bad_synth_video(request, synth_videos) -> tuple[str, Path]:
    """(name, path), once for each broken file (empty, truncated, garbage, text)."""
    return request.param, synth_videos[request.param]


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    """Path of the shared test corpus ../shared/data/videos (beside the repo);
    skips the test when it is absent."""
    if not SHARED_VIDEOS.is_dir():
        pytest.skip(f"../shared/data/videos not present: {SHARED_VIDEOS} (shared corpus not checked out)")
    return SHARED_VIDEOS
