"""Index backends (binary and float) and the key layout."""

from __future__ import annotations

import numpy as np
import pytest

from vidtrace.errors import ConfigError
from vidtrace.features.base import FrameExtractor, register_extractor
from vidtrace.index import get_index
from vidtrace.index.base import FRAME_MASK, make_keys, split_keys


def test_keys_roundtrip():
    keys = make_keys(12345, np.array([0, 7, FRAME_MASK]), variant=3)
    vid, idx = split_keys(keys)
    assert (vid == 12345).all() and list(idx) == [0, 7, FRAME_MASK]
    with pytest.raises(ConfigError):
        make_keys(1, np.array([FRAME_MASK + 1]))
    with pytest.raises(ConfigError):
        make_keys(1, np.array([0]), variant=16)


@pytest.mark.parametrize("name", ["flat", "hnsw"])
def test_binary_backends(name):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    idx = get_index(name, 256)
    idx.add(make_keys(5, np.arange(200)), codes[:200])
    idx.add(make_keys(6, np.arange(100)), codes[200:])
    dist, keys = idx.search(codes[[3, 250]], 2)
    assert list(dist[:, 0]) == [0, 0]
    assert list(split_keys(keys[:, 0])[0]) == [5, 6]
    again = type(idx).from_bytes(idx.to_bytes(), 256, **idx.params())
    assert len(again) == 300 and np.array_equal(again.search(codes[:5], 1)[1], idx.search(codes[:5], 1)[1])
    if idx.supports_remove:
        assert idx.remove_videos([5]) == 200 and len(idx) == 100


@pytest.mark.parametrize("name", ["flat", "hnsw"])
def test_float_backends(name):
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(150, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx = get_index(name, 16, "float")
    assert idx.metric == "ip"
    idx.add(make_keys(2, np.arange(150)), vecs)
    sims, keys = idx.search(vecs[:4], 1)
    assert np.allclose(sims[:, 0], 1.0, atol=1e-5)
    assert list(split_keys(keys[:, 0])[1]) == [0, 1, 2, 3]
    again = type(idx).from_bytes(idx.to_bytes(), 16, **idx.params())
    assert len(again) == 150
    if idx.supports_remove:
        assert idx.remove_videos([2]) == 150


def test_unknown_index():
    with pytest.raises(ConfigError, match="unknown index type"):
        get_index("btree", 256)


@register_extractor("test-tiny-float")
class TinyFloat(FrameExtractor):
    """A float descriptor for tests: the 4x4 grey thumbnail, mean-removed, L2-normalised."""

    kind = "float"
    dim = 16

    def extract(self, frames):
        out = []
        for f in frames:
            g = f.mean(axis=2)
            h, w = g.shape
            t = g[: h // 4 * 4, : w // 4 * 4].reshape(4, h // 4, 4, w // 4).mean(axis=(1, 3)).ravel()
            t = t - t.mean()
            out.append(t / (np.linalg.norm(t) + 1e-6))
        q = np.array([100 if np.std(f) > 5 else 0 for f in frames], np.int16)
        return np.array(out, np.float32), q


def test_library_with_float_features(tmp_path, synth_videos):
    from vidtrace.library import Library, LibraryConfig
    from vidtrace.search import SearchParams, search_file

    cfg = LibraryConfig(feature={"name": "test-tiny-float"}, fps=4.0)
    assert cfg.index_variants == ()
    with Library.open(tmp_path / "lib", writable=True, create=True, config=cfg) as lib:
        res = lib.index_files([str(synth_videos["mp4"]), str(synth_videos["vfr_mp4"])])
        assert [r.status for r in res] == ["indexed", "indexed"]
        assert lib.check() == []
        feats = lib.frame_features(res[0].video_id)
        assert feats.descriptors.dtype == np.float32 and feats.descriptors.shape[1] == 16
    with Library.open(tmp_path / "lib") as lib:
        out = search_file(lib, str(synth_videos["mkv"]), SearchParams(min_sim=0.9))
    assert out.matches and out.matches[0].reference.endswith("synth.mp4")
