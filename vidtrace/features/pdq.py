"""PDQ: 256-bit perceptual hashes per frame (no model weights needed).

Uses the `pdqhash` binding of Meta's reference implementation, so hashes agree
with vPDQ. The quality score (0..100) measures gradient energy: black, flat or
blurred-out frames score low and are kept out of the search explicitly.

Query variants (cheap, computed only for queries, never stored):
- "flip": the horizontally mirrored frame;
- "halves": the left/right/top/bottom halves of the frame, which find a
  reference that was embedded side by side or stacked with other content;
- "center": the central 70% crop, for copies that were zoomed out or
  surrounded by borders or a frame;
- "vcrop" / "hcrop": the central 75% of the height / width, for copies whose
  aspect ratio was converted by cropping (4:3 <-> 16:9). These also make
  sense on the index side (see LibraryConfig.index_variants).

- "uncropped": the frame with its dark bars kept (see below), because bar
  detection can cut into genuinely dark footage.

Dark letterbox / pillarbox bars are cropped before hashing (crop_borders), so
a copy that gained or lost bars still matches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.features.base import FrameExtractor, register_extractor

PDQ_VARIANTS = ("orig", "flip", "halves", "center", "vcrop", "hcrop", "uncropped")


def crop_borders(rgb: np.ndarray, dark: float = 24.0, min_keep: float = 0.5) -> np.ndarray:
    """Drop uniform dark bars (letterbox / pillarbox) around a frame.

    A row (column) is a bar when its mean luminance is below `dark` and its
    brightest pixel below 2 * `dark` (0..255 scale). Leading and trailing bar
    runs are cropped unless that would keep less than `min_keep` of the side.
    Returns a view of `rgb` (no copy, the input is not modified).
    """
    h, w = rgb.shape[:2]
    # The green channel stands in for luminance; every other pixel along each line is enough.
    g = rgb[..., 1] if rgb.ndim == 3 else rgb
    g_rows, g_cols = g[:, ::2], g[::2, :]
    rows = (g_rows.mean(axis=1) < dark) & (g_rows.max(axis=1) < 2 * dark)
    cols = (g_cols.mean(axis=0) < dark) & (g_cols.max(axis=0) < 2 * dark)

    def span(bar: np.ndarray, n: int) -> tuple[int, int]:
        content = np.nonzero(~bar)[0]
        if len(content) == 0:
            return 0, n
        lo, hi = int(content[0]), int(content[-1]) + 1
        return (lo, hi) if hi - lo >= min_keep * n else (0, n)

    y0, y1 = span(rows, h)
    x0, x1 = span(cols, w)
    return rgb[y0:y1, x0:x1]


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """bits: int [..., 256] of 0/1 (element 0 = most significant) -> uint8 [..., 32]."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=-1)


def hash_to_hex(packed: np.ndarray) -> str:
    """uint8 [32] -> 64 hex digits, vPDQ's text form."""
    return bytes(np.asarray(packed, dtype=np.uint8)).hex()


def hex_to_hash(text: str) -> np.ndarray:
    """64 hex digits -> uint8 [32]."""
    return np.frombuffer(bytes.fromhex(text.strip()), dtype=np.uint8).copy()


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between packed hashes, broadcasting: uint8 [..., 32] x [..., 32] -> int [...]."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8))
    return _POPCOUNT[x].sum(axis=-1, dtype=np.int32)


@register_extractor("pdq")
class PDQExtractor(FrameExtractor):
    """PDQ hash per frame: uint8 [N, 32] packed bits, quality int16 [N] in 0..100."""

    kind = "binary"
    dim = 256
    query_variant_names = PDQ_VARIANTS
    index_variant_names = ("uncropped", "vcrop", "hcrop")

    def __init__(self, min_quality: int = 50, borders: bool = True):
        if not 0 <= int(min_quality) <= 100:
            raise ConfigError(f"pdq min_quality must be in 0..100, got {min_quality!r}")
        self.min_quality = int(min_quality)
        self.borders = bool(borders)

    def _prep(self, rgb: np.ndarray) -> np.ndarray:
        rgb = np.asarray(rgb, dtype=np.uint8)
        return np.ascontiguousarray(crop_borders(rgb) if self.borders else rgb)

    def config(self) -> dict:
        return {**super().config(), "borders": self.borders}

    def extract(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        desc, quality, _ = self.describe(frames)
        return desc, quality

    def describe(self, frames, variants=()):
        import pdqhash

        unknown = set(variants) - set(PDQ_VARIANTS)
        if unknown:
            raise ConfigError(f"unknown pdq query variant(s) {sorted(unknown)}; choose from {', '.join(PDQ_VARIANTS)}")
        desc = np.zeros((len(frames), 32), dtype=np.uint8)
        quality = np.zeros(len(frames), dtype=np.int16)
        prepped = []
        for i, raw in enumerate(frames):
            rgb = self._prep(raw)
            bits, q = pdqhash.compute(rgb)
            desc[i], quality[i] = pack_bits(bits), q
            prepped.append((raw, rgb))
        return desc, quality, self._variants(prepped, variants)

    def query_variants(self, frames: Sequence[np.ndarray], variants: Sequence[str]) -> dict[str, np.ndarray]:
        return self.describe(frames, variants)[2]

    def _variants(self, prepped, variants) -> dict[str, np.ndarray]:
        import pdqhash

        want = set(variants) - {"orig"}
        out: dict[str, list[np.ndarray]] = {v: [] for v in want}
        for raw, rgb in prepped:
            if "uncropped" in want:
                out["uncropped"].append(pack_bits(pdqhash.compute(np.ascontiguousarray(raw, dtype=np.uint8))[0]))
            if "flip" in want:
                # Hash the mirrored pixels: pdqhash's dihedral shortcut is only
                # approximate for mirrors (~10% of bits differ on real frames).
                out["flip"].append(pack_bits(pdqhash.compute(np.ascontiguousarray(rgb[:, ::-1]))[0]))
            h, w = rgb.shape[:2]
            if "halves" in want:
                crops = (rgb[:, : w // 2], rgb[:, w // 2 :], rgb[: h // 2], rgb[h // 2 :])
                out["halves"].append(np.stack([pack_bits(pdqhash.compute(np.ascontiguousarray(c))[0]) for c in crops]))
            if "center" in want:
                dy, dx = int(round(h * 0.15)), int(round(w * 0.15))
                c = np.ascontiguousarray(rgb[dy : h - dy, dx : w - dx])
                out["center"].append(pack_bits(pdqhash.compute(c)[0]))
            if "vcrop" in want:
                dy = int(round(h * 0.125))
                out["vcrop"].append(pack_bits(pdqhash.compute(np.ascontiguousarray(rgb[dy : h - dy]))[0]))
            if "hcrop" in want:
                dx = int(round(w * 0.125))
                out["hcrop"].append(pack_bits(pdqhash.compute(np.ascontiguousarray(rgb[:, dx : w - dx]))[0]))
        result = {}
        for v, rows in out.items():
            if not rows:
                result[v] = np.zeros((0, 32) if v != "halves" else (0, 4, 32), dtype=np.uint8)
            else:
                result[v] = np.stack(rows)
        return result
