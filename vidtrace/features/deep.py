"""Deep frame features: ResNet-50 L3-iMAC regions (ViSiL / S2VS) and SSCD.

Both need PyTorch and downloaded weights (see `vidtrace models list`); the
default PDQ pipeline needs neither. Constructing an extractor is cheap: the
weights are located (and downloaded when missing, unless download=False or
VIDTRACE_OFFLINE=1) and loaded on the first extract(); a missing file raises
ModelError naming it, its URL and how to get it. Loaded networks are shared
by extractors with the same weights (a small LRU cache), since the library
builds an extractor per file.

"resnet50-l3imac" (kind "float"): per frame the 9 region vectors of a 3 x 3
grid, each 512-d, PCA-whitened and L2-normalised (vidtrace.models.l3imac).
Stored flat: descriptors float32 [N, 9 * 512] = [N, 4608], region r (row-major
over the grid, top-left first) in columns r * 512 .. r * 512 + 511; view them
as [N, 9, 512] with `regions_of`. The library stores 18,432 bytes per frame.
The kNN index gets one 512-d vector per frame, the L2-normalised sum of the
regions (index_vectors, index_dim = 512); frame-to-frame similarity is
ViSiL's Chamfer similarity of the region sets (mean over the query frame's
regions of the best inner product with the reference frame's regions,
clipped to 0..1), without ViSiL's learned attention.

"sscd" (kind "float"): one SSCD descriptor per frame, float32 [N, 512],
L2-normalised (vidtrace.models.sscd); similarity is the inner product.

Quality (both): the standard deviation of the luminance (BT.601, every 4th
pixel), 0..255 scale, times 100 / 8, clipped to 0..100: black, flat and
faded-out frames score near 0 and, below min_quality (default 50 as for PDQ,
i.e. std < 4), are stored but not searched; any frame with some contrast
(std >= 8) scores 100.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from vidtrace.errors import ConfigError, ModelError
from vidtrace.features.base import FrameExtractor, register_extractor

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
QUALITY_STD_FULL = 8.0  # luminance std (0..255) that scores 100


def luminance_quality(frames: Sequence[np.ndarray]) -> np.ndarray:
    """int16 [N] in 0..100: 100 / 8 x std of the luminance of each RGB frame (subsampled by 4)."""
    out = np.zeros(len(frames), dtype=np.int16)
    for i, f in enumerate(frames):
        sub = np.asarray(f)[::4, ::4]
        luma = sub[..., :3].astype(np.float32) @ _LUMA if sub.ndim == 3 else sub.astype(np.float32)
        out[i] = int(np.clip(round(float(luma.std()) * 100.0 / QUALITY_STD_FULL), 0, 100))
    return out


def _torch(feature: str):
    try:
        import torch
    except ImportError:
        raise ModelError(f"feature {feature!r} needs PyTorch, which is not installed "
                         f"(pip install torch, or vidtrace's 'train' extra)") from None
    return torch


@functools.lru_cache(maxsize=2)
def _l3imac_model(resnet_file: str, pca_file: str, dims: int):
    from vidtrace.models.l3imac import load_l3imac

    return load_l3imac(resnet_file, pca_file, dims)


@functools.lru_cache(maxsize=2)
def _sscd_model(model_file: str):
    from vidtrace.models.sscd import load_sscd

    return load_sscd(model_file)


class _DeepExtractor(FrameExtractor):
    """Shared options: min_quality (0..100), cache (weight cache directory,
    default $VIDTRACE_CACHE or ~/.cache/vidtrace), download (fetch missing
    weights), batch_size (frames per forward pass)."""

    kind = "float"
    weight_names: tuple[str, ...] = ()

    def __init__(self, min_quality: int = 50, cache: str | None = None, download: bool = True, batch_size: int = 16):
        if not 0 <= int(min_quality) <= 100:
            raise ConfigError(f"{self.name} min_quality must be in 0..100, got {min_quality!r}")
        if int(batch_size) < 1:
            raise ConfigError(f"{self.name} batch_size must be >= 1, got {batch_size!r}")
        self.min_quality = int(min_quality)
        self.cache = cache
        self.download = bool(download)
        self.batch_size = int(batch_size)
        self._files: list[str] | None = None

    def weight_files(self) -> list[str]:
        """Local paths of this extractor's weight files (downloading missing ones
        when allowed); ModelError names a missing or corrupt file and how to get it."""
        from vidtrace.models.weights import path

        _torch(self.name)
        if self._files is None:
            self._files = [str(path(n, self.cache, download=self.download)) for n in self.weight_names]
        return list(self._files)

    def config(self) -> dict:
        return {**super().config(), "weights": list(self.weight_names)}


@register_extractor("resnet50-l3imac")
class L3iMACExtractor(_DeepExtractor):
    """ResNet-50 L3-iMAC regions, PCA-whitened: float32 [N, 9 * 512] (see the module docstring)."""

    weight_names = ("resnet50-imagenet1k-v1", "visil-pca-resnet50-vcdb-1m")
    regions = 9
    region_dim = 512
    dim = regions * region_dim

    def __init__(self, min_quality: int = 50, cache: str | None = None, download: bool = True,
                 batch_size: int = 16, antialias: bool = True):
        super().__init__(min_quality, cache, download, batch_size)
        self.antialias = bool(antialias)

    def config(self) -> dict:
        return {**super().config(), "regions": self.regions, "region_dim": self.region_dim,
                "resize": 256, "crop": 224, "antialias": self.antialias}

    @property
    def index_dim(self) -> int:
        return self.region_dim

    def regions_of(self, desc: np.ndarray) -> np.ndarray:
        """[N, 4608] -> [N, 9, 512] view (float32)."""
        d = np.asarray(desc, dtype=np.float32)
        return d.reshape(len(d), self.regions, self.region_dim)

    def index_vectors(self, desc: np.ndarray) -> np.ndarray:
        """float32 [N, 512]: the L2-normalised sum of each frame's 9 regions."""
        pooled = self.regions_of(desc).sum(axis=1)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def similarity(self, a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Chamfer similarity float32 [Na, Nb] in 0..1: for query frame i and
        reference frame j, the mean over i's regions of the largest inner
        product with j's regions."""
        ra, rb = self.regions_of(a), self.regions_of(b)
        out = np.zeros((len(ra), len(rb)), np.float32)
        flat_b = rb.reshape(-1, self.region_dim).T
        for s in range(0, len(ra), chunk):
            part = ra[s:s + chunk]
            sims = (part.reshape(-1, self.region_dim) @ flat_b).reshape(len(part), self.regions, len(rb), self.regions)
            out[s:s + chunk] = sims.max(axis=3).mean(axis=1)
        return np.clip(out, 0.0, 1.0)

    def rowwise_similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Chamfer similarity of a[i] and b[i]: float32 [N] in 0..1."""
        sims = np.einsum("ird,isd->irs", self.regions_of(a), self.regions_of(b))
        return np.clip(sims.max(axis=2).mean(axis=1), 0.0, 1.0).astype(np.float32)

    def model(self):
        """The loaded L3iMAC network (shared between extractors with the same files)."""
        resnet_file, pca_file = self.weight_files()
        return _l3imac_model(resnet_file, pca_file, self.region_dim)

    def extract(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        quality = luminance_quality(frames)
        desc = np.zeros((len(frames), self.dim), np.float32)
        if not len(frames):
            return desc, quality
        torch = _torch(self.name)
        from vidtrace.models.l3imac import preprocess

        net = self.model()
        with torch.inference_mode():
            for s in range(0, len(frames), self.batch_size):
                x = preprocess(frames[s:s + self.batch_size], antialias=self.antialias)
                desc[s:s + len(x)] = net(x).reshape(len(x), -1).numpy()
        return desc, quality


@register_extractor("sscd")
class SSCDExtractor(_DeepExtractor):
    """SSCD sscd_disc_mixup descriptors: float32 [N, 512] (see the module docstring).

    short: the short side frames are resized to (288, SSCD's "small_288");
    square: resize to square x square instead (e.g. 320, "skew_320").
    background: optional .npy of float32 [M, 512] SSCD descriptors of
    unrelated footage for SSCD's score normalisation (score_adjustment),
    with beta / first / last as in vidtrace.models.sscd.ScoreNormalizer.
    """

    weight_names = ("sscd-disc-mixup",)
    dim = 512

    def __init__(self, min_quality: int = 50, cache: str | None = None, download: bool = True,
                 batch_size: int = 16, short: int = 288, square: int | None = None,
                 background: str | None = None, beta: float = 1.0, first: int = 0, last: int = 2):
        super().__init__(min_quality, cache, download, batch_size)
        if int(short) < 32 or (square is not None and int(square) < 32):
            raise ConfigError(f"sscd input size must be >= 32 px, got short={short!r} square={square!r}")
        self.short = int(short)
        self.square = None if square is None else int(square)
        self.background = background
        self.beta, self.first, self.last = float(beta), int(first), int(last)

    def config(self) -> dict:
        return {**super().config(), "short": self.short, "square": self.square}

    def model(self):
        """The loaded TorchScript model (shared between extractors with the same file)."""
        (model_file,) = self.weight_files()
        return _sscd_model(model_file)

    def extract(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        quality = luminance_quality(frames)
        if not len(frames):
            return np.zeros((0, self.dim), np.float32), quality
        _torch(self.name)
        from vidtrace.models.sscd import embed

        desc = embed(self.model(), frames, self.batch_size, self.short, self.square)
        if desc.shape[1] != self.dim:
            raise ModelError(f"{self.weight_files()[0]}: SSCD model gives {desc.shape[1]}-d descriptors, "
                             f"expected {self.dim}")
        return desc, quality

    def normalizer(self):
        """The ScoreNormalizer for `background`, or None when no background set is configured."""
        if self.background is None:
            return None
        from vidtrace.models.sscd import ScoreNormalizer

        try:
            bg = np.load(self.background)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.background}: cannot read SSCD background descriptors ({exc})") from None
        if bg.ndim != 2 or bg.shape[1] != self.dim:
            raise ConfigError(f"{self.background}: background descriptors must be [M, {self.dim}], got {bg.shape}")
        return ScoreNormalizer(bg, self.beta, self.first, self.last)

    def score_adjustment(self, queries: np.ndarray) -> np.ndarray:
        """float32 [N] to subtract from each query frame's similarities (SSCD
        score normalisation); zeros without a background set."""
        norm = self.normalizer()
        return np.zeros(len(queries), np.float32) if norm is None else norm.adjustment(queries)
