"""``vidtrace train ske``: train the SKE student on the teacher's keyframe labels.

    vidtrace train ske [--steps 600] [--seed 1729] [--out vidtrace/models/weights/ske.onnx]

Data (train families only, :mod:`vidtrace.train.mapdata`): sequences of 8 fps
basis frames -- every train video as the library would sample it, and
synthetic query programs (excerpts with temporal edits, frame-level
appearance edits, filler) -- given as grey thumbnails (what the student sees)
and PDQ descriptors and quality (what the teacher sees). Labels come from
:func:`vidtrace.keyframes.teacher_keyframes` run on each training window
(windows of m*m frames; shorter sequences are padded, longer ones cut at a
random offset). Loss: BCE (SSAN eq. 2), Adam, seeded.

The default threshold written to the JSON is the one at which the student
(with the sparse uniform mask) keeps as many frames as the teacher on the
validation windows; ``thresholds`` lists the keep rate at others.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "models" / "weights" / "ske.onnx"
QUERY_OFFSET = 1_000_000
"""Query programs for SKE use indices from here, disjoint from the SPD maps' programs."""


@dataclass(frozen=True)
class TeacherConfig:
    """Parameters of :func:`vidtrace.keyframes.teacher_keyframes` and the mask interval (basis frames)."""

    min_distance: int = 48
    min_gap: float = 0.5
    max_gap: float = 1.0
    min_quality: int = 50
    interval: int = 8


@dataclass(frozen=True)
class Sequence_:
    """Basis frames of one video: times float64 [N] s, thumbs uint8 [N, s, s],
    desc uint8 [N, 32], quality int16 [N]."""

    times: np.ndarray
    thumbs: np.ndarray
    desc: np.ndarray
    quality: np.ndarray


def reference_sequences(sources) -> list[Sequence_]:
    """Every source video's basis frames as the library samples them."""
    return [Sequence_(s.basis_times, s.thumbs, s.basis_desc, s.basis_quality) for s in sources]


def query_sequences(sources, thumbs, cfg, count: int, offset: int = QUERY_OFFSET) -> list[Sequence_]:
    """Basis frames of ``count`` synthetic query programs (8 fps samples):
    thumbnails from the sources' edited frames, black for unsearchable filler,
    noise for the rest of the filler."""
    from vidtrace.train.mapdata import make_query

    out = []
    s = cfg.thumb_size
    for k in range(offset, offset + count):
        q = make_query(k, sources, cfg)
        rng = np.random.default_rng([k, 3])
        th = np.where(q.quality[:, None, None] > 0, rng.integers(0, 256, (q.times.size, s, s)), 0).astype(np.uint8)
        for v in np.unique(q.frame_video[q.frame_video >= 0]).tolist():
            at = np.flatnonzero(q.frame_video == v)
            th[at] = thumbs[v][q.appearance, q.frame_index[at]]
        out.append(Sequence_(q.times, th, q.desc, q.quality))
    return out


def window(seq: Sequence_, per: int, rng: np.random.Generator, teacher: TeacherConfig):
    """(thumbs float32 [per, s, s], labels float32 [per], mask float32 [per])
    of a random window of ``seq`` (teacher labels computed on the window)."""
    from vidtrace.keyframes import teacher_keyframes

    n = seq.times.size
    a = int(rng.integers(0, n - per + 1)) if n > per else 0
    z = min(n, a + per)
    lab = teacher_keyframes(seq.desc[a:z], seq.quality[a:z], seq.times[a:z], min_distance=teacher.min_distance,
                            min_gap=teacher.min_gap, max_gap=teacher.max_gap, min_quality=teacher.min_quality)
    s = seq.thumbs.shape[-1]
    th = np.zeros((per, s, s), np.float32)
    th[:z - a] = seq.thumbs[a:z] / 255.0
    y = np.zeros(per, np.float32)
    y[:z - a] = lab
    m = np.zeros(per, np.float32)
    m[:z - a] = 1.0
    return th, y, m


def keep_rate(scores: list[np.ndarray], qualities: list[np.ndarray], threshold: float, interval: int,
              min_quality: int) -> float:
    """Fraction of frames kept by threshold + sparse uniform mask."""
    from vidtrace.keyframes import fill_intervals

    kept = total = 0
    for sc, q in zip(scores, qualities):
        good = q >= min_quality
        k = fill_intervals((sc >= threshold) & good, sc, interval, good)
        kept += int(k.sum())
        total += k.size
    return kept / max(total, 1)


