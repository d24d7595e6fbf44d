"""The frame-extractor interface and its registry.

An extractor turns RGB frames into one descriptor per frame plus a quality
score. Binary extractors (kind "binary") return packed bits uint8 [N, D/8]
compared by Hamming distance; float extractors return L2-normalised float32
[N, D] compared by inner product. Query-side variants (mirror, crops) let a
search find flipped or spatially embedded copies without storing more per
indexed frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Sequence

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.registry import registrar

FEATURES: dict[str, Callable[..., "FrameExtractor"]] = {}


register_extractor = registrar(FEATURES)
"""Class decorator: ``@register_extractor(name)`` adds a class to FEATURES under `name`."""


def get_extractor(name: str, **params) -> "FrameExtractor":
    """Build the extractor registered as `name`; unknown names list the valid ones."""
    _load_builtin()
    try:
        factory = FEATURES[name]
    except KeyError:
        raise ConfigError(f"unknown feature extractor {name!r}; choose one of: {', '.join(sorted(FEATURES))}") from None
    return factory(**params)


def _load_builtin() -> None:
    """Import the built-in extractor modules for their registration side effect
    (lazily, so `import vidtrace` stays light; none of them imports torch at
    module level)."""
    import importlib
    import importlib.util

    for mod in ("vidtrace.features.pdq", "vidtrace.features.regions", "vidtrace.features.deep"):
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)


class FrameExtractor(ABC):
    """Interface of a frame descriptor family.

    name: registry name; kind: "binary" or "float"; dim: descriptor size in
    bits (binary) or floats (float); min_quality: frames whose quality (0..100)
    is below this are stored but neither indexed nor used to query.
    """

    name: str = ""
    kind: str = "binary"
    dim: int = 0
    min_quality: int = 0
    # Query-side variants this extractor can compute (see query_variants), and
    # the extra descriptors per frame it suggests storing in the index.
    query_variant_names: tuple[str, ...] = ("orig",)
    index_variant_names: tuple[str, ...] = ()

    @property
    def dtype(self):
        """numpy dtype of stored descriptors: uint8 packed bits or float32."""
        return np.uint8 if self.kind == "binary" else np.float32

    def index_vectors(self, desc: np.ndarray) -> np.ndarray:
        """What goes into the kNN index per frame: uint8 [N, index_dim/8]
        (binary) or float32 [N, index_dim] L2-normalised (float). Default:
        the descriptors themselves; region extractors pool their regions."""
        return desc

    @property
    def index_dim(self) -> int:
        """Bits (binary) or floats (float) per index vector."""
        return self.dim

    def rowwise_similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of a[i] and b[i] for each i: float32 [N] (same scale as similarity)."""
        if self.kind == "binary":
            from vidtrace.features.pdq import hamming

            return np.clip(1.0 - hamming(a, b) / (self.dim / 2), 0.0, 1.0).astype(np.float32)
        a2 = np.asarray(self.index_vectors(a), np.float32)
        b2 = np.asarray(self.index_vectors(b), np.float32)
        return np.clip((a2 * b2).sum(axis=1), 0.0, 1.0).astype(np.float32)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pairwise similarity in [0, 1] of descriptor sets a [Na, ...] and b [Nb, ...] -> float32 [Na, Nb].

        Default: Hamming 1 - d / (bits / 2) for binary, clipped inner product for float."""
        if self.kind == "binary":
            from vidtrace.features.pdq import hamming

            d = hamming(a[:, None, :], b[None, :, :])
            return np.clip(1.0 - d / (self.dim / 2), 0.0, 1.0).astype(np.float32)
        a2 = np.asarray(self.index_vectors(a), np.float32)
        b2 = np.asarray(self.index_vectors(b), np.float32)
        return np.clip(a2 @ b2.T, 0.0, 1.0).astype(np.float32)

    @abstractmethod
    def extract(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """frames: RGB uint8 [H, W, 3] each -> (descriptors [N, ...], quality int16 [N])."""

    def query_variants(self, frames: Sequence[np.ndarray], variants: Sequence[str]) -> dict[str, np.ndarray]:
        """Descriptors of transformed versions of the frames, by variant name.

        "orig" (the frames themselves, see extract) is implied and not
        returned; other names are extractor-specific. Returns
        {variant: descriptors [N, ...]}.
        """
        if set(variants) - {"orig"}:
            raise ConfigError(f"extractor {self.name!r} supports only the 'orig' query variant")
        return {}

    def describe(self, frames: Sequence[np.ndarray], variants: Sequence[str] = ()
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """extract() and query_variants() in one pass: (descriptors, quality, {variant: descriptors})."""
        desc, quality = self.extract(frames)
        return desc, quality, self.query_variants(frames, variants) if variants else {}

    def config(self) -> dict:
        """Parameters that must match between indexing and querying."""
        return {"name": self.name, "kind": self.kind, "dim": self.dim}
