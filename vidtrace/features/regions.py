"""Region descriptors: a grid of low-frequency DCT vectors per frame (no model weights).

Each frame is described by R region vectors of D floats, in the spirit of
ViSiL's L3-iMAC region vectors but hand-crafted (PDQ-style) instead of CNN
activations, so that ViSiL-type region-to-region Chamfer similarity and the
learned comparator can run without any downloaded weights.

Per frame:

1. dark letterbox / pillarbox bars are cropped (as for PDQ, optional);
2. the frame becomes a grey (luma) image area-averaged to 64 x 64 pixels;
3. regions: region 0 is the whole frame (averaged to 16 x 16); regions
   1..grid*grid are the cells of a grid x grid layout of half-size windows
   (32 x 32 pixels at stride 16 for grid=3, i.e. 50% overlap, like ViSiL's
   region pooling), each averaged to 16 x 16, row-major from the top-left;
4. each 16 x 16 patch goes through an orthonormal 2-D DCT-II and keeps the
   `dim` lowest-frequency AC coefficients (zig-zag order, DC dropped, so
   the vector is mean-removed: robust to brightness changes), weighted by
   their radial frequency to the power `whiten` (0.5: a partial, fixed
   whitening of the ~1/f spectrum of natural images) and L2-normalised
   (robust to contrast changes). A flat region (no texture) gets a
   proportionally shorter vector, down to zero, so that black bars or a
   clear sky neither match nor dominate:
   ``v = w*c / |w*c| * |c| / sqrt(|c|^2 + (16 * flat_rms)^2)``.

Layout of FrameFeatures.descriptors: float32 [N, R * D], frame n's region r
in columns ``r*D .. (r+1)*D`` (use :func:`as_regions` for [N, R, D]). With
the defaults R = 10 (1 + 3x3), D = 64: 640 floats = 2,560 bytes per frame.
The index vector per frame (what the kNN index holds, see index_vectors) is
the L2-normalised sum of the region vectors (R-MAC-style pooling), D floats.

Query variant "flip" (the mirrored frame) is computed from the descriptors
alone: mirroring swaps the grid columns and multiplies the DCT coefficient of
horizontal frequency v by (-1)^v.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.features.base import FrameExtractor, register_extractor

_WORK = 64  # side of the grey working image (pixels)
_PATCH = 16  # side of each region patch fed to the DCT (pixels)


def region_count(grid: int) -> int:
    """Regions per frame for a grid x grid layout: 1 (whole frame) + grid^2, or 1 for grid <= 1."""
    return 1 + grid * grid if grid > 1 else 1


def as_regions(desc: np.ndarray, regions: int) -> np.ndarray:
    """[N, R*D] (or already [N, R, D]) -> view [N, R, D]."""
    desc = np.asarray(desc)
    if desc.ndim == 3:
        if desc.shape[1] != regions:
            raise ValueError(f"descriptors have {desc.shape[1]} regions, expected {regions}")
        return desc
    n, width = desc.shape
    if width % regions:
        raise ValueError(f"descriptor width {width} is not a multiple of {regions} regions")
    return desc.reshape(n, regions, width // regions)


@cache
def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix float64 [n, n]: row k is frequency k."""
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


