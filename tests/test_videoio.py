"""Video writing: round trips through PyAV for every container, variable
frame rate, rotation metadata, odd sizes, atomic writes, bad arguments; and
sanity of the generated fixture files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidtrace.synth import iter_video_frames, render_scene
from vidtrace.types import Clip
from vidtrace.videoio import gif_palette, read_all_frames, read_rotation, write_video

# Mean absolute error (0..255) allowed between written and decoded frames.
_MAX_ERROR = {"gif": 25.0}
_DEFAULT_MAX_ERROR = 8.0


def _mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_good_fixture_round_trip(good_synth_video, synth_video_clips):
    name, path = good_synth_video
    source = synth_video_clips[name]
    decoded = read_all_frames(path)
    assert decoded.frames.shape == source.frames.shape
    tol = 1e-3 if path.suffix in (".mkv", ".webm") else 1e-4  # Matroska stores milliseconds
    np.testing.assert_allclose(decoded.timestamps, source.timestamps - source.timestamps[0], atol=tol)
    assert _mean_error(decoded.frames, source.frames) < _MAX_ERROR.get(name, _DEFAULT_MAX_ERROR)


def test_fixture_codecs_and_rotation(synth_videos):
    import av

    expected = {"mp4": "h264", "webm": "vp9", "mkv": "h264", "avi": "mpeg4", "gif": "gif",
                "vfr_mp4": "h264", "rotated_mp4": "h264", "odd_mp4": "h264"}
    for name, codec in expected.items():
        with av.open(str(synth_videos[name])) as container:
            assert container.streams.video[0].codec_context.name == codec, name
        assert read_rotation(synth_videos[name]) == (90 if name == "rotated_mp4" else 0), name


def test_bad_fixture_files_are_bad(bad_synth_video, synth_videos):
    import av

    name, path = bad_synth_video
    assert path.exists()
    if name == "empty_mp4":
        assert path.stat().st_size == 0
    if name == "truncated_mp4":
        assert 0 < path.stat().st_size < 0.31 * synth_videos["mp4"].stat().st_size
    if name in ("empty_mp4", "garbage_mp4", "text_mkv"):
        with pytest.raises(av.FFmpegError):
            with av.open(str(path)) as container:
                list(container.decode(video=0))


def test_vfr_timestamps_round_trip(tmp_path):
    frames = render_scene(21, duration_s=1.0, fps=25.0, width=64, height=48).frames
    times = np.cumsum(np.r_[0.0, np.random.default_rng(1).uniform(0.01, 0.3, len(frames) - 1)])
    for ext, tol in (("mp4", 1e-4), ("mkv", 1e-3), ("webm", 1e-3), ("mov", 1e-4)):
        path = write_video(tmp_path / f"vfr.{ext}", frames, timestamps=times)
        decoded = read_all_frames(path)
        assert len(decoded) == len(frames), ext
        np.testing.assert_allclose(decoded.timestamps, times, atol=tol, err_msg=ext)


def test_vfr_mp4_duration_and_rate(synth_videos, synth_video_clips):
    import av

    times = synth_video_clips["vfr_mp4"].timestamps
    with av.open(str(synth_videos["vfr_mp4"])) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base)
    # no B-frames for VFR, so the container duration covers every frame
    assert times[-1] <= duration <= times[-1] + 0.2


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv", "webm"])
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata(tmp_path, ext, rotation):
    img = np.zeros((2, 24, 32, 3), dtype=np.uint8)
    img[:, :8, :8] = 255  # white block in the top-left corner
    path = write_video(tmp_path / f"rot.{ext}", img, fps=10, rotation=rotation)
    assert read_rotation(path) == rotation
    coded = read_all_frames(path)
    assert coded.frames.shape == (2, 24, 32, 3)  # stored as given
    shown = read_all_frames(path, apply_rotation=True).frames[0].mean(axis=2)
    h, w = shown.shape
    assert (h, w) == ((32, 24) if rotation in (90, 270) else (24, 32))
    corners = {"top_left": shown[:4, :4], "top_right": shown[:4, -4:],
               "bottom_right": shown[-4:, -4:], "bottom_left": shown[-4:, :4]}
    # turning clockwise moves the top-left corner to the top-right, then ...
    expected = {90: "top_right", 180: "bottom_right", 270: "bottom_left"}[rotation]
    assert max(corners, key=lambda k: corners[k].mean()) == expected


def test_rotation_needs_a_container_that_stores_it(tmp_path):
    frames = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    for ext in ("avi", "gif"):
        with pytest.raises(ValueError):
            write_video(tmp_path / f"r.{ext}", frames, fps=10, rotation=90)
    with pytest.raises(ValueError):
        write_video(tmp_path / "r.mp4", frames, fps=10, rotation=45)
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes(tmp_path):
    clip = render_scene(22, duration_s=0.4, fps=25.0, width=321, height=241)
    for ext in ("mp4", "mkv", "webm", "avi", "gif"):
        decoded = read_all_frames(write_video(tmp_path / f"odd.{ext}", clip))
        assert decoded.frames.shape == clip.frames.shape, ext
    # forcing 4:2:0 on H.264 pads to even sizes (last row / column repeated)
    padded = read_all_frames(write_video(tmp_path / "odd420.mp4", clip, pix_fmt="yuv420p"))
    assert padded.frames.shape == (len(clip), 242, 322, 3)
    assert _mean_error(padded.frames[:, :241, :321], clip.frames) < _DEFAULT_MAX_ERROR


def test_array_and_generator_input(tmp_path):
    frames = render_scene(23, duration_s=1.0, fps=30.0, width=64, height=48).frames
    decoded = read_all_frames(write_video(tmp_path / "arr.mp4", frames, fps=30))
    assert len(decoded) == 30
    np.testing.assert_allclose(decoded.timestamps, np.arange(30) / 30.0, atol=1e-4)

    gen = iter_video_frames(24, duration_s=2.0, fps=12.5, width=64, height=48, shots=2)
    decoded = read_all_frames(write_video(tmp_path / "gen.webm", gen, fps=12.5))
    assert decoded.frames.shape == (25, 48, 64, 3)
    np.testing.assert_allclose(decoded.timestamps, np.arange(25) / 12.5, atol=1e-3)


def test_clip_timestamps_start_at_zero_in_the_file(tmp_path):
    clip = render_scene(25, duration_s=0.4, fps=25.0, width=32, height=32, start_s=5.0)
    decoded = read_all_frames(write_video(tmp_path / "late.mkv", clip))
    np.testing.assert_allclose(decoded.timestamps, clip.timestamps - 5.0, atol=1e-3)


def test_declared_frame_rate(tmp_path):
    import av

    frames = np.zeros((6, 16, 16, 3), dtype=np.uint8)
    for ext in ("mp4", "avi", "webm", "gif"):
        with av.open(str(write_video(tmp_path / f"r.{ext}", frames, fps=20))) as container:
            assert float(container.streams.video[0].average_rate) == pytest.approx(20.0, rel=1e-3), ext


def test_crf_and_bitrate(tmp_path):
    clip = render_scene(26, duration_s=1.0, fps=25.0, width=160, height=120)
    fine = write_video(tmp_path / "fine.mp4", clip, crf=12).stat().st_size
    coarse = write_video(tmp_path / "coarse.mp4", clip, crf=40).stat().st_size
    assert coarse < fine / 2
    low = write_video(tmp_path / "low.avi", clip, bitrate=100_000).stat().st_size
    high = write_video(tmp_path / "high.avi", clip, bitrate=2_000_000).stat().st_size
    assert low < high
    vp8 = read_all_frames(write_video(tmp_path / "vp8.webm", clip, codec="libvpx"))
    assert _mean_error(vp8.frames, clip.frames) < _DEFAULT_MAX_ERROR


def test_gif_palette():
    pal = gif_palette()
    assert pal.shape == (256, 4) and pal.dtype == np.uint8
    assert np.all(pal[:, 0] == 255)  # opaque ARGB
    assert pal[0, 1:].tolist() == [0, 0, 0] and pal[251, 1:].tolist() == [255, 255, 255]


def test_bad_input_leaves_no_file(tmp_path):
    good = np.zeros((3, 16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.flv", good, fps=10)
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", good[:0], fps=10)
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", good.astype(np.float32), fps=10)
    with pytest.raises(ValueError):  # timestamps must increase
        write_video(tmp_path / "x.mp4", good, timestamps=[0.0, 0.1, 0.1])
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", good, timestamps=[0.0, 0.1])
    with pytest.raises(ValueError):  # a frame of another size mid-stream
        write_video(tmp_path / "x.mp4", iter([good[0], good[1], np.zeros((8, 8, 3), np.uint8)]), fps=10)
    with pytest.raises(ValueError):  # more frames than timestamps, from a generator
        write_video(tmp_path / "x.mp4", iter(good), timestamps=[0.0, 0.1])
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_atomically(tmp_path):
    path = tmp_path / "a.mp4"
    path.write_bytes(b"old")
    write_video(path, np.zeros((3, 16, 16, 3), dtype=np.uint8), fps=10)
    assert len(read_all_frames(path)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]  # no temporary left behind
    with pytest.raises(ValueError):
        write_video(path, np.zeros((3, 16, 16, 3), dtype=np.uint8), timestamps=[0.0, 0.0, 1.0])
    assert len(read_all_frames(path)) == 3  # a failed write keeps the previous file


def test_shared_rotated_video(shared_videos: Path):
    path = shared_videos / "fire2.mp4"
    if not path.exists():
        pytest.skip(f"{path} not in the shared corpus")
    assert read_rotation(path) == 180


def test_clip_input_uses_its_timestamps(tmp_path):
    frames = np.zeros((4, 16, 16, 3), dtype=np.uint8)
    clip = Clip(frames, np.array([0.0, 0.5, 0.6, 2.0]))
    decoded = read_all_frames(write_video(tmp_path / "c.mp4", clip))
    np.testing.assert_allclose(decoded.timestamps, clip.timestamps, atol=1e-4)
