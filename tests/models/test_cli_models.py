"""`vidtrace models list|download` through its own argparse parser (no network)."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.models.helpers import isolate_cache, serve
from vidtrace.errors import ConfigError
from vidtrace.models.cli import add_models_parser


def run(capsys, *argv) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="vidtrace")
    add_models_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def blob(monkeypatch, tmp_path):
    isolate_cache(monkeypatch, tmp_path)
    src = tmp_path / "blob.bin"
    src.write_bytes(b"weights" * 1000)
    return serve(monkeypatch, src)


def test_list_shows_every_entry(capsys, blob, tmp_path):
    code, out, _ = run(capsys, "models", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "size", "cached", "path"]
    row = next(line for line in lines if line.startswith("test-weights"))
    assert row.split()[1:] == ["0.0", "MB", "no", str(tmp_path / "cache" / "blob.bin")]
    assert any(line.startswith("resnet50-imagenet1k-v1") and "102.5 MB" in line for line in lines)
    assert any(line.startswith("visil ") and " ? " in line for line in lines)


def test_download_then_list_as_json(capsys, blob, tmp_path):
    other = tmp_path / "elsewhere"
    code, out, _ = run(capsys, "models", "download", "test-weights", "--cache", other, "-q")
    assert code == 0 and out.strip() == f"test-weights: {other / 'blob.bin'}"
    code, out, _ = run(capsys, "models", "list", "--cache", other, "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["test-weights"]["cached"] is True and rows["test-weights"]["path"] == str(other / "blob.bin")
    assert rows["sscd-disc-mixup"]["sha256"].startswith("9f26bd4c")


def test_download_unknown_name_downloads_nothing(capsys, blob, tmp_path):
    with pytest.raises(ConfigError, match="unknown weight file 'nope'"):
        run(capsys, "models", "download", "test-weights", "nope")
    assert not (tmp_path / "cache" / "blob.bin").exists()


def test_failed_download_exits_non_zero_with_one_line(capsys, monkeypatch, blob, tmp_path):
    serve(monkeypatch, tmp_path / "blob.bin", name="bad-weights", sha256="00" * 32, filename="bad.bin")
    code, out, err = run(capsys, "models", "download", "bad-weights", "test-weights", "-q")
    assert code == 1
    assert "test-weights:" in out
    assert err.count("\n") == 1 and err.startswith("vidtrace: error: bad.bin") and "00" * 32 in err
