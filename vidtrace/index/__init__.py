"""Descriptor index backends (a family with a registry by name)."""

from vidtrace.index.base import INDEXES, IndexBackend, get_index, register_index

__all__ = ["INDEXES", "IndexBackend", "get_index", "register_index"]
