"""FAISS binary index backends: "flat" (exact, default) and "hnsw" (approximate)."""

from __future__ import annotations

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.index.base import IndexBackend, register_index


def _faiss():
    import faiss

    return faiss


def remove_video_ranges(index, video_ids) -> int:
    """Remove every key of the given videos from a faiss id-mapped index."""
    from vidtrace.index.base import FRAME_BITS

    faiss = _faiss()
    removed = 0
    for vid in video_ids:
        lo = int(vid) << FRAME_BITS
        removed += int(index.remove_ids(faiss.IDSelectorRange(lo, lo + (1 << FRAME_BITS))))
    return removed


class _FaissBinary(IndexBackend):
    def __init__(self, dim: int, index=None):
        dim_bits = dim
        if dim_bits % 8:
            raise ConfigError(f"binary codes need a multiple of 8 bits, got {dim_bits}")
        self.dim_bits = dim_bits
        self._index = index if index is not None else self._new()

    def _new(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.shape != (len(keys), self.dim_bits // 8):
            raise ValueError(f"codes must be [{len(keys)}, {self.dim_bits // 8}], got {codes.shape}")
        if len(keys):
            self._index.add_with_ids(codes, keys)

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if len(codes) == 0 or len(self) == 0:
            return np.zeros((len(codes), k), np.int32), np.full((len(codes), k), -1, np.int64)
        dist, keys = self._index.search(codes, k)
        return dist.astype(np.int32, copy=False), keys.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def to_bytes(self) -> bytes:
        return _faiss().serialize_index_binary(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, dim: int, **params) -> "IndexBackend":
        index = _faiss().deserialize_index_binary(np.frombuffer(data, dtype=np.uint8))
        obj = cls(dim, **params)
        obj._index = index
        return obj


@register_index("flat")
class FlatBinaryIndex(_FaissBinary):
    """Exact brute-force Hamming search (faiss IndexBinaryFlat with an id map)."""

    exact = True
    supports_remove = True

    def _new(self):
        faiss = _faiss()
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(self.dim_bits))

    def remove_videos(self, video_ids) -> int:
        return remove_video_ranges(self._index, video_ids)


@register_index("hnsw")
class HNSWBinaryIndex(_FaissBinary):
    """Approximate graph search (faiss IndexBinaryHNSW) for large libraries.

    M: graph degree; ef_search: search beam (recall/speed trade-off);
    ef_construction: build beam. No in-place removal: the library rebuilds.
    """

    exact = False
    supports_remove = False

    def __init__(self, dim: int, index=None, M: int = 32, ef_search: int = 128, ef_construction: int = 64):
        self.M, self.ef_search, self.ef_construction = int(M), int(ef_search), int(ef_construction)
        super().__init__(dim, index)

    def _new(self):
        faiss = _faiss()
        inner = faiss.IndexBinaryHNSW(self.dim_bits, self.M)
        inner.hnsw.efConstruction = self.ef_construction
        inner.hnsw.efSearch = self.ef_search
        return faiss.IndexBinaryIDMap(inner)

    def search(self, codes: np.ndarray, k: int):
        faiss = _faiss()
        inner = faiss.downcast_IndexBinary(self._index.index)
        inner.hnsw.efSearch = max(self.ef_search, k)
        return super().search(codes, k)

    def remove_videos(self, video_ids) -> int:
        raise ConfigError("the hnsw index cannot remove entries in place; the library rebuilds it")

    def params(self) -> dict:
        return {"M": self.M, "ef_search": self.ef_search, "ef_construction": self.ef_construction}
