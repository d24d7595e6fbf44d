"""S2VS training: losses by hand, schedule, batches, determinism, resume, export + onnxruntime."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("einops")

from vidtrace.errors import ConfigError
from vidtrace.train.s2vs import (
    LOG_FIELDS,
    S2VSConfig,
    ViewPool,
    add_train_parser,
    lr_at,
    read_log,
    s2vs_losses,
    sample_batch,
    train,
)

TINY = S2VSConfig(synth=3, synth_seconds=5.0, window=8, weak_views=1, strong_views=2, batch=2, steps=3, warmup=1,
                  feature={"name": "regions", "grid": 3, "dim": 16}, p_viv=0.5, seed=3)


def test_losses_by_hand():
    cfg = S2VSConfig(temperature=0.5, lambda_sshn=2.0, r_reg=0.1)
    sim = torch.tensor([[0.9, 0.1, 0.7, 0.2], [0.3, 0.8, 0.2, 0.6], [0.6, 0.2, 0.9, 0.1], [0.1, 0.5, 0.3, 0.7]])
    pos = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]], dtype=torch.bool)
    out = s2vs_losses(sim, pos, torch.tensor(0.5), cfg)
    e = lambda v: math.exp(v / 0.5)
    nce = [-math.log(e(0.7) / (e(0.7) + e(0.1) + e(0.2))), -math.log(e(0.6) / (e(0.6) + e(0.3) + e(0.2))),
           -math.log(e(0.6) / (e(0.6) + e(0.2) + e(0.1))), -math.log(e(0.5) / (e(0.5) + e(0.1) + e(0.3)))]
    hard = [0.2, 0.3, 0.2, 0.3]
    sshn = np.mean([-math.log(1 - h) - math.log(s) for h, s in zip(hard, [0.9, 0.8, 0.9, 0.7])])
    assert math.isclose(float(out["infonce"]), np.mean(nce), rel_tol=1e-5)
    assert math.isclose(float(out["sshn"]), sshn, rel_tol=1e-5)
    assert math.isclose(float(out["loss"]), np.mean(nce) + 2.0 * sshn + 0.1 * 0.5, rel_tol=1e-5)


def test_schedule():
    cfg = S2VSConfig(lr=1.0, warmup=10, steps=110, warmup_lr=0.01, final_lr=0.1)
    assert math.isclose(lr_at(0, cfg), 0.01) and math.isclose(lr_at(10, cfg), 1.0)
    assert lr_at(5, cfg) < lr_at(9, cfg) < 1.0
    assert math.isclose(lr_at(109, cfg), 0.1) and lr_at(60, cfg) < lr_at(40, cfg)


def test_batch_labels_follow_sources_and_hosts():
    feats = np.zeros((6, 4, 1, 2), np.float16)
    pool = ViewPool(feats, np.array([0, 0, 1, 1, 2, 2]), np.array([-1, 1, -1, -1, -1, -1]),
                    np.array([False, True] * 3), ("a", "b", "c"))
    cfg = S2VSConfig(batch=3, seed=1)
    x, pos, views = sample_batch(pool, cfg, 0)
    assert x.shape == (6, 4, 1, 2) and x.dtype == np.float32 and pos.shape == (6, 6)
    # view 1 (source 0) shows source 1 too (video-in-video host)
    shows = [{int(pool.source[v])} | ({1} if v == 1 else set()) for v in views]
    assert np.array_equal(pos, [[bool(a & b) for b in shows] for a in shows])
    assert sorted(pool.source[views[:3]]) == [0, 1, 2] and not pool.strong[views[:3]].any()
    again = sample_batch(pool, cfg, 0)
    assert np.array_equal(again[2], views)


def test_config_checks_and_json():
    with pytest.raises(ConfigError):
        S2VSConfig(window=2)
    with pytest.raises(ConfigError):
        S2VSConfig(batch=1)
    assert S2VSConfig.from_json(json.loads(json.dumps(TINY.to_json()))) == TINY
    with pytest.raises(ConfigError):
        S2VSConfig.from_json({"nope": 1})


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The same tiny run twice from scratch, and once stopped after 2 steps then resumed."""
    base = tmp_path_factory.mktemp("s2vs")
    out = {}
    for name in ("a", "b"):
        model, recs = train(base / name, TINY, device="cpu", log=lambda m: None)
        out[name] = (model, recs)
    train(base / "c", TINY, device="cpu", stop_after=2, log=lambda m: None)
    model_c, _ = train(base / "c", None, device="cpu", log=lambda m: None)
    out["c"] = (model_c, read_log(base / "c"))
    out["dir"] = base
    return out


def test_same_seed_same_loss_curve(tiny_runs):
    la = [r["loss"] for r in tiny_runs["a"][1]]
    lb = [r["loss"] for r in tiny_runs["b"][1]]
    assert len(la) == 3 and all(np.isfinite(la))
    assert la == lb


def test_resume_continues_exactly(tiny_runs):
    la = [r["loss"] for r in tiny_runs["a"][1]]
    lc = [r["loss"] for r in tiny_runs["c"][1]]
    assert [r["step"] for r in tiny_runs["c"][1]] == [1, 2, 3]
    assert lc == la
    for k, v in tiny_runs["a"][0].state_dict().items():
        assert torch.equal(tiny_runs["c"][0].state_dict()[k], v)
    rows = (tiny_runs["dir"] / "c" / "log.csv").read_text().splitlines()
    assert rows[0].split(",") == list(LOG_FIELDS) and len(rows) == 4


def test_resume_refuses_another_config(tiny_runs):
    with pytest.raises(ConfigError):
        train(tiny_runs["dir"] / "a", S2VSConfig(seed=99), device="cpu", log=lambda m: None)


def test_cli_parser():
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers())
    args = parser.parse_args(["s2vs", "run", "--synth", "5", "--steps", "7", "--weak-views", "3"])
    assert args.synth == 5 and args.steps == 7 and args.weak_views == 3 and callable(args.func)
