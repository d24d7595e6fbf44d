"""Weights-free region descriptors: layout, invariances, flip variant, registry."""

from __future__ import annotations

import numpy as np
import pytest

from vidtrace.errors import ConfigError
from vidtrace.features.base import FEATURES
from vidtrace.features.regions import (
    RegionExtractor,
    as_regions,
    dct_matrix,
    flip_descriptors,
    region_count,
    zigzag,
)
from vidtrace.synth import render_scene


@pytest.fixture(scope="module")
def frames():
    return list(render_scene(seed=5, duration_s=0.5, fps=8.0, width=160, height=120).frames)


def test_registered_and_layout(frames):
    assert FEATURES["regions"] is RegionExtractor
    ext = RegionExtractor()
    desc, quality = ext.extract(frames)
    assert ext.regions == region_count(3) == 10 and ext.dim == 640 and ext.kind == "float"
    assert desc.shape == (len(frames), 640) and desc.dtype == np.float32
    assert quality.dtype == np.int16 and quality.min() >= ext.min_quality
    norms = np.linalg.norm(as_regions(desc, 10), axis=-1)
    assert np.all(norms <= 1.0 + 1e-5) and norms.mean() > 0.95  # textured regions are ~unit length
    assert ext.config()["regions"] == 10 and ext.config()["region_dim"] == 64
    pooled = ext.index_vectors(desc)
    assert pooled.shape == (len(frames), 64) and np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)


def test_black_frame_is_zero_and_low_quality():
    ext = RegionExtractor()
    desc, quality = ext.extract([np.zeros((90, 120, 3), np.uint8)])
    assert quality[0] == 0 < ext.min_quality and not desc.any()


def test_brightness_and_contrast_invariance(frames):
    ext = RegionExtractor(borders=False)
    f = frames[0].astype(np.float32)
    edited = np.clip((f - 128) * 0.7 + 150, 0, 255).astype(np.uint8)
    a, _ = ext.extract([frames[0]])
    b, _ = ext.extract([edited])
    assert ext.rowwise_similarity(a, b)[0] > 0.97
    other, _ = ext.extract([render_scene(seed=99, duration_s=0.1, fps=10.0, width=160, height=120).frames[0]])
    assert ext.rowwise_similarity(a, other)[0] < 0.7


def test_flip_variant_matches_mirrored_frames(frames):
    ext = RegionExtractor(borders=False)
    desc, _, var = ext.describe(frames, ["flip"])
    mirrored, _ = ext.extract([f[:, ::-1] for f in frames])
    assert np.allclose(var["flip"], flip_descriptors(desc))
    assert ext.rowwise_similarity(var["flip"], mirrored).min() > 0.99
    assert ext.rowwise_similarity(desc, mirrored).max() < 0.9


def test_dct_and_zigzag():
    m = dct_matrix(16)
    assert np.allclose(m @ m.T, np.eye(16), atol=1e-12)
    u, v = zigzag(16, 64)
    assert len(set(zip(u.tolist(), v.tolist()))) == 64 and (0, 0) not in set(zip(u.tolist(), v.tolist()))
    assert (u + v).max() <= 10


def test_similarity_is_region_chamfer(frames):
    ext = RegionExtractor()
    desc, _ = ext.extract(frames)
    s = ext.similarity(desc, desc)
    assert s.shape == (len(frames), len(frames)) and np.diag(s).min() > 0.98  # short vectors: < 1
    assert np.all(np.diag(s) >= s.max(axis=1) - 1e-6)
    assert np.allclose(ext.rowwise_similarity(desc, desc[::-1]), np.diag(s[:, ::-1]), atol=1e-6)


@pytest.mark.parametrize("bad", [{"grid": 2}, {"dim": 0}, {"dim": 256}, {"min_quality": 101}, {"flat_rms": -1}])
def test_bad_params(bad):
    with pytest.raises(ConfigError):
        RegionExtractor(**bad)


def test_small_and_odd_frames():
    ext = RegionExtractor(grid=7, dim=32)
    desc, quality = ext.extract([np.random.default_rng(0).integers(0, 255, (37, 23, 3), dtype=np.uint8)])
    assert desc.shape == (1, 50 * 32) and quality[0] > 0
    assert ext.extract([])[0].shape == (0, 50 * 32)
