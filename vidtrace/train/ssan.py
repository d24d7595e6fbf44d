"""``vidtrace train ssan``: joint training of SKE and SPD (SSAN section 3.3).

    vidtrace train ssan [--steps 300] [--seed 1729]

Starts from the separately trained networks (``models/weights/spd.npz`` and
``ske.npz``, written by ``vidtrace train spd`` / ``ske``) and trains both end
to end on the train-split maps of :mod:`vidtrace.train.mapdata`:

- the student scores every basis frame (8 fps) of the reference from its
  thumbnails: P [Nr] (sigmoid);
- the keyframe weight of a reference frame is what the index would store:
  1 when P >= threshold or when the sparse uniform mask adds it (the best
  frame of an interval of basis frames that kept none), else 0 -- used in
  the forward pass as is, with the gradient of P (straight-through), so the
  SPD input is exactly the inference-time keyframe map (eq. 7) while the
  detection loss reaches the student;
- SPD input (eq. 5) = S * (1 x P_ref) pooled into the raster (channel 0) and
  the sampled-pair flags weighted alike (channel 1). The query side is not
  weighted (P_query = 1): the engine samples queries densely at 8 fps and
  only the index stores keyframes;
- L = L_SKE + L_SPD (eq. 6): BCE of the student with the teacher on the
  references and on synthetic query sequences, plus the focal + GIoU
  detection loss on mosaic tiles of the weighted maps (targets as in
  ``vidtrace train spd``).

Writes ``--out`` (default ``models/weights/spd_ssan.onnx``) and the student
next to it (``ske_ssan.onnx``), each with .json and .npz; the student's threshold is re-calibrated to keep about as
many frames as before on validation sequences.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights"


def load_state(net, path: Path) -> None:
    """Load a state dict saved as .npz by the trainers."""
    import torch

    z = np.load(path)
    net.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})


class _Pair:
    """Pre-pooled pieces of one pair for the differentiable raster.

    rows_max: float32 [rows, Nb] best similarity of the query samples of each
    raster row with each basis frame; row_has: float32 [rows]; col: int64
    [Nb] raster column of each basis frame; raster; boxes (pixels), rev.
    """

    def __init__(self, ds, p: int, pixel_s: float):
        from vidtrace.align.spd import Raster, seconds_to_pixels

        src = ds.sources[int(ds.pair_ref[p])]
        qt, rt = ds.qtimes(p), src.basis_times
        m = ds.dense(p)
        self.raster = Raster.for_times(qt, rt, pixel_s)
        rows = self.raster.rows_of(qt)
        self.rows_max = np.zeros((self.raster.rows, rt.size), np.float32)
        np.maximum.at(self.rows_max, rows, m)
        self.row_has = np.zeros(self.raster.rows, np.float32)
        self.row_has[rows] = 1.0
        self.col = self.raster.cols_of(rt)
        b, self.rev = ds.pair_boxes(p)
        self.boxes = seconds_to_pixels(b, self.raster)
        self.ref = int(ds.pair_ref[p])


def weighted_raster(pair: _Pair, w):
    """torch float32 [2, rows, cols]: the pair's raster with reference weights w [Nb] (torch)."""
    import torch

    rows, cols = pair.raster.rows, pair.raster.cols
    a = torch.from_numpy(pair.rows_max) * w[None, :]
    idx = torch.from_numpy(pair.col)[None, :].expand(rows, -1)
    sim = torch.zeros(rows, cols).scatter_reduce(1, idx, a, reduce="amax", include_self=True)
    colw = torch.zeros(cols).scatter_reduce(0, torch.from_numpy(pair.col), w, reduce="amax", include_self=True)
    flag = torch.from_numpy(pair.row_has)[:, None] * colw[None, :]
    return torch.stack([sim, flag])


def keyframe_weights(p, quality: np.ndarray, threshold: float, interval: int, min_quality: int):
    """Straight-through keyframe weights: forward = the stored-frame mask
    (threshold + sparse uniform mask), backward = d/dP."""
    import torch

    from vidtrace.keyframes import fill_intervals

    pn = p.detach().numpy()
    good = quality >= min_quality
    hard = fill_intervals((pn >= threshold) & good, pn, interval, good).astype(np.float32)
    return torch.from_numpy(hard) + p - p.detach()


