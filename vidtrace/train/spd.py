"""``vidtrace train spd``: train the SPD detector on synthetic maps of the train families.

    vidtrace train spd [--steps 1400] [--batch 24] [--seed 1729] [--out vidtrace/models/weights/spd.onnx]

Data: :mod:`vidtrace.train.mapdata` (train split only, cached). Each training
sample is one 128 x 128 tile (``tile`` pixels of ``pixel_s`` seconds): one
pair's map at the top-left corner as at inference, or a *mosaic* of several
pairs' maps at random free places (cropped when larger than the tile, their
boxes clipped). Per map, augmentations: the reference's stored frames (2 fps
uniform as the library does, 1 or 4 fps, all 8 fps basis frames, or random
keyframe-like subsets with at least one frame per second), kNN-style
sparsification (top-k entries per query row), a few false hits, and flips of
the reference axis (forward <-> reversed copies) or of both axes.

Targets (:func:`assign_targets`): the network detects forward patterns only;
a forward box is *positive* on the cells of the central 70% of its diagonal
(within a stride of it) plus the cell holding its centre, *ignored* on the
rest of the diagonal; a box whose diagonal is barely supported by entries
(less than ``min_support`` of its rows, e.g. an edit PDQ does not survive)
is ignored, one with no entry at all is dropped. Reversed boxes are plain
negatives (they are found on the flipped raster).

Reproducible: numpy and torch are seeded from ``--seed``, batches are made in
the main process; CPU by default (``--threads``), CUDA when available.
Writes ``OUT`` (ONNX) and ``OUT.json`` (geometry, network config, training
command, data split and configuration, seed, wall time, validation numbers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from vidtrace.align.spd import Raster, flip_boxes, rasterize, seconds_to_pixels

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "models" / "weights" / "spd.onnx"


@dataclass(frozen=True)
class Geometry:
    """pixel_s: seconds per raster pixel; tile: square training / inference
    tile (pixels); stride: output stride of the network; overlap: pixels
    shared by neighbouring inference tiles."""

    pixel_s: float = 0.25
    tile: int = 128
    stride: int = 4
    overlap: int = 32


@dataclass(frozen=True)
class Augment:
    """Probabilities and ranges of the map augmentations (see the module docstring)."""

    p_single: float = 0.3
    max_maps: int = 6
    p_uniform2: float = 0.45
    p_basis: float = 0.1
    p_keyframes: float = 0.3
    p_topk: float = 0.4
    p_noise: float = 0.3
    p_flip_ref: float = 0.5
    p_flip_both: float = 0.3
    p_engine: float = 0.4
    min_support: float = 0.3


# --------------------------------------------------------------------------- one pair


def ref_subset(src, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """Indices of the basis frames a reference (a mapdata SourceVideo) keeps in this sample."""
    from vidtrace.keyframes import fill_intervals, teacher_keyframes
    from vidtrace.train.mapdata import uniform_subset

    times = src.basis_times
    u = rng.random()
    if u < aug.p_uniform2:
        return uniform_subset(times, 2.0)
    u -= aug.p_uniform2
    if u < aug.p_basis:
        return np.arange(times.size)
    u -= aug.p_basis
    if u < aug.p_keyframes:
        good = src.basis_quality >= 50
        if rng.random() < 0.5:  # the teacher's rule with random parameters
            keep = teacher_keyframes(src.basis_desc, src.basis_quality, times, min_distance=int(rng.integers(24, 72)),
                                     min_gap=float(rng.choice([0.25, 0.375, 0.5])),
                                     max_gap=float(rng.choice([0.75, 1.0, 1.5])))
        else:  # random frames
            keep = rng.random(times.size) < rng.uniform(0.1, 0.45)
        return np.flatnonzero(fill_intervals(keep, rng.random(times.size), 8, good))
    return uniform_subset(times, float(rng.choice([1.0, 4.0])))


def support(img: np.ndarray, box: np.ndarray) -> float:
    """Fraction of the query rows of a forward box (pixels) with an entry
    near its diagonal in the raster ``img`` [2, rows, cols]."""
    y0, x0, y1, x1 = box
    r0, r1 = int(max(0, np.floor(y0))), int(min(img.shape[1], np.ceil(y1)))
    if r1 <= r0:
        return 0.0
    ys = np.arange(r0, r1) + 0.5
    xs = x0 + (ys - y0) / max(y1 - y0, 1e-6) * (x1 - x0)
    tol = max(2.5, 0.15 * (x1 - x0))
    lo = np.clip(np.floor(xs - tol), 0, img.shape[2]).astype(int)
    hi = np.clip(np.ceil(xs + tol), 0, img.shape[2]).astype(int)
    hit = [bool(np.any(img[0, r, a:b] > 0)) for r, a, b in zip(range(r0, r1), lo, hi)]
    return float(np.mean(hit)) if hit else 0.0


def render_pair(ds, p: int, rng: np.random.Generator, geo: Geometry, aug: Augment):
    """One augmented synthetic pair (see :func:`render_entries`)."""
    src = ds.sources[int(ds.pair_ref[p])]
    keep = ref_subset(src, rng, aug)
    m = ds.dense(p)[:, keep]
    if rng.random() < aug.p_topk and m.shape[1] > 1:
        k = min(int(rng.integers(1, 8)), m.shape[1])
        thr = -np.sort(-m, axis=1)[:, k - 1:k]
        m = np.where(m >= np.maximum(thr, 1e-6), m, 0.0)
    qi, ri = np.nonzero(m)
    boxes, rev = ds.pair_boxes(p)
    return render_entries(ds.qtimes(p), src.basis_times[keep], qi, ri, m[qi, ri], boxes, rev, rng, geo, aug)


def render_engine(em, rng: np.random.Generator, geo: Geometry, aug: Augment):
    """One augmented map of the engine (mapdata.EngineMap; see :func:`render_entries`)."""
    sm = em.smap
    return render_entries(sm.query_times, sm.ref_times, sm.qi, sm.ri, sm.sim, em.boxes, em.reversed, rng, geo, aug)


def render_entries(qt, rt, qi, ri, sim, boxes_s, rev, rng: np.random.Generator, geo: Geometry, aug: Augment):
    """Raster of a map's entries with a few false hits added, flipped at
    random, and its boxes labelled: (img float32 [2, rows, cols], boxes
    float64 [k, 4] forward-oriented pixels, kind int8 [k]: 1 positive, 0
    negative (a reversed copy in this orientation), -1 ignore)."""
    qi, ri, sim = np.asarray(qi), np.asarray(ri), np.asarray(sim, np.float32)
    if rng.random() < aug.p_noise:
        n = int(rng.integers(1, max(2, qt.size * rt.size // 100)))
        qi = np.r_[qi, rng.integers(0, qt.size, n)]
        ri = np.r_[ri, rng.integers(0, rt.size, n)]
        sim = np.r_[sim, rng.uniform(0.41, 0.75, n).astype(np.float32)]
    raster = Raster.for_times(qt, rt, geo.pixel_s)
    img = rasterize(qt, rt, qi, ri, sim, raster)
    img, boxes, rev = orient(img, seconds_to_pixels(boxes_s, raster), rev, choose_flip(rng, aug))
    boxes, kind = label_boxes(np.ascontiguousarray(img), boxes, rev, aug.min_support)
    return np.ascontiguousarray(img), boxes, kind


def choose_flip(rng: np.random.Generator, aug: Augment) -> str:
    """"ref" (mirror the reference axis), "both" (both axes) or "none"."""
    if rng.random() < aug.p_flip_ref:
        return "ref"
    return "both" if rng.random() < aug.p_flip_both else "none"


def orient(img, boxes: np.ndarray, rev: np.ndarray, how: str):
    """Flip a raster [2, rows, cols] (numpy or torch) and its boxes (pixels):
    "ref" mirrors the reference axis (forward <-> reversed), "both" both
    axes (directions kept). Returns (img, boxes, reversed)."""
    rows, cols = img.shape[-2:]
    rev = np.array(rev, dtype=bool, copy=True)
    if how == "none":
        return img, boxes, rev
    flip = (lambda x, dims: x.flip(dims)) if hasattr(img, "flip") else (lambda x, dims: np.flip(x, dims))
    boxes = flip_boxes(boxes, cols)
    if how == "ref":
        return flip(img, (-1,)), boxes, ~rev
    boxes = np.stack([rows - boxes[:, 2], boxes[:, 1], rows - boxes[:, 0], boxes[:, 3]], axis=1)
    return flip(img, (-2, -1)), boxes, rev


def label_boxes(img: np.ndarray, boxes: np.ndarray, rev: np.ndarray, min_support: float):
    """Kinds of a raster's boxes: 1 positive (forward, supported by entries),
    -1 ignored (forward, weakly supported), 0 negative (reversed); boxes
    with no entry near their diagonal at all are dropped. Returns (boxes, kind)."""
    cols = img.shape[-1]
    kind = np.zeros(len(boxes), dtype=np.int8)
    for i, b in enumerate(boxes):
        sup = support(img[:, :, ::-1], flip_boxes(b[None], cols)[0]) if rev[i] else support(img, b)
        if sup <= 0:
            kind[i] = 2
        elif rev[i]:
            kind[i] = 0
        else:
            kind[i] = 1 if sup >= min_support else -1
    keep = kind != 2
    return np.asarray(boxes, np.float64).reshape(-1, 4)[keep], kind[keep]


def clip_boxes(boxes: np.ndarray, kind: np.ndarray, y: int, x: int, h: int, w: int):
    """Boxes (pixels of a map) seen through the window [y, y+h) x [x, x+w),
    in window pixels; a positive box keeping less than half of its query
    extent becomes ignored; boxes outside are dropped."""
    b = boxes - np.array([y, x, y, x], dtype=np.float64)
    c = b.copy()
    c[:, [0, 2]] = np.clip(c[:, [0, 2]], 0, h)
    c[:, [1, 3]] = np.clip(c[:, [1, 3]], 0, w)
    ok = (c[:, 2] - c[:, 0] > 0.25) & (c[:, 3] - c[:, 1] > 0.25)
    k = kind.copy()
    frac = (c[:, 2] - c[:, 0]) / np.maximum(b[:, 2] - b[:, 0], 1e-6)
    k[(k == 1) & (frac < 0.5)] = -1
    return c[ok], k[ok]


def find_place(occupied: np.ndarray, h: int, w: int, rng: np.random.Generator, tries: int = 12):
    """A random top-left corner (y, x) where an h x w map fits in a tile
    whose ``occupied`` [T, T] flags are all 0 in it and a 1-pixel margin;
    None when 12 random tries fail."""
    t = occupied.shape[0]
    for _ in range(tries):
        y, x = int(rng.integers(0, t - h + 1)), int(rng.integers(0, t - w + 1))
        if not occupied[max(0, y - 1):y + h + 1, max(0, x - 1):x + w + 1].any():
            return y, x
    return None


def make_tile(ds, pairs: np.ndarray, rng: np.random.Generator, geo: Geometry, aug: Augment, engine=()):
    """One training tile: (img float32 [2, T, T], boxes [k, 4] pixels, kind
    int8 [k]); each map is an engine map (of ``engine``) with probability
    ``aug.p_engine``, else a synthetic pair of ``pairs``."""
    t = geo.tile
    canvas = np.zeros((2, t, t), dtype=np.float32)
    all_b, all_k = [], []
    single = rng.random() < aug.p_single
    n_maps = 1 if single else int(rng.integers(2, aug.max_maps + 1))
    for _ in range(n_maps):
        if engine and rng.random() < aug.p_engine:
            img, boxes, kind = render_engine(engine[int(rng.integers(len(engine)))], rng, geo, aug)
        else:
            img, boxes, kind = render_pair(ds, int(pairs[rng.integers(pairs.size)]), rng, geo, aug)
        _, rows, cols = img.shape
        h, w = min(rows, t), min(cols, t)
        ya = int(rng.integers(0, rows - h + 1))
        xa = int(rng.integers(0, cols - w + 1))
        where = (0, 0) if single else find_place(canvas[1], h, w, rng)
        if where is None:
            continue
        y, x = where
        canvas[:, y:y + h, x:x + w] = img[:, ya:ya + h, xa:xa + w]
        b, k = clip_boxes(boxes, kind, ya, xa, h, w)
        all_b.append(b + np.array([y, x, y, x], dtype=np.float64))
        all_k.append(k)
    boxes = np.concatenate(all_b) if all_b else np.zeros((0, 4))
    kind = np.concatenate(all_k) if all_k else np.zeros(0, np.int8)
    return canvas, boxes, kind


def assign_targets(boxes: np.ndarray, kind: np.ndarray, size: int, stride: int):
    """FCOS-style targets of one tile (see the module docstring).

    boxes float [k, 4] pixels, kind int [k] (1 positive, -1 ignore, 0
    negative). Returns cls float32 [h, w] (1 on positive cells), weight
    float32 [h, w] (0 on ignored cells), box float32 [h, w, 4] (the
    positive cell's box), with h = w = size // stride.
    """
    n = size // stride
    cls = np.zeros((n, n), np.float32)
    weight = np.ones((n, n), np.float32)
    target = np.zeros((n, n, 4), np.float32)
    best_area = np.full((n, n), np.inf)
    c = (np.arange(n) + 0.5) * stride
    cy, cx = c[:, None], c[None, :]
    for b, k in zip(boxes, kind):
        if k == 0:
            continue
        y0, x0, y1, x1 = b
        bh, bw = y1 - y0, x1 - x0
        inside = (cy >= y0) & (cy <= y1) & (cx >= x0) & (cx <= x1)
        x_line = x0 + (cy - y0) / max(bh, 1e-6) * bw
        near = np.abs(cx - x_line) <= max(float(stride), 0.15 * bw)
        along = (cy - y0) / max(bh, 1e-6)
        central = (along >= 0.15) & (along <= 0.85)
        band = inside & near
        pos = band & central
        ci = min(n - 1, max(0, int((y0 + y1) / 2 // stride)))
        cj = min(n - 1, max(0, int((x0 + x1) / 2 // stride)))
        pos[ci, cj] = True
        if k < 0:
            weight[band | pos] = 0.0
            continue
        weight[band & ~pos & (cls == 0)] = 0.0
        area = bh * bw
        take = pos & (area < best_area)
        cls[take] = 1.0
        weight[take] = 1.0
        target[take] = b
        best_area[take] = area
    return cls, weight, target


def make_batch(ds, pairs, rng, geo: Geometry, aug: Augment, size: int, engine=()):
    """``size`` tiles and their targets as stacked arrays."""
    imgs, clss, ws, boxes = [], [], [], []
    for _ in range(size):
        img, b, k = make_tile(ds, pairs, rng, geo, aug, engine)
        c, w, t = assign_targets(b, k, geo.tile, geo.stride)
        imgs.append(img)
        clss.append(c)
        ws.append(w)
        boxes.append(t)
    return np.stack(imgs), np.stack(clss), np.stack(ws), np.stack(boxes)


# --------------------------------------------------------------------------- evaluation on held-out pairs


def validation_maps(ds, pairs: np.ndarray, fps: float = 2.0) -> list:
    """(query id, reference id, SimilarityMap, gt boxes seconds) of held-out
    synthetic pairs with the reference sampled uniformly at ``fps`` (what the
    engine stores)."""
    from vidtrace.train.mapdata import uniform_subset
    from vidtrace.types import SimilarityMap

    out = []
    for p in pairs.tolist():
        src = ds.sources[int(ds.pair_ref[p])]
        keep = uniform_subset(src.basis_times, fps)
        smap = SimilarityMap.from_dense(ds.dense(p)[:, keep], ds.qtimes(p), src.basis_times[keep])
        out.append((f"q{int(ds.pair_query[p])}", src.name, smap, ds.pair_boxes(p)[0]))
    return out


def split_engine(maps: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation) engine maps, split by query."""
    queries = sorted({m.query for m in maps})
    rng = np.random.default_rng([seed, 9])
    val = {q for q in queries if rng.random() < fraction}
    return [m for m in maps if m.query not in val], [m for m in maps if m.query in val]


def segment_map_ap(items, align) -> float:
    """Segment-level micro-AP (VSC2022) of ``align(smap) -> segments`` over
    validation items (query id, reference id, map, gt boxes in seconds)."""
    from vidtrace.eval.metrics import segment_ap
    from vidtrace.types import MatchRow

    gt, pred = [], []
    for qid, rid, smap, boxes in items:
        gt += [MatchRow(qid, rid, b[0], b[2], b[1], b[3]) for b in boxes]
        pred += [MatchRow(qid, rid, s.query_start, s.query_end, s.reference_start, s.reference_end, s.score)
                 for s in align(smap)]
    return float(segment_ap(gt, pred).ap) if gt else 0.0


# --------------------------------------------------------------------------- training


def train(args: argparse.Namespace, log=print) -> dict:
    """Train, export ONNX + JSON; returns the JSON written."""
    import torch

    from vidtrace.align.spd import SPDModelInfo, detect_raster
    from vidtrace.models.spd import SPDNet, SPDNetConfig, export_onnx, spd_loss
    from vidtrace.train.mapdata import MapDataConfig, build_dataset, command_line, engine_maps, make_engine_bench, \
        save_state, split_pairs

    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    geo = Geometry()
    aug = Augment()
    data_cfg = MapDataConfig(video_dir=args.videos, seed=args.data_seed, queries=args.queries)
    log(f"data: {data_cfg.split} families of {args.videos} (seed {data_cfg.seed}, {data_cfg.queries} queries)")
    ds = build_dataset(data_cfg, Path(args.cache) if args.cache else None, log)
    train_pairs, val_pairs = split_pairs(ds, 0.1, args.seed)
    engine_train, engine_val = [], []
    if not args.no_engine:
        bench = make_engine_bench(Path(args.engine_bench), queries=args.engine_queries,
                                  negatives=args.engine_negatives, log=log)
        found = engine_maps(bench, log)
        for extra in args.extra_engine_bench or ():  # rendered beforehand, e.g. from generated footage
            found += [replace(m, query=f"{Path(extra).name}/{m.query}") for m in engine_maps(Path(extra), log)]
        engine_train, engine_val = split_engine(found, 0.15, args.seed)
        log(f"engine maps: {len(engine_train)} train, {len(engine_val)} validation (rendered {bench.name})")
    t_data = time.perf_counter() - t_start
    log(f"{len(ds)} pairs ({train_pairs.size} train, {val_pairs.size} validation), "
        f"{ds.boxes.shape[0]} copied boxes; data ready in {t_data:.0f} s")
    net_cfg = SPDNetConfig()
    net = SPDNet(net_cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    rng = np.random.default_rng([args.seed, 11])
    history = []
    for step in range(args.steps):
        imgs, cls, w, boxes = make_batch(ds, train_pairs, rng, geo, aug, args.batch, engine_train)
        net.train()
        logits, dist = net(torch.from_numpy(imgs).to(device))
        loss, parts = spd_loss(logits, dist, torch.from_numpy(cls).to(device), torch.from_numpy(w).to(device),
                               torch.from_numpy(boxes).to(device))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
        if (step + 1) % 50 == 0 or step == 0:
            log(f"step {step + 1}/{args.steps} loss {np.mean(history[-50:]):.3f} (cls {parts['cls']:.3f} "
                f"box {parts['box']:.3f}) {time.perf_counter() - t_start:.0f} s")
    net.eval().cpu()
    info = SPDModelInfo(geo.pixel_s, geo.tile, geo.stride, geo.overlap)

    def run(images):
        with torch.no_grad():
            a, b = net(torch.from_numpy(images))
        return a.numpy(), b.numpy()

    def align(smap):
        raster = Raster.for_times(smap.query_times, smap.ref_times, geo.pixel_s)
        img = rasterize(smap.query_times, smap.ref_times, smap.qi, smap.ri, smap.sim, raster)
        found = detect_raster(img, run, info, overlap=geo.overlap, min_score=0.05, nms_iou=0.4, top_k=50,
                              detect_reversed=True, max_boxes=10)
        return _segments(found, raster)

    items = validation_maps(ds, val_pairs[: args.val_pairs])
    val_ap = segment_map_ap(items, align)
    log(f"validation segment uAP (synthetic dense maps, 2 fps references, {len(items)} pairs): {val_ap:.4f}")
    engine_ap = None
    if engine_val:
        engine_ap = segment_map_ap([(m.query, m.ref, m.smap, m.boxes) for m in engine_val], align)
        log(f"validation segment uAP (engine maps of {len({m.query for m in engine_val})} held-out rendered "
            f"queries): {engine_ap:.4f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(net, str(out), geo.tile)
    save_state(net, out.with_suffix(".npz"))
    meta = {
        "model": "spd",
        "geometry": asdict(geo),
        "network": net_cfg.to_json(),
        "inputs": {"maps": "float32 [B, 2, H, W]: channel 0 best similarity per pixel, channel 1 sampled-pair flag"},
        "outputs": {"logits": "float32 [B, 1, H/4, W/4]", "dist": "float32 [B, 4, H/4, W/4] pixels"},
        "command": command_line("spd"),
        "seed": args.seed,
        "data": {"split": data_cfg.split, "families": [s.name for s in ds.sources], "config": _jsonable(data_cfg),
                 "pairs": len(ds), "train_pairs": int(train_pairs.size), "validation_pairs": int(val_pairs.size),
                 "engine_bench": None if args.no_engine else {
                     "path": Path(args.engine_bench).name, "made_by": "vidtrace bench make --split train --seed 1729 "
                     f"--queries {args.engine_queries} --negatives {args.engine_negatives}",
                     "train_maps": len(engine_train),
                     "validation_maps": len(engine_val),
                     "extra": [Path(e).name for e in args.extra_engine_bench or ()]}},
        "training": {"steps": args.steps, "batch": args.batch, "lr": args.lr, "optimizer": "AdamW one-cycle",
                     "augment": asdict(aug), "device": str(device), "threads": args.threads,
                     "wall_s": round(time.perf_counter() - t_start, 1), "data_s": round(t_data, 1),
                     "final_loss": round(float(np.mean(history[-50:])), 4)},
        "validation": {"segment_uap_synthetic": round(val_ap, 4), "synthetic_pairs": len(items),
                       "segment_uap_engine": None if engine_ap is None else round(engine_ap, 4),
                       "engine_maps": len(engine_val)},
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.with_suffix('.json').name}; "
        f"{meta['training']['wall_s']:.0f} s in all")
    return meta


def _segments(found, raster: Raster):
    from vidtrace.align.spd import pixels_to_seconds
    from vidtrace.types import Segment

    out = []
    for box, score, rev in found:
        s = pixels_to_seconds(box[None], raster)[0]
        if s[2] > s[0] and s[3] > s[1]:
            out.append(Segment(s[0], s[2], s[1], s[3], float(score), reversed=rev))
    return out


def _jsonable(cfg) -> dict:
    d = asdict(cfg)
    d["video_dir"] = Path(d["video_dir"]).name
    d["query_variants"] = list(d["query_variants"])
    return d


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidtrace.train.mapdata import common_arguments

    from vidtrace.train.mapdata import default_engine_bench

    common_arguments(p, out=DEFAULT_OUT, steps=2500, batch=24, lr=3e-3, queries=1500)
    p.add_argument("--val-pairs", type=int, default=300, help="held-out pairs scored after training")
    p.add_argument("--engine-bench", default=str(default_engine_bench()),
                   help="rendered train-split benchmark whose engine maps are mixed in (rendered when missing)")
    p.add_argument("--engine-queries", type=int, default=120,
                   help="queries of that benchmark when it has to be rendered (default 120)")
    p.add_argument("--engine-negatives", type=int, default=20, help="of which negatives (default 20)")
    p.add_argument("--extra-engine-bench", action="append", default=None, metavar="DIR",
                   help="another rendered benchmark (no evaluation footage) whose engine maps are mixed in; repeatable")
    p.add_argument("--no-engine", action="store_true", help="train on the synthetic maps only")


def add_train_parser(train_subparsers) -> argparse.ArgumentParser:
    """Register ``spd`` under ``vidtrace train``."""
    from vidtrace.train.mapdata import add_trainer

    return add_trainer(train_subparsers, "spd", "train the SPD alignment detector (needs torch)", add_arguments, train)


if __name__ == "__main__":
    from vidtrace.train.mapdata import trainer_main

    sys.exit(trainer_main(__doc__, add_arguments, train))
