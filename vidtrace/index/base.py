"""The index-backend interface and its registry.

An index maps int64 keys to binary codes (uint8 [N, bytes]) and answers
k-nearest-neighbour queries by Hamming distance. Keys encode
(video id, descriptor variant, frame index) as
``video_id << 24 | variant << 20 | frame_index`` so a hit maps back to its
video and frame without a lookup table. Variant 0 is the frame as it is;
other variants are extra index-side descriptors of the same frame (crops).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.registry import registrar

FRAME_BITS = 24  # bits below the video id
INDEX_BITS = 20  # bits of the frame index (1M sampled frames per video)
FRAME_MASK = (1 << INDEX_BITS) - 1
MAX_VARIANTS = 1 << (FRAME_BITS - INDEX_BITS)

INDEXES: dict[str, Callable[..., "IndexBackend"]] = {}


def make_keys(video_id: int, frame_idx: np.ndarray, variant: int = 0) -> np.ndarray:
    """int64 [n] keys of a video's frames `frame_idx` (int [n]) for descriptor `variant`."""
    idx = np.asarray(frame_idx, dtype=np.int64)
    if len(idx) and int(idx.max()) > FRAME_MASK:
        raise ConfigError(f"a video may have at most {FRAME_MASK + 1} sampled frames, got {int(idx.max()) + 1}")
    if not 0 <= variant < MAX_VARIANTS:
        raise ConfigError(f"descriptor variant must be in 0..{MAX_VARIANTS - 1}, got {variant}")
    return (np.int64(video_id) << FRAME_BITS) | (np.int64(variant) << INDEX_BITS) | idx


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int64 keys -> (video ids, frame indices); the variant is dropped."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys >> FRAME_BITS, keys & FRAME_MASK


register_index = registrar(INDEXES)
"""Class decorator: ``@register_index(name)`` adds a class to INDEXES under `name`."""


def get_index(name: str, dim: int, kind: str = "binary", **params) -> "IndexBackend":
    """A new, empty backend of type `name` ("flat" exact, "hnsw" approximate)
    for `dim`-bit binary codes (kind "binary", Hamming distance) or
    `dim`-float L2-normalised vectors (kind "float", inner product)."""
    import vidtrace.index.faiss_binary  # noqa: F401  (registers the built-in backends)
    import vidtrace.index.faiss_float  # noqa: F401

    key = name if kind == "binary" else f"{name}-ip"
    try:
        factory = INDEXES[key]
    except KeyError:
        names = sorted(n for n in INDEXES if not n.endswith("-ip"))
        raise ConfigError(f"unknown index type {name!r}; choose one of: {', '.join(names)}") from None
    return factory(dim, **params)


class IndexBackend(ABC):
    """Binary-code kNN index.

    exact: whether search returns the true nearest neighbours;
    supports_remove: whether remove() works in place (otherwise the library
    rebuilds the index after removals).
    """

    name: str = ""
    exact: bool = True
    supports_remove: bool = True
    metric: str = "hamming"  # "hamming": smaller is closer; "ip": inner product, larger is closer

    @abstractmethod
    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """keys int64 [N], codes uint8 [N, dim_bits/8]."""

    @abstractmethod
    def remove_videos(self, video_ids) -> int:
        """Remove every key of the given videos; returns how many entries were removed."""

    @abstractmethod
    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """codes [M, ...] -> (distances int32 [M, k] (hamming) or similarities
        float32 [M, k] (ip), keys int64 [M, k]; -1 = none)."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def to_bytes(self) -> bytes: ...

    @classmethod
    @abstractmethod
    def from_bytes(cls, data: bytes, dim: int, **params) -> "IndexBackend": ...

    def params(self) -> dict:
        """Construction parameters, stored with the library."""
        return {}
