"""Scorers: Chamfer (numpy) and the trained comparator in onnxruntime, checked against torch."""

from __future__ import annotations

import numpy as np
import pytest

from vidtrace.errors import ConfigError, ModelError
from vidtrace.rescore import SCORERS, WEIGHTS_DIR, get_scorer, region_features
from vidtrace.similarity import chamfer_frame_similarity
from vidtrace.types import FrameFeatures


def _feats(rng, t, r=10, d=64, name="regions", step=0.5):
    x = rng.normal(size=(t, r, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return FrameFeatures(name, "float", np.arange(t) * step, np.full(t, 100, np.int16), x.reshape(t, -1))


def _copy_of(feats, rng, noise=0.3):
    x = feats.descriptors.reshape(len(feats), 10, -1) + noise * rng.normal(size=(len(feats), 10, 64))
    x = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return FrameFeatures(feats.name, "float", feats.timestamps, feats.quality, x.reshape(len(feats), -1))


def test_registry():
    assert {"chamfer", "visil"} <= set(SCORERS)
    with pytest.raises(ConfigError):
        get_scorer("nope")
    with pytest.raises(ConfigError):
        get_scorer("chamfer", bogus=1)


def test_chamfer_scorer():
    rng = np.random.default_rng(0)
    ref = _feats(rng, 30)
    q = FrameFeatures("regions", "float", np.arange(10) * 0.5, np.full(10, 100, np.int16), ref.descriptors[5:15])
    score, smap = get_scorer("chamfer", min_sim=0.5).score(q, ref)
    assert score == pytest.approx(1.0, abs=1e-5)
    assert smap.shape == (10, 30) and set(zip(smap.qi.tolist(), smap.ri.tolist())) == {(i, i + 5) for i in range(10)}
    other = _feats(rng, 12)
    s_other, _ = get_scorer("chamfer").score(other, ref)
    want = np.clip(chamfer_frame_similarity(region_features(other)[0], region_features(ref)[0]), 0, 1).max(1).mean()
    assert s_other == pytest.approx(want, abs=1e-6) and s_other < 0.5


def test_chamfer_on_pdq_hashes_and_quality():
    rng = np.random.default_rng(1)
    ref_bits = rng.integers(0, 256, (6, 32), dtype=np.uint8)
    q_bits = ref_bits.copy()
    q_bits[:, 0] ^= 0x0F  # 4 bits differ: similarity 1 - 4/128
    quality = np.array([100, 100, 100, 100, 100, 10], np.int16)
    ref = FrameFeatures("pdq", "binary", np.arange(6.0), quality, ref_bits)
    q = FrameFeatures("pdq", "binary", np.arange(6.0), quality, q_bits)
    score, smap = get_scorer("chamfer", min_quality=50).score(q, ref)
    assert score == pytest.approx(1 - 4 / 128, abs=1e-6) and smap.shape == (5, 5)


# --------------------------------------------------------------------------- the ONNX comparator



@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random (untrained) network exported like the shipped one."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("einops")
    pytest.importorskip("onnxruntime")
    from vidtrace.models.visil import ViSiL, ViSiLConfig
    from vidtrace.train.s2vs import export_comparator

    torch.manual_seed(0)
    model = ViSiL(ViSiLConfig(dims=64, attention="s2vs", padding="zero")).eval()
    with torch.no_grad():  # make the comparator's output less trivial than xavier's near-zero maps
        model.comparator.fconv.bias.fill_(0.1)
    folder = tmp_path_factory.mktemp("comparator")
    export_comparator(model, folder)
    return model, folder


def _torch_refined(model, q, r):
    import torch

    with torch.no_grad():
        qt, rt = torch.from_numpy(q)[None], torch.from_numpy(r)[None]
        pooled, _ = model.similarity_matrix(qt, rt, pooling=True)
        full, _ = model.similarity_matrix(qt, rt, pooling=False)
        score = model.video_similarity(qt, rt)[0, 0]
    return float(score) / 2 + 0.5, pooled[0, 0].numpy(), full[0, 0].numpy()


@pytest.mark.parametrize("tq,tr", [(24, 20), (9, 13)])
def test_onnxruntime_matches_torch(exported, tq, tr):
    model, folder = exported
    scorer = get_scorer("visil", weights=folder, min_sim=-1.0, top_k=10**6)
    rng = np.random.default_rng(tq)
    ref = _feats(rng, tr)
    q = _copy_of(ref, rng) if tq == tr else _feats(rng, tq)
    qr, rr = region_features(q)[0], region_features(ref)[0]
    want_score, want_pooled, want_full = _torch_refined(model, qr, rr)
    score, full = scorer.refined(qr, rr)
    assert abs(score - want_score) < 1e-4
    assert np.abs(full - want_full).max() < 1e-4
    pooled, _ = scorer.runtime.refine(chamfer_frame_similarity(scorer.runtime.attend(qr), scorer.runtime.attend(rr)))
    assert np.abs(pooled - want_pooled).max() < 1e-4
    s2, smap = scorer.score(q, ref)
    assert s2 == pytest.approx(score) and smap.shape == (tq, tr)
    assert np.allclose(smap.dense(), np.clip(full, 0, 1), atol=1e-6)


def test_tiles_equal_one_run(exported):
    from vidtrace.rescore import ComparatorRuntime

    _, folder = exported
    whole = ComparatorRuntime(folder, tile=512)
    tiled = ComparatorRuntime(folder, tile=40, margin=12)
    sim = np.random.default_rng(5).uniform(-0.2, 1.0, (93, 58)).astype(np.float32)
    p1, f1 = whole.refine(sim)
    p2, f2 = tiled.refine(sim)
    assert p1.shape == p2.shape == (23, 14) and f1.shape == f2.shape == (93, 58)
    assert np.abs(p1 - p2).max() < 1e-5 and np.abs(f1 - f2).max() < 1e-5


def test_short_videos_and_upsample_mode(exported):
    _, folder = exported
    rng = np.random.default_rng(7)
    ref = _feats(rng, 3)
    q = _feats(rng, 2)
    for mode in ("full", "upsample"):
        score, smap = get_scorer("visil", weights=folder, map_mode=mode, min_sim=-1.0).score(q, ref)
        assert 0.0 <= score <= 1.0 and smap.shape == (2, 3)
    _, up = get_scorer("visil", weights=folder, map_mode="upsample").refined(
        region_features(_feats(rng, 10))[0], region_features(_feats(rng, 9))[0])
    assert up.shape == (10, 9) and np.array_equal(up[8], up[7]) and np.array_equal(up[:, 8], up[:, 7])


def test_bad_weights(tmp_path, exported):
    _, folder = exported
    with pytest.raises(ModelError):
        get_scorer("visil", weights=tmp_path)
    bad = tmp_path / "c"
    bad.mkdir()
    for f in folder.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "comparator.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="SHA-256"):
        get_scorer("visil", weights=bad)
    with pytest.raises(ConfigError):
        get_scorer("visil", weights=folder, map_mode="nope")


def test_shipped_comparator_matches_torch():
    """The shipped ONNX files against the torch network of the shipped state dict."""
    if not (WEIGHTS_DIR / "comparator.json").exists():
        pytest.skip("no shipped comparator")
    pytest.importorskip("torch")
    pytest.importorskip("einops")
    from vidtrace.rescore import load_comparator_info
    from vidtrace.train.s2vs import load_exported

    _, info = load_comparator_info()
    model = load_exported()
    rng = np.random.default_rng(11)
    ref = _feats(rng, 21, d=info["config"]["dims"])
    q = _copy_of(ref, rng)
    qr, rr = region_features(q)[0], region_features(ref)[0]
    want_score, _, want_full = _torch_refined(model, qr, rr)
    score, full = get_scorer("visil").refined(qr, rr)
    assert abs(score - want_score) < 1e-4 and np.abs(full - want_full).max() < 1e-4


def test_export_roundtrip(exported):
    import torch

    from vidtrace.train.s2vs import load_exported

    model, folder = exported
    back = load_exported(folder)
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)


def test_chamfer_streaming_path_equals_dense(monkeypatch):
    from vidtrace import rescore

    rng = np.random.default_rng(4)
    ref, q = _feats(rng, 23), _feats(rng, 17)
    for symmetric in (False, True):
        scorer = get_scorer("chamfer", symmetric=symmetric, block=8, min_sim=0.1)
        s_dense, m_dense = scorer.score(q, ref)
        monkeypatch.setattr(rescore, "_DENSE_LIMIT", 0)
        s_stream, m_stream = scorer.score(q, ref)
        monkeypatch.undo()
        assert s_stream == pytest.approx(s_dense, abs=1e-6)
        assert np.array_equal(np.c_[m_dense.qi, m_dense.ri], np.c_[m_stream.qi, m_stream.ri])
        assert np.allclose(m_dense.sim, m_stream.sim, atol=1e-6)
