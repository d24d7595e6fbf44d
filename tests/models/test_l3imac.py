"""L3-iMAC region pooling, preprocessing and PCA whitening against straightforward re-computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.models.helpers import isolate_cache, serve  # noqa: E402
from vidtrace.errors import ModelError  # noqa: E402
from vidtrace.models import weights  # noqa: E402
from vidtrace.models.l3imac import load_l3imac, preprocess, region_pool  # noqa: E402
from vidtrace.models.pca import PCAWhitening, load_pca_arrays  # noqa: E402

WINDOWS = {"layer1": 28, "layer2": 14, "layer3": 6, "layer4": 3}
CHANNELS = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-12)


def reference_regions(maps: dict[str, np.ndarray]) -> np.ndarray:
    """L3-iMAC with explicit loops over frames and regions: [B, R, 3840] (float64).

    Per layer: windows of k cells every ceil(k / 2) cells, max over each,
    L2; each layer's grid max-pooled into layer4's grid with PyTorch's adaptive
    bins [floor(i * n / m), ceil((i + 1) * n / m)), L2; concatenation; L2.
    """
    batch = next(iter(maps.values())).shape[0]
    grids = {}
    for name, fmap in maps.items():
        k, step = WINDOWS[name], math.ceil(WINDOWS[name] / 2)
        _, c, h, w = fmap.shape
        gh, gw = (h - k) // step + 1, (w - k) // step + 1
        g = np.zeros((batch, gh, gw, c))
        for b in range(batch):
            for i in range(gh):
                for j in range(gw):
                    window = fmap[b, :, i * step:i * step + k, j * step:j * step + k]
                    g[b, i, j] = unit(window.max(axis=(1, 2)))
        grids[name] = g
    oh, ow = grids["layer4"].shape[1:3]
    out = np.zeros((batch, oh * ow, sum(CHANNELS.values())))
    for b in range(batch):
        for i in range(oh):
            for j in range(ow):
                parts = []
                for name, g in grids.items():
                    n, m = g.shape[1], g.shape[2]
                    rows = slice(i * n // oh, -(-(i + 1) * n // oh))
                    cols = slice(j * m // ow, -(-(j + 1) * m // ow))
                    parts.append(unit(g[b, rows, cols].max(axis=(0, 1))))
                out[b, i * ow + j] = unit(np.concatenate(parts))
    return out


def random_maps(size: tuple[int, int], batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Non-negative (post-ReLU-like) stage activations for an input of `size` pixels."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    return {name: torch.relu(torch.randn(batch, CHANNELS[name], h // s, w // s, generator=g))
            for name, s in zip(CHANNELS, (4, 8, 16, 32))}


@pytest.mark.parametrize("size, regions", [((224, 224), 9), ((256, 352), 15)])
def test_region_pool_matches_explicit_loops(size, regions):
    maps = random_maps(size)
    before = {k: v.clone() for k, v in maps.items()}
    got = region_pool(maps)
    assert got.shape == (2, regions, 3840)
    ref = reference_regions({k: v.numpy().astype(np.float64) for k, v in maps.items()})
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-5)
    assert all(torch.equal(maps[k], before[k]) for k in maps)  # inputs untouched
    np.testing.assert_allclose(np.linalg.norm(got.numpy(), axis=-1), 1.0, atol=1e-5)


def test_preprocess_resizes_crops_and_normalises():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (144, 256, 3), dtype=np.uint8), np.full((300, 300, 3), 128, np.uint8),
              rng.integers(0, 256, (480, 270, 3), dtype=np.uint8)]
    copies = [f.copy() for f in frames]
    x = preprocess(frames)
    assert x.shape == (3, 3, 224, 224) and x.dtype == torch.float32
    assert all(np.array_equal(a, b) for a, b in zip(frames, copies))
    # A flat grey frame becomes the per-channel constant (128 / 255 - mean) / std.
    want = (128 / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[1].numpy(), np.broadcast_to(want[:, None, None], (3, 224, 224)), atol=1e-5)
    # 144 x 256 -> 256 x 455 (short side 256, long side rounded), then the central 224 x 224 window.
    img = torch.from_numpy(frames[0]).permute(2, 0, 1)[None].float()
    big = torch.nn.functional.interpolate(img, size=(256, 455), mode="bicubic", align_corners=False,
                                          antialias=True).round().clamp(0, 255)
    crop = big[..., 16:240, 115:339]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(x[0:1], (crop / 255 - mean) / std, atol=1e-5)
    assert preprocess([]).shape == (0, 3, 224, 224)


def make_pca(dim: int, seed: int = 0):
    """mean [dim], eigenvalues d [dim] and eigenvectors V [dim, dim] of random training vectors, as ViSiL's tool."""
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((500, dim)) @ rng.standard_normal((dim, dim))
    mean = train.mean(axis=0)
    d, V = np.linalg.eigh((train - mean).T @ (train - mean))
    return mean.astype(np.float32), d.astype(np.float32), V.astype(np.float32)


