"""Generated footage: shapes, determinism, and the perceptual-hash properties
the tests and benchmarks rely on (PDQ distances, Hamming over 256 bits)."""

from __future__ import annotations

import time

import numpy as np
import pdqhash
import pytest

from vidtrace.synth import Scene, iter_video_frames, plan_shots, render_scene, render_video, shot_seed


def pdq_bits(rgb: np.ndarray) -> np.ndarray:
    """bool [256] PDQ hash of one uint8 [H, W, 3] frame."""
    return pdqhash.compute(np.ascontiguousarray(rgb))[0].astype(bool)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(pdq_bits(a) != pdq_bits(b)))


def test_render_scene_shapes_and_times():
    clip = render_scene(1, duration_s=2.0, fps=25.0, width=160, height=120)
    assert clip.frames.shape == (50, 120, 160, 3)
    assert clip.frames.dtype == np.uint8
    np.testing.assert_allclose(clip.timestamps, np.arange(50) / 25.0)
    odd = render_scene(1, duration_s=0.2, fps=10.0, width=33, height=17)
    assert odd.frames.shape == (2, 17, 33, 3)


def test_same_seed_same_frames_different_seed_different():
    a = render_scene(5, duration_s=0.4, fps=25.0, width=96, height=72)
    b = render_scene(5, duration_s=0.4, fps=25.0, width=96, height=72)
    c = render_scene(6, duration_s=0.4, fps=25.0, width=96, height=72)
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    assert np.array_equal(render_video(3, 2.0, 10.0, 64, 48).frames, render_video(3, 2.0, 10.0, 64, 48).frames)


def test_chunks_continue_the_scene():
    whole = render_scene(2, duration_s=2.0, fps=25.0, width=80, height=60)
    tail = render_scene(2, duration_s=1.0, fps=25.0, width=80, height=60, start_s=1.0)
    np.testing.assert_allclose(tail.timestamps, whole.timestamps[25:])
    assert np.array_equal(tail.frames, whole.frames[25:])


def test_frames_are_structured_not_flat_or_noise():
    frame = Scene(8).frame(1.0, 320, 240).astype(np.float32)
    assert frame.std(axis=(0, 1)).min() > 15  # every channel varies
    neighbour = np.abs(np.diff(frame, axis=1)).mean()
    shuffled = np.random.default_rng(0).permutation(frame.reshape(-1, 3))
    random_pairs = np.abs(np.diff(shuffled, axis=0)).mean()
    assert neighbour < 0.25 * random_pairs  # spatially coherent, unlike noise
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 2000  # textured, not a few flat colours


def test_pdq_unrelated_seeds_are_far_apart():
    hashes = np.array([pdq_bits(Scene(seed).frame(1.0, 320, 240)) for seed in range(12)])
    dist = (hashes[:, None, :] != hashes[None, :, :]).sum(-1)[np.triu_indices(12, 1)]
    assert dist.min() >= 80, dist.min()
    assert np.median(dist) >= 110, np.median(dist)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pdq_consecutive_frames_close_two_seconds_apart_far(seed):
    scene = Scene(seed)
    step = 1.0 / 25.0
    consecutive = [hamming(scene.frame(t), scene.frame(t + step)) for t in np.arange(0.0, 3.0, 0.25)]
    assert max(consecutive) <= 20, consecutive
    assert np.mean(consecutive) <= 10, consecutive
    two_s = [hamming(scene.frame(t), scene.frame(t + 2.0)) for t in (0.0, 0.4, 0.8)]
    assert min(two_s) > 40, two_s
    assert all(pdqhash.compute(scene.frame(t))[1] >= 50 for t in (0.0, 1.5, 3.0))
    # similar but never identical: something moves in every frame
    small = render_scene(seed, duration_s=2.0, fps=25.0, width=80, height=60).frames
    assert all(np.any(small[i] != small[i + 1]) for i in range(len(small) - 1))


def test_resolution_independent():
    scene = Scene(4)
    small = scene.frame(1.5, 160, 120).astype(np.float32)
    large = scene.frame(1.5, 320, 240).astype(np.float32)
    down = large.reshape(120, 2, 160, 2, 3).mean(axis=(1, 3))
    assert np.abs(small - down).mean() < 4.0
    assert hamming(small.astype(np.uint8), down.astype(np.uint8)) <= 24


def test_plan_shots():
    bounds = plan_shots(7, 12.0, 4)
    assert bounds.shape == (5,) and bounds[0] == 0.0 and bounds[-1] == 12.0
    assert np.all(np.diff(bounds) >= 12.0 / 4 / 3 - 1e-9)
    np.testing.assert_allclose(plan_shots(7, 6.0, [1.0, 2.0, 3.0]), [0.0, 1.0, 3.0, 6.0])
    with pytest.raises(ValueError):
        plan_shots(7, 6.0, [1.0, 2.0])
    with pytest.raises(ValueError):
        plan_shots(7, 6.0, 0)


def test_render_video_has_hard_cuts_between_unrelated_shots():
    clip = render_video(9, duration_s=6.0, fps=10.0, width=320, height=240, shots=[2.0, 1.5, 2.5])
    assert len(clip) == 60
    for cut in (20, 35):  # first frames of shots 2 and 3 (t = 2.0 s, t = 3.5 s)
        assert hamming(clip.frames[cut - 1], clip.frames[cut]) >= 70
        assert hamming(clip.frames[cut], clip.frames[cut + 1]) <= 20
    # each shot is its own scene, starting at its local time 0
    first_of_shot2 = Scene(shot_seed(9, 1)).frame(0.0, 320, 240)
    assert np.array_equal(clip.frames[20], first_of_shot2)


def test_iter_video_frames_matches_render_video():
    clip = render_video(4, duration_s=1.2, fps=10.0, width=64, height=48, shots=2)
    frames = list(iter_video_frames(4, duration_s=1.2, fps=10.0, width=64, height=48, shots=2))
    assert len(frames) == len(clip)
    assert all(np.array_equal(a, b) for a, b in zip(frames, clip.frames))


def test_bad_arguments():
    with pytest.raises(ValueError):
        render_scene(1, duration_s=1.0, fps=0.0)
    with pytest.raises(ValueError):
        render_scene(1, duration_s=-1.0)
    with pytest.raises(ValueError):
        Scene(1).frame(0.0, 0, 10)


def test_render_speed():
    # 10 s of 320x240 at 25 fps takes about a second; the bound only
    # catches a gross slowdown on a loaded 2-core machine.
    start = time.perf_counter()
    clip = render_scene(1, duration_s=10.0, fps=25.0, width=320, height=240)
    assert len(clip) == 250
    assert time.perf_counter() - start < 20.0
