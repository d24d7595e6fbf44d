"""FAISS float index backends for L2-normalised vectors, inner-product metric:
"flat-ip" (exact) and "hnsw-ip" (approximate). Chosen by `get_index(name,
dim, kind="float")` with name "flat" or "hnsw"."""

from __future__ import annotations

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.index.base import IndexBackend, register_index
from vidtrace.index.faiss_binary import _faiss, remove_video_ranges


class _FaissFloat(IndexBackend):
    metric = "ip"

    def __init__(self, dim: int):
        self.dim = int(dim)
        self._index = self._new()

    def _new(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        codes = np.ascontiguousarray(codes, dtype=np.float32)
        if codes.shape != (len(keys), self.dim):
            raise ValueError(f"vectors must be [{len(keys)}, {self.dim}], got {codes.shape}")
        if len(keys):
            self._index.add_with_ids(codes, keys)

    def search(self, codes: np.ndarray, k: int):
        codes = np.ascontiguousarray(codes, dtype=np.float32)
        if len(codes) == 0 or len(self) == 0:
            return np.zeros((len(codes), k), np.float32), np.full((len(codes), k), -1, np.int64)
        sims, keys = self._index.search(codes, k)
        return sims.astype(np.float32, copy=False), keys.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def to_bytes(self) -> bytes:
        return _faiss().serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, dim: int, **params) -> "IndexBackend":
        obj = cls(dim, **params)
        obj._index = _faiss().deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return obj


@register_index("flat-ip")
class FlatFloatIndex(_FaissFloat):
    """Exact inner-product search (faiss IndexFlatIP with an id map)."""

    def _new(self):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def remove_videos(self, video_ids) -> int:
        return remove_video_ranges(self._index, video_ids)


@register_index("hnsw-ip")
class HNSWFloatIndex(_FaissFloat):
    """Approximate inner-product graph search (faiss IndexHNSWFlat); no in-place removal."""

    exact = False
    supports_remove = False

    def __init__(self, dim: int, M: int = 32, ef_search: int = 128, ef_construction: int = 64):
        self.M, self.ef_search, self.ef_construction = int(M), int(ef_search), int(ef_construction)
        super().__init__(dim)

    def _new(self):
        faiss = _faiss()
        inner = faiss.IndexHNSWFlat(self.dim, self.M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = self.ef_construction
        inner.hnsw.efSearch = self.ef_search
        return faiss.IndexIDMap(inner)

    def search(self, codes: np.ndarray, k: int):
        faiss = _faiss()
        faiss.downcast_index(self._index.index).hnsw.efSearch = max(self.ef_search, k)
        return super().search(codes, k)

    def remove_videos(self, video_ids) -> int:
        raise ConfigError("the hnsw index cannot remove entries in place; the library rebuilds it")

    def params(self) -> dict:
        return {"M": self.M, "ef_search": self.ef_search, "ef_construction": self.ef_construction}