@cache
def zigzag(n: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` lowest AC frequencies (u vertical, v horizontal) of an
    n x n DCT, ordered by u + v then |u - v| then u: int64 [count] each."""
    u, v = np.mgrid[0:n, 0:n]
    u, v = u.ravel(), v.ravel()
    order = np.lexsort((u, np.abs(u - v), u + v))
    order = order[1 : count + 1]  # drop DC
    if len(order) < count:
        raise ConfigError(f"a {n}x{n} DCT has only {n * n - 1} AC coefficients, asked for {count}")
    return u[order], v[order]


def _bin_mean(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Area-average a 2-D float image to [out_h, out_w] (each output pixel is
    the mean of a block of input pixels; blocks tile the image)."""
    h, w = img.shape
    if h < out_h or w < out_w:
        img = np.repeat(np.repeat(img, -(-out_h // h), axis=0), -(-out_w // w), axis=1)
        h, w = img.shape
    ys = np.round(np.linspace(0, h, out_h + 1)).astype(np.int64)
    xs = np.round(np.linspace(0, w, out_w + 1)).astype(np.int64)
    rows = np.add.reduceat(img, ys[:-1], axis=0)
    both = np.add.reduceat(rows, xs[:-1], axis=1)
    return both / np.outer(np.diff(ys), np.diff(xs))


def grey_thumbnail(rgb: np.ndarray, borders: bool = True, size: int = _WORK) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> float32 [size, size] luma (0..255), area-averaged,
    after cropping dark bars when `borders`."""
    if borders:
        from vidtrace.features.pdq import crop_borders

        rgb = crop_borders(rgb)
    rgb = np.asarray(rgb, dtype=np.float32)
    grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return _bin_mean(grey, size, size).astype(np.float32)


def region_patches(thumbs: np.ndarray, grid: int) -> np.ndarray:
    """float32 [N, 64, 64] grey thumbnails -> [N, R, 16, 16] region patches
    (region 0: the whole frame; then the grid cells, row-major)."""
    n = thumbs.shape[0]
    whole = thumbs.reshape(n, _PATCH, _WORK // _PATCH, _PATCH, _WORK // _PATCH).mean(axis=(2, 4))
    out = [whole[:, None]]
    if grid > 1:
        win = 2 * _WORK // (grid + 1)  # half-size windows at 50% overlap
        stride = win // 2
        cells = []
        for r in range(grid):
            for c in range(grid):
                cell = thumbs[:, r * stride : r * stride + win, c * stride : c * stride + win]
                f = win // _PATCH
                cells.append(cell.reshape(n, _PATCH, f, _PATCH, f).mean(axis=(2, 4)))
        out.append(np.stack(cells, axis=1))
    return np.concatenate(out, axis=1).astype(np.float32)


def flip_descriptors(desc: np.ndarray, grid: int = 3, dim: int = 64) -> np.ndarray:
    """Descriptors of the horizontally mirrored frames, from the descriptors:
    float32 [N, R*D] -> [N, R*D] (grid columns swapped, coefficients of odd
    horizontal frequency negated)."""
    regions = region_count(grid)
    d = as_regions(np.asarray(desc, dtype=np.float32), regions)
    _, v = zigzag(_PATCH, dim)
    sign = np.where(v % 2 == 1, -1.0, 1.0).astype(np.float32)
    perm = [0]
    if grid > 1:
        perm += [1 + r * grid + (grid - 1 - c) for r in range(grid) for c in range(grid)]
    return (d[:, perm] * sign).reshape(len(d), -1)


@register_extractor("regions")
class RegionExtractor(FrameExtractor):
    """Grid-of-regions DCT descriptors: float32 [N, R*D] (R = 1 + grid^2 regions
    of D = `dim` floats, see the module docstring), quality int16 [N] in 0..100.

    grid: regions per side (3: 3x3 + whole frame = 10 regions; 7: 7x7 + 1;
    1: whole frame only); dim: coefficients per region (<= 255); whiten:
    exponent of the radial-frequency weighting (0: none); flat_rms: grey-level contrast (RMS, 0..255) at which
    a region's vector is scaled to 1/sqrt(2); borders: crop dark bars first;
    min_quality: frames below it (0..100, mean luma gradient x 10) are stored
    but not searched.
    """

    kind = "float"
    query_variant_names = ("orig", "flip")

    def __init__(self, grid: int = 3, dim: int = 64, whiten: float = 0.5, flat_rms: float = 1.0,
                 borders: bool = True, min_quality: int = 10):
        if int(grid) not in (1, 3, 7):
            raise ConfigError(f"regions grid must be 1, 3 or 7 (windows must tile the {_WORK}-pixel thumbnail), "
                              f"got {grid!r}")
        if not 1 <= int(dim) < _PATCH * _PATCH:
            raise ConfigError(f"regions dim must be in 1..{_PATCH * _PATCH - 1}, got {dim!r}")
        if not 0 <= int(min_quality) <= 100:
            raise ConfigError(f"regions min_quality must be in 0..100, got {min_quality!r}")
        if not float(flat_rms) >= 0:
            raise ConfigError(f"regions flat_rms must be >= 0, got {flat_rms!r}")
        self.grid = int(grid)
        self.region_dim = int(dim)
        self.whiten = float(whiten)
        self.flat_rms = float(flat_rms)
        self.borders = bool(borders)
        self.min_quality = int(min_quality)
        self.regions = region_count(self.grid)
        self.dim = self.regions * self.region_dim

    def config(self) -> dict:
        return {**super().config(), "grid": self.grid, "regions": self.regions, "region_dim": self.region_dim,
                "whiten": self.whiten, "flat_rms": self.flat_rms, "borders": self.borders}

    @property
    def index_dim(self) -> int:
        return self.region_dim

    def extract(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        n = len(frames)
        if n == 0:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int16)
        thumbs = np.stack([grey_thumbnail(f, self.borders) for f in frames])
        return self.describe_thumbnails(thumbs), thumbnail_quality(thumbs)

    def describe_thumbnails(self, thumbs: np.ndarray) -> np.ndarray:
        """float32 [N, 64, 64] grey thumbnails -> descriptors float32 [N, R*D]."""
        patches = region_patches(np.asarray(thumbs, np.float32), self.grid).astype(np.float64)
        m = dct_matrix(_PATCH)
        coef = m @ patches @ m.T  # [N, R, 16, 16]
        u, v = zigzag(_PATCH, self.region_dim)
        c = coef[..., u, v]  # [N, R, D]
        energy = np.sqrt((c * c).sum(-1, keepdims=True))
        w = np.sqrt(u * u + v * v).astype(np.float64) ** self.whiten
        cw = c * w
        norm_w = np.sqrt((cw * cw).sum(-1, keepdims=True))
        eps = _PATCH * self.flat_rms
        scale = energy / np.sqrt(energy * energy + eps * eps) / np.maximum(norm_w, 1e-12)
        return (cw * scale).astype(np.float32).reshape(len(c), -1)

    def query_variants(self, frames: Sequence[np.ndarray], variants: Sequence[str]) -> dict[str, np.ndarray]:
        return self.describe(frames, variants)[2]

    def describe(self, frames, variants=()):
        unknown = set(variants) - set(self.query_variant_names)
        if unknown:
            raise ConfigError(f"unknown regions query variant(s) {sorted(unknown)}; "
                              f"choose from {', '.join(self.query_variant_names)}")
        desc, quality = self.extract(frames)
        out = {}
        if "flip" in variants:
            out["flip"] = flip_descriptors(desc, self.grid, self.region_dim)
        return desc, quality, out

    def index_vectors(self, desc: np.ndarray) -> np.ndarray:
        """R-MAC-style pooling: L2-normalised sum of the region vectors, float32 [N, D]."""
        d = np.asarray(desc, dtype=np.float32)
        if d.ndim == 2 and d.shape[1] == self.region_dim:
            return d  # already pooled
        pooled = as_regions(d, self.regions).sum(axis=1)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Region Chamfer similarity (ViSiL frame-to-frame) clipped to [0, 1]: float32 [Na, Nb]."""
        from vidtrace.similarity import chamfer_frame_similarity

        s = chamfer_frame_similarity(as_regions(np.asarray(a, np.float32), self.regions),
                                     as_regions(np.asarray(b, np.float32), self.regions))
        return np.clip(s, 0.0, 1.0)

    def rowwise_similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Region Chamfer similarity of a[i] and b[i], clipped to [0, 1]: float32 [N]."""
        qa = as_regions(np.asarray(a, np.float32), self.regions)
        rb = as_regions(np.asarray(b, np.float32), self.regions)
        s = np.einsum("nod,npd->nop", qa, rb).max(axis=2).mean(axis=1)
        return np.clip(s, 0.0, 1.0).astype(np.float32)


def thumbnail_quality(thumbs: np.ndarray) -> np.ndarray:
    """Quality int16 [N] in 0..100 of float32 [N, 64, 64] grey thumbnails: ten
    times the mean absolute luma difference between neighbouring pixels
    (a flat or black frame scores 0; ordinary footage 30..100)."""
    t = np.asarray(thumbs, np.float32)
    gx = np.abs(np.diff(t, axis=2)).mean(axis=(1, 2))
    gy = np.abs(np.diff(t, axis=1)).mean(axis=(1, 2))
    return np.clip(np.round(5.0 * (gx + gy)), 0, 100).astype(np.int16)
