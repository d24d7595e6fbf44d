"""Test helpers: register small generated files as weight entries served from file:// URLs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from vidtrace.models import weights
from vidtrace.models.weights import WeightFile


def serve(monkeypatch, source: Path, name: str = "test-weights", sha256: str | None = "auto",
          size: int | None | str = "auto", filename: str | None = None) -> WeightFile:
    """Register `source` (a local file) as weight entry `name` downloadable from
    its file:// URL, for the duration of the test. sha256 / size "auto": the
    file's own; anything else is stored as given."""
    data = source.read_bytes()
    entry = WeightFile(
        name=name,
        url=source.resolve().as_uri(),
        filename=filename or source.name,
        sha256=hashlib.sha256(data).hexdigest() if sha256 == "auto" else sha256,
        size=len(data) if size == "auto" else size,
        license="test",
        description="generated test file",
        checksum_source="computed by the test",
    )
    monkeypatch.setitem(weights.WEIGHTS, name, entry)
    return entry


def isolate_cache(monkeypatch, tmp_path: Path) -> Path:
    """Point $VIDTRACE_CACHE and $TORCH_HOME into tmp_path (so no real
    downloads or cached files are seen); returns the cache directory."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VIDTRACE_CACHE", str(cache))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("VIDTRACE_OFFLINE", raising=False)
    return cache
