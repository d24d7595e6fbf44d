"""Blockwise Chamfer similarity == dense reference; video-level Chamfer; sparse maps."""

from __future__ import annotations

import numpy as np
import pytest

from vidtrace.similarity import (
    chamfer_frame_similarity,
    chamfer_video_similarity,
    dense_frame_similarity,
    similarity_map,
    sparsify,
    video_chamfer,
)


def _video(rng, t, r, d):
    x = rng.normal(size=(t, r, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("block", [1, 5, 16, 256])
def test_blockwise_equals_dense(symmetric, block):
    rng = np.random.default_rng(block)
    q, r = _video(rng, 23, 10, 8), _video(rng, 31, 9, 8)
    got = chamfer_frame_similarity(q, r, symmetric=symmetric, block=block)
    want = dense_frame_similarity(q, r, symmetric=symmetric)
    assert got.shape == (23, 31) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-6
    assert abs(chamfer_video_similarity(q, r, symmetric=symmetric, block=block)
               - video_chamfer(want, symmetric=symmetric)) < 1e-6


def test_hand_computed_chamfer():
    # query frame: regions e0, e1; reference frame: regions e0, (e0 + e2)/sqrt2
    e = np.eye(3, dtype=np.float32)
    q = np.stack([e[0], e[1]])[None]
    r = np.stack([e[0], (e[0] + e[2]) / np.sqrt(2)])[None]
    # CS(q, r) = mean(max(1, 1/sqrt2), max(0, 0)) = 0.5; CS(r, q) = mean(1, 1/sqrt2)
    assert np.isclose(chamfer_frame_similarity(q, r)[0, 0], 0.5)
    assert np.isclose(chamfer_frame_similarity(q, r, symmetric=True)[0, 0], 0.5 * (0.5 + (1 + 2 ** -0.5) / 2))
    s = np.array([[0.2, 0.9], [0.4, 0.1], [0.3, 0.3]])
    assert np.isclose(video_chamfer(s), (0.9 + 0.4 + 0.3) / 3)
    assert np.isclose(video_chamfer(s, symmetric=True), 0.5 * ((0.9 + 0.4 + 0.3) / 3 + (0.4 + 0.9) / 2))
    assert video_chamfer(np.zeros((0, 3))) == 0.0


def test_global_descriptors_are_one_region():
    rng = np.random.default_rng(1)
    q, r = _video(rng, 6, 1, 5)[:, 0], _video(rng, 4, 1, 5)[:, 0]
    assert np.allclose(chamfer_frame_similarity(q, r), q @ r.T, atol=1e-6)


@pytest.mark.parametrize("block", [3, 64])
def test_similarity_map_top_k_and_threshold(block):
    rng = np.random.default_rng(2)
    q, r = _video(rng, 17, 4, 6), _video(rng, 29, 4, 6)
    qt, rt = np.arange(17) * 0.5, np.arange(29) * 0.5
    dense = np.clip(dense_frame_similarity(q, r), 0, 1)
    smap = similarity_map(q, r, qt, rt, top_k=3, block=block)
    assert smap.shape == (17, 29) and np.all(np.bincount(smap.qi, minlength=17) <= 3)
    for i in range(17):
        want = np.sort(dense[i])[-3:]
        got = np.sort(smap.sim[smap.qi == i])
        assert np.allclose(got, want[want > 0], atol=1e-6)
    assert np.allclose(smap.sim, dense[smap.qi, smap.ri], atol=1e-6)
    full = similarity_map(q, r, qt, rt, top_k=None, threshold=0.3, block=block)
    assert np.array_equal(full.dense() > 0, dense > 0.3)
    assert np.allclose(full.dense(), np.where(dense > 0.3, dense, 0), atol=1e-6)
    sp = sparsify(dense, qt, rt, top_k=3)
    assert np.array_equal(np.c_[sp.qi, sp.ri], np.c_[smap.qi, smap.ri])


def test_empty_and_mismatched_inputs():
    rng = np.random.default_rng(3)
    q = _video(rng, 0, 2, 4)
    r = _video(rng, 5, 2, 4)
    assert chamfer_frame_similarity(q, r).shape == (0, 5)
    assert chamfer_video_similarity(q, r) == 0.0
    assert len(similarity_map(q, r, np.zeros(0), np.arange(5.0)).sim) == 0
    with pytest.raises(ValueError):
        chamfer_frame_similarity(r, _video(rng, 3, 2, 5))
    with pytest.raises(ValueError):
        similarity_map(r, r, np.arange(4.0), np.arange(5.0))