def train(args: argparse.Namespace, log=print) -> dict:
    import torch

    from vidtrace.keyframes import fill_intervals, ske_scores, teacher_keyframes
    from vidtrace.models.ske import SKENet, SKENetConfig, export_onnx, ske_loss
    from vidtrace.train.mapdata import MapDataConfig, build_source_cache, command_line, native_thumbs, save_state

    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    data_cfg = MapDataConfig(video_dir=args.videos, seed=args.data_seed)
    cache = Path(args.cache) if args.cache else None
    sources = build_source_cache(data_cfg, cache, log)
    thumbs = native_thumbs(data_cfg, cache, log)
    teacher = TeacherConfig()
    seqs = query_sequences(sources, thumbs, data_cfg, args.queries)
    val = query_sequences(sources, thumbs, data_cfg, args.val_queries, QUERY_OFFSET + args.queries)
    refs = reference_sequences(sources)
    train_seqs = seqs + refs * 4  # the library's own sampling, weighted up
    net_cfg = SKENetConfig(thumb_size=data_cfg.thumb_size)
    per = net_cfg.grid * net_cfg.grid
    log(f"{len(seqs)} query sequences + {len(refs)} references ({sum(s.times.size for s in train_seqs)} "
        f"frames), {len(val)} validation sequences; data {time.perf_counter() - t0:.0f} s")
    net = SKENet(net_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    rng = np.random.default_rng([args.seed, 21])
    hist = []
    for step in range(args.steps):
        batch = [window(train_seqs[int(rng.integers(len(train_seqs)))], per, rng, teacher) for _ in range(args.batch)]
        th, y, m = (torch.from_numpy(np.stack(x)).to(device) for x in zip(*batch))
        loss = ske_loss(net(th), y, m)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(float(loss.detach()))
        if (step + 1) % 100 == 0 or step == 0:
            log(f"step {step + 1}/{args.steps} BCE {np.mean(hist[-100:]):.4f} ({time.perf_counter() - t0:.0f} s)")
    net.eval().cpu()

    def run(batch):
        with torch.no_grad():
            return net(torch.from_numpy(batch)).numpy()

    scores = [ske_scores(s.thumbs, run, net_cfg.grid) for s in val]
    quals = [s.quality for s in val]
    labels = [fill_intervals(teacher_keyframes(s.desc, s.quality, s.times, min_distance=teacher.min_distance,
                                               min_gap=teacher.min_gap, max_gap=teacher.max_gap,
                                               min_quality=teacher.min_quality),
                             np.zeros(s.times.size), teacher.interval, s.quality >= teacher.min_quality)
              for s in val]
    teacher_rate = float(np.mean(np.concatenate(labels)))
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    rates = {float(t): round(keep_rate(scores, quals, t, teacher.interval, teacher.min_quality), 4) for t in grid}
    threshold = float(min(grid, key=lambda t: abs(rates[float(t)] - teacher_rate)))
    sc, lab = np.concatenate(scores), np.concatenate(labels)
    pred = np.concatenate([fill_intervals((s >= threshold) & (q >= teacher.min_quality), s, teacher.interval,
                                          q >= teacher.min_quality) for s, q in zip(scores, quals)])
    tp = float((pred & lab).sum())
    f1 = 2 * tp / max(float(pred.sum() + lab.sum()), 1.0)
    bce = float(np.mean(-(lab * np.log(np.clip(sc, 1e-6, 1)) + (~lab) * np.log(np.clip(1 - sc, 1e-6, 1)))))
    log(f"validation: teacher keeps {teacher_rate:.3f}, student at threshold {threshold} keeps "
        f"{rates[threshold]:.3f}, F1 vs teacher {f1:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(net, str(out))
    save_state(net, out.with_suffix(".npz"))
    meta = {
        "model": "ske",
        "thumb_size": net_cfg.thumb_size,
        "grid": net_cfg.grid,
        "basis_fps": data_cfg.basis_fps,
        "threshold": threshold,
        "interval": teacher.interval,
        "network": net_cfg.to_json(),
        "teacher": asdict(teacher),
        "inputs": {"thumbs": "float32 [B, m*m, s, s] grey thumbnails / 255 of consecutive basis frames"},
        "outputs": {"logits": "float32 [B, m*m] keyframe logits"},
        "command": command_line("ske"),
        "seed": args.seed,
        "data": {"split": data_cfg.split, "families": [s.name for s in sources], "data_seed": data_cfg.seed,
                 "query_programs": args.queries, "query_offset": QUERY_OFFSET},
        "training": {"steps": args.steps, "batch": args.batch, "lr": args.lr, "optimizer": "Adam one-cycle",
                     "device": str(device), "wall_s": round(time.perf_counter() - t0, 1),
                     "final_bce": round(float(np.mean(hist[-100:])), 4)},
        "validation": {"teacher_keep_rate": round(teacher_rate, 4), "keep_rate_by_threshold": rates,
                       "f1_vs_teacher": round(f1, 4), "bce": round(bce, 4), "sequences": len(val)},
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    log(f"wrote {out} and {out.with_suffix('.json').name} ({meta['training']['wall_s']:.0f} s)")
    return meta


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidtrace.train.mapdata import common_arguments

    common_arguments(p, out=DEFAULT_OUT, steps=2000, batch=16, lr=3e-3, queries=1200)
    p.add_argument("--val-queries", type=int, default=150, help="held-out query programs for validation")


def add_train_parser(train_subparsers) -> argparse.ArgumentParser:
    """Register ``ske`` under ``vidtrace train``."""
    from vidtrace.train.mapdata import add_trainer

    return add_trainer(train_subparsers, "ske", "train the SKE keyframe student (needs torch)", add_arguments, train)


if __name__ == "__main__":
    from vidtrace.train.mapdata import trainer_main

    sys.exit(trainer_main(__doc__, add_arguments, train))