def reference_whitening(x, mean, d, V, dims, eps=1e-7):
    """S2VS's PCALayer written out: DVt = (diag(1/sqrt(d+eps)) V^T)^T over the top `dims` eigenvalues."""
    idx = np.argsort(d)[::-1][:dims]
    D = np.diag(1.0 / np.sqrt(d[idx].astype(np.float64) + eps))
    dvt = np.dot(D, V[:, idx].astype(np.float64).T).T
    y = (x.astype(np.float64) - mean) @ dvt
    return y / np.linalg.norm(y, axis=-1, keepdims=True)


@pytest.mark.parametrize("fmt", ["pth", "npz"])
def test_pca_file_loads_through_the_cache_and_whitens(monkeypatch, tmp_path, fmt):
    isolate_cache(monkeypatch, tmp_path)
    mean, d, V = make_pca(24)
    src = tmp_path / f"pca-test.{fmt}"
    if fmt == "pth":
        torch.save({"mean": torch.from_numpy(mean), "d": torch.from_numpy(d), "V": torch.from_numpy(V)}, src)
    else:
        np.savez_compressed(src, mean=mean, d=d, V=V)
    serve(monkeypatch, src, name="pca-test")
    pca = PCAWhitening.from_file(weights.path("pca-test"), dims=8)
    assert pca.in_dim == 24 and pca.dims == 8
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((3, 5, 24)).astype(np.float32))
    before = x.clone()
    y = pca(x)
    assert torch.equal(x, before)  # not whitened in place
    assert y.shape == (3, 5, 8)
    np.testing.assert_allclose(y.numpy(), reference_whitening(x.numpy(), mean, d, V, 8), atol=1e-5)


def test_whitening_decorrelates_the_training_directions():
    mean, d, V = make_pca(16)
    pca = PCAWhitening(mean, d, V, dims=16)
    proj = pca.projection.numpy().astype(np.float64)
    # proj^T C proj = I for the covariance C = V diag(d) V^T the eigenvalues came from.
    cov = V.astype(np.float64) @ np.diag(d.astype(np.float64)) @ V.astype(np.float64).T
    np.testing.assert_allclose(proj.T @ cov @ proj, np.eye(16), atol=1e-3)


def test_bad_pca_files_are_model_errors(tmp_path):
    missing = tmp_path / "missing.pth"
    torch.save({"mean": torch.zeros(4), "d": torch.ones(4)}, missing)
    with pytest.raises(ModelError, match=r"missing.pth: .*'mean', 'd' and 'V'"):
        load_pca_arrays(missing)
    shapes = tmp_path / "shapes.npz"
    np.savez(shapes, mean=np.zeros(4), d=np.ones(4), V=np.eye(3))
    with pytest.raises(ModelError, match="shapes.npz: PCA shapes"):
        load_pca_arrays(shapes)
    junk = tmp_path / "junk.pth"
    junk.write_text("junk")
    with pytest.raises(ModelError, match="junk.pth: cannot read"):
        load_pca_arrays(junk)


def test_load_l3imac_checks_the_pca_dimension(tmp_path):
    from tests.models.test_resnet import random_state_dict

    state = random_state_dict()
    assert load_l3imac(state, None).out_dim == 3840
    small = tmp_path / "pca24.npz"
    np.savez(small, **dict(zip(("mean", "d", "V"), make_pca(24))))
    with pytest.raises(ModelError, match="pca24.npz: PCA whitening of 24-d vectors"):
        load_l3imac(state, small, dims=8)
