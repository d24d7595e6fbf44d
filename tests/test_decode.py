"""Decoding: sampling, exact timestamps, rotation, containers, and clear errors on bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vidtrace.decode import DecodeOptions, DecodeStats, expand_paths, iter_frames, probe
from vidtrace.errors import ConfigError, VideoError

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"
needs_shared = pytest.mark.skipif(not VIDEOS.is_dir(), reason="../shared/data/videos not present")


def test_bad_options():
    with pytest.raises(ConfigError):
        DecodeOptions(fps=-1)
    with pytest.raises(ConfigError):
        DecodeOptions(fps=float("nan"))


@pytest.mark.parametrize("content,problem", [
    (b"", "empty file"),
    (os.urandom(4096), "not a video file"),
    (b"hello, I am a text file\n" * 100, "not a video file"),
])
def test_bad_files_name_file_and_problem(tmp_path, content, problem):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(VideoError) as err:
        list(iter_frames(p))
    assert str(p) in str(err.value) and problem in str(err.value)


def test_missing_and_directory(tmp_path):
    with pytest.raises(VideoError, match="file not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="directory"):
        list(iter_frames(tmp_path))


def test_expand_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes(b"1")
    (tmp_path / "a" / "notes.txt").write_text("n")
    (tmp_path / "b.MKV").write_bytes(b"1")
    got = expand_paths([tmp_path])
    assert [Path(g).name for g in got] == ["x.mp4", "b.MKV"] or sorted(Path(g).name for g in got) == ["b.MKV", "x.mp4"]
    assert expand_paths([tmp_path / "notes.txt"]) == [str(tmp_path / "notes.txt")]


@needs_shared
def test_sampling_rate_and_exact_times():
    frames = list(iter_frames(VIDEOS / "chair-orig-22-sd-bar.mp4", DecodeOptions(fps=2, skip_nonref=False)))
    t = np.array([f.timestamp for f in frames])
    assert len(frames) == 45  # 22.43 s at 2 fps
    assert np.all(np.diff(t) > 0)
    assert np.allclose(t * 30, np.round(t * 30), atol=0.01)  # on the 30 fps frame grid
    assert np.all(np.floor(t * 2 + 1e-6) == np.arange(45))  # one frame per half second


@needs_shared
def test_every_frame_and_resize():
    opts = DecodeOptions(fps=None, max_size=128)
    frames = list(iter_frames(VIDEOS / "video-1s.mp4", opts))
    assert len(frames) == 35
    assert max(frames[0].rgb.shape[:2]) == 128 and frames[0].rgb.dtype == np.uint8


@needs_shared
def test_rotation_metadata_applied():
    info = probe(VIDEOS / "fire2.mp4")
    assert info.rotation == 180
    (first,) = list(iter_frames(VIDEOS / "fire2.mp4", DecodeOptions(fps=0.1, max_size=0)))[:1]
    assert first.rgb.shape[:2] == (info.height, info.width)


@needs_shared
@pytest.mark.parametrize("name", ["pigs_in_a_polka.gif", "no_duration.webm", "test.webm", "video-15s.avi",
                                  "again.mkv", "carphone_distorted.mp4", "video_with_failing_audio.mp4"])
def test_containers_decode(name):
    stats = DecodeStats()
    frames = list(iter_frames(VIDEOS / name, DecodeOptions(fps=2), stats))
    assert frames and stats.decoded >= len(frames)
    t = np.array([f.timestamp for f in frames])
    assert t[0] >= 0 and np.all(np.diff(t) > 0)
    assert stats.duration > 0


@needs_shared
def test_truncated_file_is_reported(tmp_path):
    data = (VIDEOS / "big_buck_bunny_0_30.webm").read_bytes()
    p = tmp_path / "cut.webm"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match="truncated|corrupt") as err:
        list(iter_frames(p))
    assert str(p) in str(err.value)
    # A caller that accepts partial input gets what decodes.
    assert list(iter_frames(p, DecodeOptions(strict=False)))


def test_generated_containers(good_synth_video, synth_video_clips):
    name, path = good_synth_video
    src = synth_video_clips[name]
    frames = list(iter_frames(path, DecodeOptions(fps=None, max_size=0)))
    assert len(frames) == len(src)
    t = np.array([f.timestamp for f in frames])
    tol = 0.011 if name == "gif" else 0.002  # GIF stores 1/100 s delays
    assert np.allclose(t, src.timestamps - src.timestamps[0], atol=tol)
    h, w = src.frames.shape[1:3]
    expect = (w, h) if name == "rotated_mp4" else (h, w)  # 90-degree display rotation swaps the sides
    assert frames[0].rgb.shape[:2] == expect


def test_generated_rotation_upright(synth_videos, synth_video_clips):
    src = synth_video_clips["rotated_mp4"].frames[0].astype(float)
    (first,) = list(iter_frames(synth_videos["rotated_mp4"], DecodeOptions(fps=None, max_size=0)))[:1]
    upright = np.rot90(src, k=-1)  # clockwise
    assert np.abs(first.rgb.astype(float) - upright).mean() < 12


def test_generated_bad_files(bad_synth_video):
    name, path = bad_synth_video
    with pytest.raises(VideoError) as err:
        list(iter_frames(path))
    assert str(path) in str(err.value)
