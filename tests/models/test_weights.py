"""Weight registry, cache and downloader: file:// URLs and fake openers, no network."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
from http.client import IncompleteRead
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.models.helpers import isolate_cache, serve
from vidtrace.errors import ConfigError, ModelError
from vidtrace.models import weights


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    return isolate_cache(monkeypatch, tmp_path)


@pytest.fixture
def blob(tmp_path) -> Path:
    src = tmp_path / "src" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes())
    return src


def refuse(*args, **kwargs):
    raise AssertionError("no download expected")


class FakeResponse(io.BytesIO):
    """urlopen-like response whose read() fails after `fail_after` bytes."""

    def __init__(self, data: bytes, fail_after: int | None = None, error: Exception | None = None):
        super().__init__(data)
        self.fail_after, self.error = fail_after, error
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise self.error
        return super().read(n)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part")) if folder.exists() else []


def test_registry_entries_are_well_formed():
    names = set(weights.WEIGHTS)
    assert {"resnet50-imagenet1k-v1", "visil-pca-resnet50-vcdb-1m", "sscd-disc-mixup", "visil", "s2vs-dns",
            "s2vs-vcdb"} <= names
    for entry in weights.WEIGHTS.values():
        assert entry.filename == Path(urlparse(entry.url).path).name  # a torch.hub copy has the same name
        assert entry.url.startswith(("http://", "https://"))
        if entry.sha256 is not None:
            assert entry.sha256 == entry.sha256.lower() and 8 <= len(entry.sha256) <= 64
            int(entry.sha256, 16)
        assert entry.license and entry.checksum_source
    resnet = weights.WEIGHTS["resnet50-imagenet1k-v1"]
    # torchvision names the file after the first 8 hex digits of its SHA-256.
    assert resnet.filename == f"resnet50-{resnet.sha256[:8]}.pth" and resnet.digest_kind == "full"
    assert weights.WEIGHTS["visil"].digest_kind == "none"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="resnet50-imagenet1k-v1"):
        weights.get_weights("no-such-model")
    assert weights.get_weights("resnet50-0676ba61.pth").name == "resnet50-imagenet1k-v1"


def test_register_rejects_bad_digest():
    bad = weights.WeightFile("x", "http://x/y", "y", "xyz", None, "", "", "")
    with pytest.raises(ValueError, match="hex"):
        weights.register_weights(bad)


def test_cache_dir_argument_environment_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDTRACE_CACHE", str(tmp_path / "env"))
    assert weights.cache_dir() == tmp_path / "env"
    assert weights.cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("VIDTRACE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.cache_dir() == tmp_path / "xdg" / "vidtrace"


def test_download_verifies_and_caches(monkeypatch, cache, blob):
    serve(monkeypatch, blob)
    seen = []
    got = weights.fetch("test-weights", progress=lambda done, total: seen.append((done, total)))
    assert got == cache / "blob.bin" and got.read_bytes() == blob.read_bytes()
    assert seen[-1] == (blob.stat().st_size, blob.stat().st_size)
    assert leftovers(cache) == []
    assert not (cache / "blob.bin.sha256").exists()  # known digest: nothing recorded
    # Cache hit: no download, for path() and fetch() alike.
    assert weights.path("test-weights", opener=refuse) == got
    assert weights.fetch("test-weights", opener=refuse) == got


def test_path_downloads_when_missing(monkeypatch, cache, blob):
    serve(monkeypatch, blob)
    assert weights.path("test-weights").read_bytes() == blob.read_bytes()


def test_cache_argument_overrides_environment(monkeypatch, cache, blob, tmp_path):
    serve(monkeypatch, blob)
    other = tmp_path / "other"
    assert weights.fetch("test-weights", other) == other / "blob.bin"
    assert not (cache / "blob.bin").exists()


def test_checksum_mismatch_keeps_nothing(monkeypatch, cache, blob):
    entry = serve(monkeypatch, blob, sha256="ab" * 32)
    actual = hashlib.sha256(blob.read_bytes()).hexdigest()
    with pytest.raises(ModelError) as err:
        weights.fetch("test-weights")
    msg = str(err.value)
    assert entry.sha256 in msg and actual in msg and "blob.bin" in msg
    assert not (cache / "blob.bin").exists() and leftovers(cache) == []


def test_size_mismatch_is_reported(monkeypatch, cache, blob):
    serve(monkeypatch, blob, size=123)
    with pytest.raises(ModelError, match=rf"{blob.stat().st_size} bytes, expected 123"):
        weights.fetch("test-weights")


def test_prefix_digest_is_checked_on_its_digits(monkeypatch, cache, blob):
    actual = hashlib.sha256(blob.read_bytes()).hexdigest()
    serve(monkeypatch, blob, sha256=actual[:8])
    assert weights.fetch("test-weights").exists()
    wrong = format(int(actual[:8], 16) ^ 1, "08x")
    serve(monkeypatch, blob, name="test-weights-2", sha256=wrong, filename="other.bin")
    with pytest.raises(ModelError, match=wrong):
        weights.fetch("test-weights-2")


def test_corrupt_cached_file_names_file_and_both_digests(monkeypatch, cache, blob):
    entry = serve(monkeypatch, blob, size=None)
    got = weights.fetch("test-weights")
    data = bytearray(got.read_bytes())
    data[1000] ^= 0xFF
    got.write_bytes(bytes(data))
    bad = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ModelError) as err:
        weights.path("test-weights", opener=refuse)
    msg = str(err.value)
    assert str(got) in msg and entry.sha256 in msg and bad in msg and "vidtrace models download test-weights" in msg


def test_unknown_digest_is_recorded_and_checked_later(monkeypatch, cache, blob):
    serve(monkeypatch, blob, sha256=None, size=None)
    got = weights.fetch("test-weights")
    actual = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert (cache / "blob.bin.sha256").read_text() == f"{actual}  blob.bin\n"
    assert weights.path("test-weights", opener=refuse) == got
    got.write_bytes(b"something else")
    with pytest.raises(ModelError, match=f"does not match {actual}, recorded when it was downloaded"):
        weights.path("test-weights", opener=refuse)


def test_offline_error_says_how_to_get_the_file(monkeypatch, cache, blob):
    entry = serve(monkeypatch, blob)

    def unreachable(url, timeout=None):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    with pytest.raises(ModelError) as err:
        weights.path("test-weights", opener=unreachable)
    msg = str(err.value)
    for part in ("blob.bin", entry.url, "Network is unreachable", "vidtrace models download test-weights",
                 str(cache / "blob.bin")):
        assert part in msg
    assert leftovers(cache) == []


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_downloads_can_be_turned_off(monkeypatch, cache, blob, how):
    entry = serve(monkeypatch, blob)
    kwargs = {}
    if how == "argument":
        kwargs["download"] = False
    else:
        monkeypatch.setenv("VIDTRACE_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        weights.path("test-weights", opener=refuse, **kwargs)
    assert entry.url in str(err.value) and str(cache / "blob.bin") in str(err.value)


def test_http_error_is_reported(monkeypatch, cache, blob):
    entry = serve(monkeypatch, blob)

    def not_found(url, timeout=None):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    with pytest.raises(ModelError, match="HTTP 404 Not Found"):
        weights.fetch(entry.name, opener=not_found)


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), IncompleteRead(b"x", 10)])
def test_interrupted_download_leaves_nothing(monkeypatch, cache, blob, error):
    serve(monkeypatch, blob)
    data = blob.read_bytes()
    with pytest.raises(ModelError, match="download of"):
        weights.fetch("test-weights", opener=lambda url, timeout=None: FakeResponse(data, 100_000, error))
    assert not (cache / "blob.bin").exists() and leftovers(cache) == []


def test_force_downloads_again(monkeypatch, cache, blob):
    serve(monkeypatch, blob)
    weights.fetch("test-weights")
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        return FakeResponse(blob.read_bytes())

    weights.fetch("test-weights", force=True, opener=opener)
    assert len(calls) == 1


def test_torch_hub_copy_is_used(monkeypatch, cache, blob, tmp_path):
    serve(monkeypatch, blob)
    hub = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "blob.bin").write_bytes(blob.read_bytes())
    assert weights.path("test-weights", opener=refuse) == hub / "blob.bin"
    assert weights.cached_file("test-weights") == hub / "blob.bin"
