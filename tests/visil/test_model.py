"""ViSiL / S2VS network in torch: shapes, masks, Chamfer maths, official checkpoint loading."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("einops")

from vidtrace.errors import ModelError
from vidtrace.models.visil import (
    S2VS_CONFIG,
    S2VS_KEYS,
    VISIL_CONFIG,
    VISIL_KEYS,
    ViSiL,
    ViSiLConfig,
    convert_state_dict,
    load_model,
    load_official,
    masked_chamfer,
    save_model,
)
from vidtrace.similarity import dense_frame_similarity

SMALL = ViSiLConfig(dims=8, attention="s2vs", padding="zero")


def _videos(b, t, r, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, r, d, generator=g)
    return x / x.norm(dim=-1, keepdim=True)


def _official_state(variant: str, dims: int, seed: int = 0) -> dict:
    """Random tensors under exactly the official key names and shapes."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"attention.context_vector.weight": (1, dims)}
    if variant == "s2vs":
        shapes.update({"attention.transform.weight": (dims, dims), "attention.transform.bias": (dims,)})
    prefix = "video_comperator" if variant == "visil" else "visil_head"
    for name, (cout, cin, k) in {"conv1": (32, 1, 3), "conv2": (64, 32, 3), "conv3": (128, 64, 3),
                                 "fconv": (1, 128, 1)}.items():
        shapes[f"{prefix}.{name}.weight"] = (cout, cin, k, k)
        shapes[f"{prefix}.{name}.bias"] = (cout,)
    return {k: torch.randn(*s, generator=g) * 0.1 for k, s in shapes.items()}


def test_frame_similarity_is_region_chamfer():
    model = ViSiL(SMALL).eval()
    q, r = _videos(2, 9, 4, 8, 1), _videos(3, 7, 5, 8, 2)
    with torch.no_grad():
        sim, mask = model.frame_similarity(q, r)
    assert sim.shape == (6, 1, 9, 7) and mask is None
    for a in range(2):
        for b in range(3):
            want = dense_frame_similarity(q[a].numpy(), r[b].numpy())
            assert np.allclose(sim[a * 3 + b, 0].numpy(), want, atol=1e-5)
    pair, _ = model.frame_similarity(q[:2], r[:2], pairwise=True)
    assert torch.allclose(pair[1], sim[1 * 3 + 1], atol=1e-6)


@pytest.mark.parametrize("pooling,size", [(True, 4), (False, 16)])
def test_shapes_and_range(pooling, size):
    model = ViSiL(SMALL).eval()
    q, r = _videos(2, 16, 3, 8), _videos(2, 17, 3, 8, 1)
    with torch.no_grad():
        out, mask = model.similarity_matrix(q, r, pooling=pooling)
        scores = model.video_similarity(q, r)
        paired = model.video_similarity(q, r, pairwise=True)
    assert out.shape[-2] == size and mask is None and out.abs().max() <= 1.0
    assert scores.shape == (2, 2) and paired.shape == (2,)
    assert torch.allclose(torch.diagonal(scores), paired, atol=1e-6)


def test_padding_mask_gives_the_unpadded_result():
    torch.manual_seed(0)
    model = ViSiL(SMALL).eval()
    short, long_ = _videos(1, 8, 3, 8, 3), _videos(1, 16, 3, 8, 4)
    padded = torch.cat([short, torch.randn(1, 8, 3, 8)], dim=1)
    batch = torch.cat([padded, long_])
    mask = torch.tensor([[1.0] * 8 + [0.0] * 8, [1.0] * 16])
    with torch.no_grad():
        got = model.video_similarity(batch, long_, mask, None)
        alone = model.video_similarity(short, long_)
        other = model.video_similarity(long_, long_)
        sims, reg = model(batch, mask)
    assert torch.allclose(got[0, 0], alone[0, 0], atol=1e-5)
    assert torch.allclose(got[1, 0], other[0, 0], atol=1e-5)
    assert sims.shape == (2, 2) and 0 <= sims.min() and sims.max() <= 1 and reg >= 0
    assert torch.allclose(sims[0, 1], (model.video_similarity(short, long_)[0, 0] + 1) / 2, atol=1e-5)


def test_masked_chamfer_by_hand():
    s = torch.tensor([[[0.2, 0.9, 5.0], [0.4, 0.1, 5.0], [5.0, 5.0, 5.0]]])
    m = torch.tensor([[[1.0, 1, 0], [1, 1, 0], [0, 0, 0]]])
    assert torch.isclose(masked_chamfer(s, m)[0], torch.tensor((0.9 + 0.4) / 2))
    assert torch.isclose(masked_chamfer(s, m, symmetric=True)[0], torch.tensor(0.5 * (0.65 + (0.4 + 0.9) / 2)))


def test_attention_kinds():
    x = _videos(1, 2, 3, 8)[0]
    visil = ViSiL(ViSiLConfig(dims=8, attention="visil"))
    with torch.no_grad():
        u = visil.attention.context_vector.weight
        u.mul_(3.0)  # the weight is normalised in forward: ViSiL's unit context vector
        y, w = visil.attention(x)
    want = (x @ (u[0] / u.norm())) / 2 + 0.5
    assert torch.allclose(w[..., 0], want, atol=1e-6) and torch.allclose(y, x * w)
    assert 0 <= w.min() and w.max() <= 1


@pytest.mark.parametrize("variant,keys,config", [("visil", VISIL_KEYS, VISIL_CONFIG), ("s2vs", S2VS_KEYS, S2VS_CONFIG)])
def test_official_checkpoints_load_strictly(tmp_path, variant, keys, config):
    dims = config.dims  # the real shapes: 3840-d (visil) / 512-d (s2vs) regions
    state = _official_state(variant, dims)
    assert set(state) == set(keys)
    path = tmp_path / f"{variant}.pth"
    if variant == "s2vs":  # the S2VS release: a training checkpoint with the weights under "model"
        torch.save({"args": argparse.Namespace(dims=dims, lr=5e-5), "model": state, "optimizer": {},
                    "global_step": 3}, path)
    else:
        torch.save(state, path)
    model = load_official(path)
    assert model.config.attention == config.attention and model.config.padding == config.padding
    assert model.config.dims == dims
    for theirs, ours in keys.items():
        assert torch.equal(model.state_dict()[ours], state[theirs])
    with torch.no_grad():
        score = model.video_similarity(_videos(1, 12, 9, dims), _videos(1, 10, 9, dims, 1))
    small = _official_state(variant, 48)  # other region sizes load too (dims taken from the weights)
    torch.save(small, tmp_path / "small.pth")
    assert load_official(tmp_path / "small.pth").config.dims == 48
    assert score.shape == (1, 1) and -1 <= float(score) <= 1


def test_bad_checkpoints(tmp_path):
    with pytest.raises(ModelError):
        convert_state_dict({"foo": torch.zeros(1)})
    state = _official_state("visil", 8)
    state.pop("video_comperator.fconv.bias")
    with pytest.raises(ModelError, match="missing"):
        convert_state_dict(state)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_official(tmp_path / "junk.pth")
    with pytest.raises(ModelError):
        load_official(tmp_path / "absent.pth")


def test_own_checkpoint_roundtrip(tmp_path):
    model = ViSiL(SMALL)
    save_model(model, tmp_path / "m.pt", step=3)
    back = load_model(tmp_path / "m.pt")
    assert back.config == SMALL
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)