def train(args: argparse.Namespace, log=print) -> dict:
    import torch

    from vidtrace.keyframes import ske_scores
    from vidtrace.models.ske import SKENet, SKENetConfig, ske_loss
    from vidtrace.models.ske import export_onnx as export_ske
    from vidtrace.models.spd import SPDNet, SPDNetConfig, spd_loss
    from vidtrace.models.spd import export_onnx as export_spd
    from vidtrace.train import ske as ske_train
    from vidtrace.train.mapdata import MapDataConfig, build_dataset, command_line, native_thumbs, save_state, \
        split_pairs
    from vidtrace.train.spd import Augment, Geometry, assign_targets, choose_flip, clip_boxes, find_place, \
        label_boxes, orient

    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    spd_meta = json.loads((Path(args.spd).with_suffix(".json")).read_text())
    ske_meta = json.loads((Path(args.ske).with_suffix(".json")).read_text())
    geo = Geometry(**spd_meta["geometry"])
    aug = Augment()
    spd = SPDNet(SPDNetConfig(widths=tuple(spd_meta["network"]["widths"])))
    load_state(spd, Path(args.spd).with_suffix(".npz"))
    ske_cfg = SKENetConfig(**ske_meta["network"])
    ske = SKENet(ske_cfg)
    load_state(ske, Path(args.ske).with_suffix(".npz"))
    teacher = ske_train.TeacherConfig(**ske_meta["teacher"])
    threshold, interval = float(ske_meta["threshold"]), int(ske_meta["interval"])
    data_cfg = MapDataConfig(video_dir=args.videos, seed=args.data_seed, queries=args.queries)
    cache = Path(args.cache) if args.cache else None
    ds = build_dataset(data_cfg, cache, log)
    train_pairs, val_pairs = split_pairs(ds, 0.1, args.seed)
    thumbs = native_thumbs(data_cfg, cache, log)
    seqs = ske_train.query_sequences(ds.sources, thumbs, data_cfg, args.ske_queries)
    val_seqs = ske_train.query_sequences(ds.sources, thumbs, data_cfg, 100, ske_train.QUERY_OFFSET + 5000)
    refs = ske_train.reference_sequences(ds.sources)
    per = ske_cfg.grid * ske_cfg.grid
    pairs = {}
    log(f"{len(ds)} pairs, {len(refs)} references, {len(seqs)} SKE sequences; data {time.perf_counter() - t0:.0f} s")
    params = list(spd.parameters()) + list(ske.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    rng = np.random.default_rng([args.seed, 31])
    if max(r.times.size for r in refs) > per:
        raise RuntimeError(f"a reference has more than {per} basis frames; joint training expects one window each")
    ref_windows = [ske_train.window(r, per, np.random.default_rng(0), teacher) for r in refs]
    hist = []
    for step in range(args.steps):
        spd.train()
        ske.train()
        # student on every reference (each fits one window), straight-through weights
        th = torch.from_numpy(np.stack([w[0] for w in ref_windows]))
        logits = ske(th)
        l_ske = ske_loss(logits, torch.from_numpy(np.stack([w[1] for w in ref_windows])),
                         torch.from_numpy(np.stack([w[2] for w in ref_windows])))
        batch = [ske_train.window(seqs[int(rng.integers(len(seqs)))], per, rng, teacher) for _ in range(8)]
        qt_, qy, qm = (torch.from_numpy(np.stack(x)) for x in zip(*batch))
        l_ske = 0.5 * (l_ske + ske_loss(ske(qt_), qy, qm))
        probs = torch.sigmoid(logits)
        weights = {}
        for v, r in enumerate(refs):
            n = r.times.size
            weights[v] = keyframe_weights(probs[v, :n], r.quality, threshold, interval, teacher.min_quality)
        imgs, targets = [], []
        for _ in range(args.batch):
            canvas = torch.zeros(2, geo.tile, geo.tile)
            occupied = np.zeros((geo.tile, geo.tile), bool)
            all_b, all_k = [], []
            single = rng.random() < aug.p_single
            for _m in range(1 if single else int(rng.integers(2, aug.max_maps + 1))):
                p = int(train_pairs[rng.integers(train_pairs.size)])
                if p not in pairs:
                    pairs[p] = _Pair(ds, p, geo.pixel_s)
                pr = pairs[p]
                img = weighted_raster(pr, weights[pr.ref])
                img, boxes, rev = orient(img, pr.boxes, pr.rev, choose_flip(rng, aug))
                boxes, kind = label_boxes(img.detach().numpy(), boxes, rev, aug.min_support)
                rows, cols = img.shape[-2:]
                h, w = min(rows, geo.tile), min(cols, geo.tile)
                ya, xa = int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1))
                where = (0, 0) if single else find_place(occupied, h, w, rng)
                if where is None:
                    continue
                y, x = where
                canvas[:, y:y + h, x:x + w] = img[:, ya:ya + h, xa:xa + w]
                occupied[y:y + h, x:x + w] = True
                b, k = clip_boxes(boxes, kind, ya, xa, h, w)
                all_b.append(b + np.array([y, x, y, x], dtype=np.float64))
                all_k.append(k)
            imgs.append(canvas)
            boxes = np.concatenate(all_b) if all_b else np.zeros((0, 4))
            kind = np.concatenate(all_k) if all_k else np.zeros(0, np.int8)
            targets.append(assign_targets(boxes, kind, geo.tile, geo.stride))
        cls, wt, bx = (torch.from_numpy(np.stack(x)) for x in zip(*targets))
        out_logits, dist = spd(torch.stack(imgs))
        l_spd, parts = spd_loss(out_logits, dist, cls, wt, bx)
        loss = l_spd + args.ske_weight * l_ske
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        hist.append((float(l_spd.detach()), float(l_ske.detach())))
        if (step + 1) % 25 == 0 or step == 0:
            h = np.mean(hist[-25:], axis=0)
            kept = float(np.mean(np.concatenate([weights[v].detach().numpy() for v in weights])))
            log(f"step {step + 1}/{args.steps} L_SPD {h[0]:.3f} L_SKE {h[1]:.4f} refs keep {kept:.3f} "
                f"({time.perf_counter() - t0:.0f} s)")
    spd.eval()
    ske.eval()

    def run(batch):
        with torch.no_grad():
            return ske(torch.from_numpy(batch)).numpy()

    scores = [ske_scores(s.thumbs, run, ske_cfg.grid) for s in val_seqs]
    quals = [s.quality for s in val_seqs]
    before = ske_meta["validation"]["keep_rate_by_threshold"]
    target = before.get(str(threshold), ske_meta["validation"]["teacher_keep_rate"])
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    rates = {float(t): round(ske_train.keep_rate(scores, quals, t, interval, teacher.min_quality), 4) for t in grid}
    new_thr = float(min(grid, key=lambda t: abs(rates[float(t)] - target)))
    log(f"student threshold {threshold} -> {new_thr} (keep rate {rates[new_thr]:.3f}, target {target:.3f})")
    wall = round(time.perf_counter() - t0, 1)
    common = {"command": command_line("ssan"), "seed": args.seed, "joint": True,
              "initialised_from": [Path(args.spd).name, Path(args.ske).name],
              "training": {"steps": args.steps, "batch": args.batch, "lr": args.lr, "ske_weight": args.ske_weight,
                           "wall_s": wall, "final_l_spd": round(float(np.mean([h[0] for h in hist[-25:]])), 4),
                           "final_l_ske": round(float(np.mean([h[1] for h in hist[-25:]])), 4)},
              "data": {"split": data_cfg.split, "data_seed": data_cfg.seed, "pairs": int(train_pairs.size),
                       "validation_pairs": int(val_pairs.size)}}
    out_spd = Path(args.out)
    out_ske = out_spd.with_name(out_spd.name.replace("spd", "ske", 1))
    out_spd.parent.mkdir(parents=True, exist_ok=True)
    export_spd(spd, str(out_spd), geo.tile)
    export_ske(ske, str(out_ske))
    for net, path in ((spd, out_spd), (ske, out_ske)):
        save_state(net, path.with_suffix(".npz"))
    spd_json = {**{k: spd_meta[k] for k in ("geometry", "network", "inputs", "outputs")}, "model": "spd_ssan",
                **common}
    ske_json = {**{k: ske_meta[k] for k in ("thumb_size", "grid", "basis_fps", "interval", "network", "teacher",
                                            "inputs", "outputs")},
                "model": "ske_ssan", "threshold": new_thr, **common,
                "validation": {"keep_rate_by_threshold": rates, "target_keep_rate": target}}
    out_spd.with_suffix(".json").write_text(json.dumps(spd_json, indent=1) + "\n")
    out_ske.with_suffix(".json").write_text(json.dumps(ske_json, indent=1) + "\n")
    log(f"wrote {out_spd.name}, {out_ske.name} (+ .json, .npz) in {out_spd.parent} ({wall:.0f} s)")
    return {"spd": spd_json, "ske": ske_json, "augment": asdict(aug)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidtrace.train.mapdata import common_arguments

    common_arguments(p, out=WEIGHTS / "spd_ssan.onnx", steps=600, batch=16, lr=5e-4, queries=1500)
    p.add_argument("--spd", default=str(WEIGHTS / "spd.onnx"), help="SPD to start from (its .npz and .json)")
    p.add_argument("--ske", default=str(WEIGHTS / "ske.onnx"), help="SKE student to start from (.npz, .json)")
    p.add_argument("--ske-weight", type=float, default=1.0, help="weight of L_SKE in the sum")
    p.add_argument("--ske-queries", type=int, default=400, help="query programs used as SKE sequences")


def add_train_parser(train_subparsers) -> argparse.ArgumentParser:
    """Register ``ssan`` under ``vidtrace train``."""
    from vidtrace.train.mapdata import add_trainer

    return add_trainer(train_subparsers, "ssan", "jointly fine-tune SKE and SPD (needs torch and both models)",
                       add_arguments, train)


if __name__ == "__main__":
    from vidtrace.train.mapdata import trainer_main

    sys.exit(trainer_main(__doc__, add_arguments, train))
