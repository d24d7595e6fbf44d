"""SSCD: TorchScript loading through the weight cache, preprocessing, batching, score normalisation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

from tests.models.helpers import isolate_cache, serve  # noqa: E402
from vidtrace.errors import ModelError  # noqa: E402
from vidtrace.models import weights  # noqa: E402
from vidtrace.models.sscd import ScoreNormalizer, embed, load_sscd, preprocess_one  # noqa: E402


class TinySSCD(torch.nn.Module):
    """Same contract as sscd_disc_mixup: [B, 3, H, W] normalised images -> [B, 512] L2-normalised."""

    def __init__(self, dim: int = 512):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, stride=4)
        self.fc = torch.nn.Linear(16, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x))
        gem = y.clamp(min=1e-6).pow(3.0).mean(dim=(2, 3)).pow(1.0 / 3.0)  # GeM, p = 3
        return torch.nn.functional.normalize(self.fc(torch.cat([gem, y.amax(dim=(2, 3))], dim=1)), dim=1)


def script_file(tmp_path, dim: int = 512):
    torch.manual_seed(0)
    path = tmp_path / f"tiny_sscd_{dim}.torchscript.pt"
    torch.jit.script(TinySSCD(dim)).save(str(path))
    return path


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """The tiny TorchScript model, downloaded into the cache and loaded as the real one would be."""
    isolate_cache(monkeypatch, tmp_path)
    serve(monkeypatch, script_file(tmp_path), name="sscd-test")
    return load_sscd(weights.path("sscd-test"))


def test_preprocess_short_side_and_square():
    frame = np.random.default_rng(0).integers(0, 256, (100, 250, 3), dtype=np.uint8)
    copy = frame.copy()
    assert preprocess_one(frame).shape == (1, 3, 288, 720)  # short side 288, long side 250 * 2.88 truncated
    assert preprocess_one(frame.transpose(1, 0, 2)).shape == (1, 3, 720, 288)
    assert preprocess_one(frame, square=320).shape == (1, 3, 320, 320)
    assert np.array_equal(frame, copy)
    grey = preprocess_one(np.full((50, 60, 3), 255, np.uint8))
    want = (1.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(grey[0, :, 10, 10].numpy(), want, atol=1e-5)


def test_embed_batches_by_size_and_keeps_order(tiny):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in
              [(90, 160, 3), (120, 120, 3), (90, 160, 3), (90, 160, 3), (120, 120, 3)]]
    desc = embed(tiny, frames, batch_size=2)
    assert desc.shape == (5, 512) and desc.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([embed(tiny, [f]) for f in frames])
    np.testing.assert_allclose(desc, one_by_one, atol=1e-5)
    assert embed(tiny, []).shape == (0, 512)


def test_bad_model_files_and_outputs_are_model_errors(tmp_path):
    junk = tmp_path / "junk.torchscript.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="junk.torchscript.pt: cannot load the SSCD TorchScript model"):
        load_sscd(junk)

    class Flat(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=1)

    with pytest.raises(ModelError, match="expected \\[n, D\\]"):
        embed(torch.jit.script(Flat()), [np.zeros((40, 40, 3), np.uint8)])


def test_score_normalisation_follows_sscd():
    rng = np.random.default_rng(2)

    def units(n):
        v = rng.standard_normal((n, 16)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    bg, q, r = units(40), units(5), units(7)
    norm = ScoreNormalizer(bg, beta=1.0, first=0, last=2)
    sims = q @ bg.T
    want_adj = np.array([np.sort(row)[::-1][:3].mean() for row in sims])
    np.testing.assert_allclose(norm.adjustment(q, chunk=2), want_adj, atol=1e-6)
    np.testing.assert_allclose(norm.scores(q, r), q @ r.T - want_adj[:, None], atol=1e-6)
    # The augmented-vector form used for index search gives the same scores.
    aug = norm.augment_queries(q) @ ScoreNormalizer.augment_references(r).T
    np.testing.assert_allclose(aug, norm.scores(q, r), atol=1e-6)
    # first / last / beta select and weight neighbours 2..4.
    other = ScoreNormalizer(bg, beta=0.5, first=2, last=4)
    np.testing.assert_allclose(other.adjustment(q), 0.5 * np.sort(sims, axis=1)[:, ::-1][:, 2:5].mean(axis=1),
                               atol=1e-6)
    with pytest.raises(ValueError):
        ScoreNormalizer(bg[:3], first=0, last=3)
