"""Deep frame extractors: registry, quality, offline errors, L3-iMAC and SSCD end to end on random weights."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.models.helpers import isolate_cache, serve
from vidtrace.errors import ModelError
from vidtrace.features.base import FEATURES
from vidtrace.features.deep import L3iMACExtractor, SSCDExtractor, luminance_quality


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (36, 64, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((4, 4, 1), np.uint8))  # 144 x 256, blocky content
    return [big, big[:, ::-1].copy(), np.zeros((144, 256, 3), np.uint8)]


def test_registered_as_float_extractors():
    assert FEATURES["resnet50-l3imac"] is L3iMACExtractor and FEATURES["sscd"] is SSCDExtractor
    ext = L3iMACExtractor()
    assert (ext.kind, ext.dim, ext.index_dim, ext.regions, ext.region_dim) == ("float", 4608, 512, 9, 512)
    assert ext.dtype == np.float32
    assert ext.config()["weights"] == ["resnet50-imagenet1k-v1", "visil-pca-resnet50-vcdb-1m"]
    assert (SSCDExtractor().kind, SSCDExtractor().dim, SSCDExtractor().index_dim) == ("float", 512, 512)


def test_quality_flags_black_and_flat_frames(frames):
    copies = [f.copy() for f in frames]
    q = luminance_quality(frames + [np.full((50, 50, 3), 200, np.uint8)])
    assert q.dtype == np.int16 and q.tolist()[2:] == [0, 0]
    assert q[0] == q[1] == 100
    assert all(np.array_equal(a, b) for a, b in zip(frames, copies))
    faded = (frames[0] // 32).astype(np.uint8)  # luminance std about 1.6: below the default min_quality 50
    assert luminance_quality([faded])[0] < L3iMACExtractor().min_quality


@pytest.mark.parametrize("cls, missing", [(L3iMACExtractor, "resnet50-0676ba61.pth"),
                                          (SSCDExtractor, "sscd_disc_mixup.torchscript.pt")])
def test_missing_weights_offline_say_how_to_get_them(monkeypatch, tmp_path, frames, cls, missing):
    pytest.importorskip("torch")
    isolate_cache(monkeypatch, tmp_path)
    monkeypatch.setenv("VIDTRACE_OFFLINE", "1")
    ext = cls()  # construction never touches the weights
    with pytest.raises(ModelError) as err:
        ext.extract(frames)
    msg = str(err.value)
    assert missing in msg and "vidtrace models download" in msg and str(tmp_path / "cache" / missing) in msg


def chamfer_loops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = np.mean([max(float(r @ s) for s in b[j]) for r in a[i]])
    return np.clip(out, 0, 1)


@pytest.mark.filterwarnings("ignore:TF32 acceleration:UserWarning")
def test_l3imac_extractor_end_to_end(monkeypatch, frames):
    torch = pytest.importorskip("torch")
    from tests.models.test_l3imac import reference_regions, reference_whitening
    from tests.models.test_resnet import random_state_dict
    from vidtrace.models.l3imac import L3iMAC
    from vidtrace.models.pca import PCAWhitening
    from vidtrace.models.resnet import resnet50

    rng = np.random.default_rng(3)
    mean = rng.standard_normal(3840).astype(np.float32) * 0.01
    d = np.linspace(100.0, 1.0, 3840).astype(np.float32)
    V = rng.standard_normal((3840, 3840), dtype=np.float32)
    net = L3iMAC(resnet50(random_state_dict()), PCAWhitening(mean, d, V, dims=512))
    monkeypatch.setattr(L3iMACExtractor, "model", lambda self: net)
    seen = []  # the stage activations of each batch, kept for the reference computation
    features = net.backbone.features
    net.backbone.features = lambda x, layers: seen.append(features(x, layers)) or seen[-1]
    ext = L3iMACExtractor(batch_size=2)
    copies = [f.copy() for f in frames]
    with torch.backends.mkldnn.flags(enabled=False):  # oneDNN's first-call set-up costs seconds on CPU
        desc, quality = ext.extract(frames)
    assert all(np.array_equal(a, b) for a, b in zip(frames, copies))
    assert desc.shape == (3, 4608) and desc.dtype == np.float32 and quality.tolist() == [100, 100, 0]
    assert [len(m["layer1"]) for m in seen] == [2, 1]
    maps = {k: torch.cat([m[k] for m in seen]) for k in seen[0]}
    regions = ext.regions_of(desc)
    np.testing.assert_allclose(np.linalg.norm(regions, axis=2), 1.0, atol=1e-5)
    # Same as region pooling with loops on the network's activations, whitened with S2VS's formula.
    ref = reference_regions({k: v.numpy().astype(np.float64) for k, v in maps.items()})
    np.testing.assert_allclose(regions, reference_whitening(ref, mean, d, V, 512), atol=1e-4)

    pooled = ext.index_vectors(desc)
    assert pooled.shape == (3, 512) and pooled.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)
    sim = ext.similarity(desc, desc[:2], chunk=2)
    np.testing.assert_allclose(sim, chamfer_loops(regions, regions[:2]), atol=1e-5)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    np.testing.assert_allclose(ext.rowwise_similarity(desc, desc[::-1]), np.diag(ext.similarity(desc, desc[::-1])),
                               atol=1e-6)
    empty, q = ext.extract([])
    assert empty.shape == (0, 4608) and q.shape == (0,)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_sscd_extractor_downloads_through_the_cache(monkeypatch, tmp_path, frames):
    pytest.importorskip("torch")
    from tests.models.test_sscd import script_file

    cache = isolate_cache(monkeypatch, tmp_path)
    src = script_file(tmp_path)
    serve(monkeypatch, src, name="sscd-disc-mixup", filename="sscd_disc_mixup.torchscript.pt")
    ext = SSCDExtractor(batch_size=2)
    desc, quality = ext.extract(frames)
    assert (cache / "sscd_disc_mixup.torchscript.pt").read_bytes() == src.read_bytes()
    assert desc.shape == (3, 512) and desc.dtype == np.float32 and quality.tolist() == [100, 100, 0]
    np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1.0, atol=1e-5)
    sim = ext.similarity(desc, desc)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    # Score normalisation against a background file.
    bg = tmp_path / "background.npy"
    np.save(bg, desc[:2])
    normed = SSCDExtractor(background=str(bg), first=0, last=0)
    np.testing.assert_allclose(normed.score_adjustment(desc), (desc @ desc[:2].T).max(axis=1), atol=1e-6)
    assert not SSCDExtractor().score_adjustment(desc).any()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_wrong_descriptor_size_is_a_model_error(monkeypatch, tmp_path, frames):
    pytest.importorskip("torch")
    from tests.models.test_sscd import script_file

    isolate_cache(monkeypatch, tmp_path)
    serve(monkeypatch, script_file(tmp_path, dim=64), name="sscd-disc-mixup",
          filename="sscd_disc_mixup.torchscript.pt")
    with pytest.raises(ModelError, match="64-d descriptors, expected 512"):
        SSCDExtractor().extract(frames[:1])


def test_networks_are_loaded_once_per_set_of_files(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    from vidtrace.features import deep
    from vidtrace.models import l3imac

    cache = isolate_cache(monkeypatch, tmp_path)
    for name in L3iMACExtractor.weight_names:
        src = tmp_path / f"{name}.bin"
        src.write_bytes(name.encode())
        serve(monkeypatch, src, name=name)
    calls = []
    monkeypatch.setattr(l3imac, "load_l3imac", lambda *args: calls.append(args) or object())
    deep._l3imac_model.cache_clear()
    try:
        first, second = L3iMACExtractor().model(), L3iMACExtractor().model()
    finally:
        deep._l3imac_model.cache_clear()
    assert first is second
    assert calls == [(str(cache / "resnet50-imagenet1k-v1.bin"), str(cache / "visil-pca-resnet50-vcdb-1m.bin"), 512)]


def test_without_torch_the_error_says_what_to_install(monkeypatch, frames):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match="'sscd' needs PyTorch"):
        SSCDExtractor().extract(frames)
