"""S2VS self-supervised training of the ViSiL comparator and region attention.

Self-supervised learning for video similarity (Kordopatis-Zilos et al., CVPR
2023, section 3), scaled down so that it runs on a CPU in minutes:

- *sources*: whole families of the "train" split of a video folder (see
  :mod:`vidtrace.bench.sources`; every member of a family is footage of the
  same instance) plus procedurally rendered videos (:mod:`vidtrace.synth`),
  decoded / rendered at the library's sampling rate (``fps``);
- *views*: each source gets ``weak_views`` weakly and ``strong_views``
  strongly augmented clips of ``window`` frames (section 3.2, with the
  reference implementation's parameters: weak = temporal crop, resized crop
  of area 0.8..1 and a flip; strong = one temporal edit (temporal
  shuffle-dropout 0.5, fast forward 0.1, slow motion 0.1, reverse 0.1,
  pause 0.1, none 0.1) before the crop, resized crop of area 0.5..1, flip,
  two RandAugment-style global edits at magnitude 9/30, per-frame text and
  emoji overlays (p 0.3 each) and blur (p 0.5), and video-in-video with
  probability 0.3: the view shrunk by sqrt(1 - lambda), lambda in 0.3..0.7,
  into another source's footage). Views are made once, turned into frame
  features (weights-free "regions" descriptors by default) and kept in a
  pool, so that training itself only runs the similarity network;
- *batches*: N distinct sources, one weak and one strong view each (B = 2N);
  two views are positives when they share a source (a video-in-video view
  shares its donor's and its host's);
- *loss* (section 3.3): InfoNCE over each row of the B x B similarity matrix
  without the self-similarity (temperature 0.03) + lambda (3) * SSHN
  (-log S_ii - log(1 - hardest negative)) + r (1) * the similarity
  regulariser of ViSiL (eq. 8);
- AdamW (weight decay 0.01) with a linear warm-up and a cosine decay to
  ``final_lr`` times the rate.

Everything random is seeded from ``seed``: the views from (seed, source,
view), the batch of step k from (seed, k), the network initialisation from
seed; the same seed and data give the same loss curve on one machine, and a
resumed run continues exactly as an uninterrupted one. The run folder holds
``config.json``, ``pool.npz`` (the view features), ``checkpoint.pt``
(network, optimiser, step), ``log.jsonl`` and ``log.csv`` (one row a step).
``--export`` writes the ONNX files and JSON that :mod:`vidtrace.rescore`
loads (see :func:`export_comparator`).

Command line (``vidtrace train s2vs``, or ``python -m vidtrace.train.s2vs``); the
shipped comparator (vidtrace/models/weights/comparator.*) was made by::

    python -m vidtrace.train.s2vs RUN_DIR --videos /work/shared/data/videos --synth 150 --window 16 \
        --batch 12 --steps 1000 --warmup 50 --lr 1e-3 --seed 0 --workers 2 --device cpu \
        --export vidtrace/models/weights

(1,026 views made in 83 s, 1,000 steps in 27 min on two shared CPU cores).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.types import Clip

LOG_FIELDS = ("step", "lr", "loss", "infonce", "sshn", "reg", "self_sim", "pos_sim", "hardneg_sim", "seconds")
"""Columns of log.csv (and keys of each log.jsonl record)."""


@dataclass(frozen=True)
class S2VSConfig:
    """Everything that determines a training run (saved as config.json).

    Data: videos (folder with the corpus, None for synthetic footage only),
    split (which families of it), synth (number of rendered sources),
    synth_seconds (their length), fps / max_size (decoding: frames per
    second, longest side in pixels), feature (extractor name and params).
    Views: window (frames per view, T_B), weak_views / strong_views per
    source, and the augmentation parameters (probabilities; lambda_viv the
    range of the video-in-video mixing factor).
    Optimisation: batch (sources per batch, N; B = 2N), steps, lr,
    weight_decay, warmup (steps), warmup_lr / final_lr (fractions of lr),
    temperature, lambda_sshn, r_reg. Network: attention ("s2vs", "visil",
    "none"), padding ("zero" or "replicate"). seed: the one seed.
    """

    videos: str | None = None
    split: str = "train"
    synth: int = 64
    synth_seconds: float = 24.0
    fps: float = 2.0
    max_size: int = 256
    feature: dict = field(default_factory=lambda: {"name": "regions"})
    window: int = 32
    weak_views: int = 2
    strong_views: int = 4
    p_tsd: float = 0.5
    p_ff: float = 0.1
    p_sm: float = 0.1
    p_rev: float = 0.1
    p_pause: float = 0.1
    p_shuffle: float = 0.5
    p_dropout: float = 0.3
    n_raug: int = 2
    m_raug: int = 9
    p_overlay: float = 0.3
    p_blur: float = 0.5
    p_viv: float = 0.3
    lambda_viv: tuple[float, float] = (0.3, 0.7)
    batch: int = 8
    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    warmup_lr: float = 0.01
    final_lr: float = 0.1
    temperature: float = 0.03
    lambda_sshn: float = 3.0
    r_reg: float = 1.0
    attention: str = "s2vs"
    padding: str = "zero"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.window < 4:
            raise ConfigError(f"window must be >= 4 frames (the comparator pools by 4), got {self.window}")
        if self.batch < 2:
            raise ConfigError(f"batch must be >= 2 sources (negatives are needed), got {self.batch}")
        if self.weak_views < 1 or self.strong_views < 1:
            raise ConfigError("weak_views and strong_views must be >= 1")
        if not self.fps > 0:
            raise ConfigError(f"fps must be > 0, got {self.fps}")
        object.__setattr__(self, "lambda_viv", tuple(float(v) for v in self.lambda_viv))
        object.__setattr__(self, "feature", dict(self.feature))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> S2VSConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown S2VS config key(s): {', '.join(unknown)}")
        return cls(**data)

    def pool_key(self) -> str:
        """Digest of the fields that determine the view pool (a cached pool is
        reused only when it matches)."""
        keep = ("videos", "split", "synth", "synth_seconds", "fps", "max_size", "feature", "window", "weak_views",
                "strong_views", "p_tsd", "p_ff", "p_sm", "p_rev", "p_pause", "p_shuffle", "p_dropout", "n_raug",
                "m_raug", "p_overlay", "p_blur", "p_viv", "lambda_viv", "seed")
        blob = json.dumps({k: getattr(self, k) for k in keep}, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """One training instance: name and the clips that show it (a family's
    members, decoded; or one rendered video)."""

    name: str
    clips: tuple[Clip, ...]


SYNTH_SEED_BASE = 700_000
"""Rendered training sources use vidtrace.synth seeds SYNTH_SEED_BASE + k
(evaluation footage must use other seeds)."""


def decode_clip(path: str | Path, fps: float, max_size: int) -> Clip:
    """All sampled frames of a file as one Clip (uint8 [T, H, W, 3], seconds)."""
    from vidtrace.decode import DecodeOptions, iter_frames

    frames, times = [], []
    for f in iter_frames(path, DecodeOptions(fps=fps, max_size=max_size, strict=False)):
        frames.append(f.rgb)
        times.append(f.timestamp)
    if not frames:
        raise ConfigError(f"{path}: no frames decoded")
    return Clip(np.stack(frames), np.asarray(times, dtype=np.float64))


def load_sources(cfg: S2VSConfig, log: Callable[[str], None] = print) -> list[Source]:
    """The corpus families of split `cfg.split` (all members decoded) and
    `cfg.synth` rendered videos (1-4 shots each, 320x240)."""
    sources: list[Source] = []
    if cfg.videos:
        from vidtrace.bench.sources import split_families

        for fam in split_families(cfg.videos, cfg.split):
            clips = []
            for member in fam.members:
                try:
                    clips.append(decode_clip(Path(cfg.videos) / member, cfg.fps, cfg.max_size))
                except Exception as exc:  # noqa: BLE001 -- one unreadable member must not stop training
                    log(f"skipping {member}: {exc}")
            if clips:
                sources.append(Source(fam.root, tuple(clips)))
    if cfg.synth:
        from vidtrace.synth import render_video

        for k in range(cfg.synth):
            seed = SYNTH_SEED_BASE + k
            shots = 1 + int(np.random.default_rng([cfg.seed, seed]).integers(4))
            clip = render_video(seed, duration_s=cfg.synth_seconds, fps=cfg.fps, width=320, height=240, shots=shots)
            sources.append(Source(f"synth-{seed}", (clip,)))
    if len(sources) < 2:
        raise ConfigError("S2VS training needs at least two sources (give --videos and/or --synth)")
    return sources


# --------------------------------------------------------------------------- augmentations


def loop_crop(clip: Clip, n: int, rng: np.random.Generator) -> Clip:
    """`n` consecutive frames at a random offset, the clip looped first when
    shorter (S2VS's temporal crop); timestamps regular from the clip's start."""
    from vidtrace.transforms.base import frame_step

    idx = np.arange(len(clip))
    while len(idx) < n:
        idx = np.concatenate([idx, idx])
    start = int(rng.integers(len(idx) - n + 1))
    sel = idx[start : start + n]
    step = frame_step(clip.timestamps)
    return Clip(clip.frames[sel], clip.timestamps[0] + step * np.arange(n, dtype=np.float64))


def _per_frame(clip: Clip, transform, p: float, rng: np.random.Generator) -> Clip:
    """Apply `transform` to each frame on its own with probability `p` (S2VS
    frame transformations are drawn independently per frame)."""
    frames = clip.frames.copy()
    for i in np.flatnonzero(rng.random(len(clip)) < p):
        out, _ = transform(Clip(frames[i : i + 1], clip.timestamps[i : i + 1]), rng)
        frames[i] = out.frames[0]
    return Clip(frames, clip.timestamps)


def weak_transform():
    """Weak spatial augmentation: resized crop of 80-100% area and a flip (p 0.5)."""
    from vidtrace import transforms as vt

    return vt.Compose((vt.ResizedCrop(scale=(0.8, 1.0)), vt.RandomApply(vt.HorizontalFlip(), 0.5)))


def strong_transforms(cfg: S2VSConfig):
    """(temporal, spatial-global) parts of the strong augmentation, as
    vidtrace transforms (per-frame overlays and blur are applied separately)."""
    from vidtrace import transforms as vt

    m = cfg.m_raug / 30.0  # RandAugment magnitude as a fraction of its maximum
    temporal = vt.RandomChoice((
        vt.TemporalShuffleDropout(min_len=4, max_len=15, p_shuffle=cfg.p_shuffle, p_drop=cfg.p_dropout,
                                  fill=("discard", "discard", "black", "noise")),
        vt.Speed(factor=(2.0, 3.0)),
        vt.Speed(factor=0.5),
        vt.Reverse(),
        vt.Pause(duration=(1.0 / cfg.fps, max(1.0, cfg.window / 4.0) / cfg.fps)),
        vt.Identity(),
    ), weights=(cfg.p_tsd, cfg.p_ff, cfg.p_sm, cfg.p_rev, cfg.p_pause,
                max(0.0, 1.0 - cfg.p_tsd - cfg.p_ff - cfg.p_sm - cfg.p_rev - cfg.p_pause) + 1e-12))
    rand_augment = vt.RandomChoice((
        vt.Identity(),
        vt.Rotate(degrees=(-30.0 * m, 30.0 * m)),
        vt.Brightness(factor=(1.0 - 0.9 * m, 1.0 + 0.9 * m)),
        vt.Contrast(factor=(1.0 - 0.9 * m, 1.0 + 0.9 * m)),
        vt.Saturation(factor=(1.0 - 0.9 * m, 1.0 + 0.9 * m)),
        vt.Gamma(gamma=(1.0 - 0.9 * m, 1.0 / (1.0 - 0.9 * m))),
        vt.ResizedCrop(scale=(1.0 - 0.9 * m, 1.0), ratio=(0.9, 1.1)),
    ), k=cfg.n_raug)
    spatial = vt.Compose((vt.ResizedCrop(scale=(0.5, 1.0)), vt.RandomApply(vt.HorizontalFlip(), 0.5), rand_augment))
    return temporal, spatial


def make_view(clip: Clip, kind: str, cfg: S2VSConfig, rng: np.random.Generator,
              host: Clip | None = None) -> tuple[Clip, bool]:
    """One augmented view of `window` frames: kind "weak" or "strong"; a strong
    view goes into `host` footage (video-in-video) with probability p_viv when
    a host is given. Returns (clip, whether video-in-video was applied)."""
    from vidtrace import transforms as vt

    if kind == "weak":
        out, _ = weak_transform()(loop_crop(clip, cfg.window, rng), rng)
        return out, False
    temporal, spatial = strong_transforms(cfg)
    out, _ = temporal(loop_crop(clip, 2 * cfg.window, rng), rng)
    out, _ = spatial(loop_crop(out, cfg.window, rng), rng)
    out = _per_frame(out, vt.TextOverlay(height=(0.2, 0.5), opacity=(0.7, 1.0)), cfg.p_overlay, rng)
    out = _per_frame(out, vt.EmojiOverlay(size=(0.2, 0.5), opacity=(0.7, 1.0)), cfg.p_overlay, rng)
    out = _per_frame(out, vt.Blur(sigma=(0.1, 2.0)), cfg.p_blur, rng)
    viv = host is not None and bool(rng.random() < cfg.p_viv)
    if viv:
        lo, hi = cfg.lambda_viv
        scale = (math.sqrt(1.0 - hi), math.sqrt(1.0 - lo))
        host_clip, _ = weak_transform()(loop_crop(host, cfg.window, rng), rng)
        out, _ = vt.PictureInPicture(scale=scale, host=host_clip)(out, rng)
    return out, viv


# --------------------------------------------------------------------------- the view pool


@dataclass(frozen=True)
class ViewPool:
    """Frame features of every view.

    features: float16 [V, T, R, D]; source: int64 [V] the view's source;
    host: int64 [V] the host source of a video-in-video view, -1 otherwise;
    strong: bool [V]; names: source names (index = source id).
    """

    features: np.ndarray
    source: np.ndarray
    host: np.ndarray
    strong: np.ndarray
    names: tuple[str, ...]

    def views_of(self, src: int, strong: bool) -> np.ndarray:
        return np.flatnonzero((self.source == src) & (self.strong == strong))

    def save(self, path: str | Path, key: str) -> None:
        np.savez(path, features=self.features, source=self.source, host=self.host, strong=self.strong,
                 names=np.array(self.names), key=np.array(key))

    @classmethod
    def load(cls, path: str | Path, key: str) -> ViewPool | None:
        """The pool saved at `path` when its key matches, else None."""
        try:
            data = np.load(path)
        except (OSError, ValueError):
            return None
        if str(data["key"]) != key:
            return None
        return cls(data["features"], data["source"], data["host"], data["strong"],
                   tuple(str(n) for n in data["names"]))


def _extractor(cfg: S2VSConfig):
    import vidtrace.features.regions  # noqa: F401 -- registers "regions"
    from vidtrace.features import get_extractor

    params = {k: v for k, v in cfg.feature.items() if k != "name"}
    ext = get_extractor(cfg.feature["name"], **params)
    if ext.kind != "float":
        raise ConfigError(f"S2VS training needs float region features, {ext.name!r} is {ext.kind}")
    return ext


def _host_of(cfg: S2VSConfig, s: int, v: int, n_sources: int) -> int:
    """The source that would host strong view v of source s (video-in-video)."""
    h = int(np.random.default_rng([cfg.seed, s, v, 2]).integers(n_sources - 1))
    return h + (h >= s)


def _source_views(args) -> list[tuple[np.ndarray, int]]:
    """Worker: all views of one source -> [(float16 [T, R, D], host id or -1)],
    weak views first. args: (cfg, source index, its clips, {view: host clips})."""
    cfg, s, clips, hosts = args
    ext = _extractor(cfg)
    regions = getattr(ext, "regions", 1)
    out = []
    for strong, count in ((False, cfg.weak_views), (True, cfg.strong_views)):
        for v in range(count):
            rng = np.random.default_rng([cfg.seed, s, v, int(strong)])
            clip = clips[int(rng.integers(len(clips)))]
            host_id, host_clips = hosts.get(v, (-1, ())) if strong else (-1, ())
            host = host_clips[int(rng.integers(len(host_clips)))] if host_clips else None
            view, viv = make_view(clip, "strong" if strong else "weak", cfg, rng, host)
            desc, _ = ext.extract(list(view.frames))
            out.append((desc.reshape(len(desc), regions, -1).astype(np.float16), host_id if viv else -1))
    return out


def build_pool(sources: Sequence[Source], cfg: S2VSConfig, workers: int = 1,
               log: Callable[[str], None] = print) -> ViewPool:
    """Make and describe every view (in `workers` processes, one task per
    source; the result does not depend on the number of workers)."""
    n = len(sources)
    jobs = []
    for s, src in enumerate(sources):
        hosts = {}
        if cfg.p_viv > 0:
            for v in range(cfg.strong_views):
                h = _host_of(cfg, s, v, n)
                hosts[v] = (h, sources[h].clips)
        jobs.append((cfg, s, src.clips, hosts))
    t0 = time.time()
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_source_views, jobs))
    else:
        results = [_source_views(j) for j in jobs]
    feats, source, host, strong = [], [], [], []
    for s, views in enumerate(results):
        for k, (f, h) in enumerate(views):
            feats.append(f)
            source.append(s)
            host.append(h)
            strong.append(k >= cfg.weak_views)
    log(f"made {len(feats)} views of {n} sources in {time.time() - t0:.1f} s")
    return ViewPool(np.stack(feats), np.array(source, dtype=np.int64), np.array(host, dtype=np.int64),
                    np.array(strong, dtype=bool), tuple(src.name for src in sources))


def sample_batch(pool: ViewPool, cfg: S2VSConfig, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch of step `step`: N distinct sources, weak views first then strong
    ones -> (features float32 [2N, T, R, D], positives bool [2N, 2N] (the
    diagonal included), view ids int64 [2N])."""
    rng = np.random.default_rng([cfg.seed, 1_000_003, step])
    n_src = len(pool.names)
    chosen = rng.choice(n_src, size=min(cfg.batch, n_src), replace=False)
    weak = [int(rng.choice(pool.views_of(s, False))) for s in chosen]
    strong = [int(rng.choice(pool.views_of(s, True))) for s in chosen]
    views = np.array(weak + strong, dtype=np.int64)
    members = [{int(pool.source[v])} | ({int(pool.host[v])} if pool.host[v] >= 0 else set()) for v in views]
    pos = np.array([[bool(a & b) for b in members] for a in members])
    return pool.features[views].astype(np.float32), pos, views


# --------------------------------------------------------------------------- losses and schedule


def s2vs_losses(sim, positives, reg, cfg: S2VSConfig) -> dict:
    """S2VS losses of a batch similarity matrix sim [B, B] in [0, 1] (torch)
    with positives bool [B, B] (diagonal included) and the regularisation
    term `reg`: dict of scalar tensors loss, infonce, sshn, reg and the
    monitored similarities self_sim, pos_sim, hardneg_sim."""
    import torch

    eye = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    pos = positives & ~eye
    neg = ~positives
    logits = sim / cfg.temperature
    # log-sum-exp of each row's negatives, then log(e^{s_ij} + sum_neg) per positive pair
    neg_lse = torch.logsumexp(logits.masked_fill(~neg, float("-inf")), dim=1, keepdim=True)
    log_p = logits - torch.logaddexp(logits, neg_lse.expand_as(logits))
    rows = pos.any(dim=1)
    infonce = -(log_p * pos).sum(dim=1)[rows] / pos.sum(dim=1)[rows]
    infonce = infonce.mean()
    hardest = sim.masked_fill(~neg, 0.0).max(dim=1).values
    self_sim = torch.diagonal(sim)
    eps = 1e-3
    sshn = (-(1.0 - hardest).clamp(min=eps).log() - self_sim.clamp(min=eps).log()).mean()
    loss = infonce + cfg.lambda_sshn * sshn + cfg.r_reg * reg
    with torch.no_grad():
        pos_sim = sim[pos].mean() if pos.any() else sim.new_zeros(())
    return {"loss": loss, "infonce": infonce, "sshn": sshn, "reg": reg, "self_sim": self_sim.mean().detach(),
            "pos_sim": pos_sim, "hardneg_sim": hardest.mean().detach()}


def lr_at(step: int, cfg: S2VSConfig) -> float:
    """Learning rate of step `step` (0-based): linear warm-up from
    warmup_lr * lr over `warmup` steps, then cosine decay to final_lr * lr at
    the last step."""
    if step < cfg.warmup:
        start = cfg.warmup_lr * cfg.lr
        return start + (cfg.lr - start) * step / max(1, cfg.warmup)
    span = max(1, cfg.steps - 1 - cfg.warmup)
    t = min(1.0, (step - cfg.warmup) / span)
    low = cfg.final_lr * cfg.lr
    return low + 0.5 * (cfg.lr - low) * (1.0 + math.cos(math.pi * t))


# --------------------------------------------------------------------------- training


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_model(cfg: S2VSConfig, dims: int):
    """A freshly initialised ViSiL network for `dims`-d regions, seeded."""
    import torch

    from vidtrace.models.visil import ViSiL, ViSiLConfig

    torch.manual_seed(cfg.seed)
    return ViSiL(ViSiLConfig(dims=dims, attention=cfg.attention, comparator=True, padding=cfg.padding))


def train(run_dir: str | Path, cfg: S2VSConfig | None = None, *, workers: int = 1, device: str = "auto",
          checkpoint_every: int = 100, stop_after: int | None = None, log: Callable[[str], None] = print):
    """Train (or resume) the run in `run_dir`; returns (model, log records of
    the steps run in this call).

    cfg None resumes the run's saved config; a cfg given for an existing run
    must equal the saved one. stop_after: stop once this many steps are done
    in total (for tests and staged runs; the schedule still spans cfg.steps).
    """
    import torch

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    cfg_path = run / "config.json"
    if cfg_path.exists():
        saved = S2VSConfig.from_json(json.loads(cfg_path.read_text()))
        if cfg is not None and cfg != saved:
            raise ConfigError(f"{run}: holds a run with another config; use a new folder or omit the config")
        cfg = saved
    elif cfg is None:
        raise ConfigError(f"{run}: no config.json to resume from")
    cfg_path.write_text(json.dumps(cfg.to_json(), indent=2) + "\n")

    key = cfg.pool_key()
    pool = ViewPool.load(run / "pool.npz", key)
    if pool is None:
        pool = build_pool(load_sources(cfg, log), cfg, workers, log)
        pool.save(run / "pool.npz", key)
    dev = _device(device)
    model = build_model(cfg, pool.features.shape[-1]).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    ckpt_path = run / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(str(ckpt_path), map_location=dev, weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        log(f"resumed at step {step}")
        _truncate_logs(run, step)

    def save() -> None:
        tmp = run / "checkpoint.pt.tmp"
        torch.save({"config": asdict(model.config), "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "step": step}, str(tmp))
        tmp.replace(ckpt_path)

    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    records = []
    model.train()
    while step < end:
        t0 = time.time()
        feats, positives, _ = sample_batch(pool, cfg, step)
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        sim, reg = model(torch.from_numpy(feats).to(dev))
        parts = s2vs_losses(sim, torch.from_numpy(positives).to(dev), reg, cfg)
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        opt.step()
        step += 1
        rec = {"step": step, "lr": lr, **{k: float(v.detach()) for k, v in parts.items()}, "seconds": time.time() - t0}
        records.append(rec)
        _append_log(run, rec)
        if step % max(1, checkpoint_every) == 0 or step == end:
            save()
        if step % 50 == 0 or step == end:
            log(f"step {step}/{cfg.steps} loss {rec['loss']:.4f} (nce {rec['infonce']:.3f} sshn {rec['sshn']:.3f} "
                f"reg {rec['reg']:.3f}) self {rec['self_sim']:.3f} pos {rec['pos_sim']:.3f} "
                f"hardneg {rec['hardneg_sim']:.3f} lr {lr:.2e}")
    model.eval()
    return model, records


def _append_log(run: Path, rec: dict) -> None:
    with open(run / "log.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    new = not (run / "log.csv").exists()
    with open(run / "log.csv", "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(LOG_FIELDS)
        w.writerow([rec[k] if k in ("step",) else f"{rec[k]:.6g}" for k in LOG_FIELDS])


def _truncate_logs(run: Path, step: int) -> None:
    """Drop log rows after `step` (written after the last checkpoint of an
    interrupted run), so that the resumed run's rows follow on."""
    jl = run / "log.jsonl"
    if jl.exists():
        keep = [ln for ln in jl.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
        jl.write_text("".join(k + "\n" for k in keep))
    cs = run / "log.csv"
    if cs.exists():
        with open(cs, newline="") as fh:
            rows = list(csv.reader(fh))
        with open(cs, "w", newline="") as fh:
            csv.writer(fh).writerows(rows[:1] + [r for r in rows[1:] if int(r[0]) <= step])


def read_log(run_dir: str | Path) -> list[dict]:
    """The log.jsonl records of a run, in order."""
    path = Path(run_dir) / "log.jsonl"
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


# --------------------------------------------------------------------------- export


COMPARATOR_OPSET = 17


def export_comparator(model, out_dir: str | Path, stem: str = "comparator", meta: dict | None = None) -> dict:
    """Write the trained parts for onnxruntime inference (see vidtrace.rescore):

    - ``{stem}.onnx``: input "sim" float32 [N, 1, X, Y] (frame similarity
      maps) -> outputs "refined" [N, 1, X // 4, Y // 4] and "refined_full"
      [N, 1, X, Y] (pooled and full-size modes), both after hard tanh;
    - ``{stem}_attention.onnx``: input "regions" float32 [T, R, D] -> output
      "weighted" [T, R, D] (attention applied; absent when the network has
      no attention);
    - ``{stem}.npz``: the state dict (our key names) for torch, e.g. to
      fine-tune (:func:`load_exported`);
    - ``{stem}.json``: the network config, the files' SHA-256 and `meta`.

    Returns the JSON written.
    """
    import torch
    from torch import nn

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()

    class _Comparator(nn.Module):
        def __init__(self, comparator):
            super().__init__()
            self.comparator = comparator

        def forward(self, sim):
            pooled, _ = self.comparator(sim, None, pooling=True)
            full, _ = self.comparator(sim, None, pooling=False)
            return torch.clamp(pooled, -1.0, 1.0), torch.clamp(full, -1.0, 1.0)

    class _Attention(nn.Module):
        def __init__(self, attention):
            super().__init__()
            self.attention = attention

        def forward(self, regions):
            return self.attention(regions)[0]

    files = {}
    dummy = torch.rand(1, 1, 16, 12)
    path = out / f"{stem}.onnx"
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated and chatty, but needs no onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(_Comparator(model.comparator), (dummy,), str(path), input_names=["sim"],
                          output_names=["refined", "refined_full"], opset_version=COMPARATOR_OPSET, dynamo=False,
                          dynamic_axes={"sim": {0: "n", 2: "x", 3: "y"}, "refined": {0: "n", 2: "x4", 3: "y4"},
                                        "refined_full": {0: "n", 2: "x", 3: "y"}})
        files["comparator"] = path.name
        if hasattr(model, "attention"):
            d = model.config.dims
            apath = out / f"{stem}_attention.onnx"
            torch.onnx.export(_Attention(model.attention), (torch.rand(3, 2, d),), str(apath),
                              input_names=["regions"], output_names=["weighted"], opset_version=COMPARATOR_OPSET,
                              dynamo=False, dynamic_axes={"regions": {0: "t", 1: "r"}, "weighted": {0: "t", 1: "r"}})
            files["attention"] = apath.name
    spath = out / f"{stem}.npz"
    np.savez(spath, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    files["state"] = spath.name
    info = {"format": "vidtrace-comparator-1", "config": asdict(model.config), "files": files,
            "sha256": {k: hashlib.sha256((out / v).read_bytes()).hexdigest() for k, v in files.items()},
            **(meta or {})}
    (out / f"{stem}.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def load_exported(path: str | Path | None = None):
    """The torch network of a comparator export (its JSON or folder; None: the
    shipped one), from the .npz state dict, in eval mode."""
    import torch

    from vidtrace.models.visil import ViSiL, ViSiLConfig
    from vidtrace.rescore import load_comparator_info

    folder, info = load_comparator_info(path)
    model = ViSiL(ViSiLConfig(**info["config"]))
    with np.load(folder / info["files"]["state"]) as data:
        model.load_state_dict({k: torch.from_numpy(data[k]) for k in data.files}, strict=True)
    return model.eval()


# --------------------------------------------------------------------------- command line


def add_train_parser(train_subparsers) -> None:
    """Add ``s2vs`` to the sub-parsers of ``vidtrace train``."""
    p = train_subparsers.add_parser(
        "s2vs", help="self-supervised training of the ViSiL comparator (S2VS) on region features",
        description="Train the ViSiL video comparator and region attention with S2VS self-supervision on "
                    "augmented views of the 'train' families of a video folder plus rendered footage. "
                    "Resumes when RUN_DIR holds an unfinished run.")
    p.add_argument("run_dir", help="folder for config, view pool, checkpoint and logs")
    p.add_argument("--videos", help="video folder (its 'train' split families are used)")
    defaults = S2VSConfig()
    for name, kind, what in (("synth", int, "rendered training videos"), ("steps", int, "training steps"),
                             ("batch", int, "sources per batch (B = 2N views)"), ("window", int, "frames per view"),
                             ("lr", float, "peak learning rate"), ("warmup", int, "warm-up steps"),
                             ("weak-views", int, "weak views per source"),
                             ("strong-views", int, "strong views per source"), ("fps", float, "sampling rate"),
                             ("seed", int, "the seed of everything")):
        attr = name.replace("-", "_")
        p.add_argument(f"--{name}", type=kind, default=getattr(defaults, attr),
                       help=f"{what} (default {getattr(defaults, attr)})")
    p.add_argument("--workers", type=int, default=1, help="processes making the view pool (default 1)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--export", metavar="DIR", help="after training, write comparator ONNX files and JSON to DIR")
    p.set_defaults(func=_run_cli)


def run_summary(run_dir: str | Path) -> dict:
    """What an export should record about the run that made it: config,
    feature extractor config, data used, steps, step time and loss."""
    run = Path(run_dir)
    cfg = S2VSConfig.from_json(json.loads((run / "config.json").read_text()))
    with np.load(run / "pool.npz") as data:
        names = [str(n) for n in data["names"]]
    recs = read_log(run)
    tail = [r["loss"] for r in recs[-50:]]
    return {
        "training": cfg.to_json(),
        "feature_config": _extractor(cfg).config(),
        "data": {"video_dir": cfg.videos, "split": cfg.split,
                 "families": [n for n in names if not n.startswith("synth-")],
                 "synth_seeds": [SYNTH_SEED_BASE, SYNTH_SEED_BASE + cfg.synth] if cfg.synth else None,
                 "views": len(names) * (cfg.weak_views + cfg.strong_views)},
        "steps_done": recs[-1]["step"] if recs else 0,
        "step_seconds_total": round(sum(r["seconds"] for r in recs), 1),
        "final_loss_mean_last_50": round(float(np.mean(tail)), 4) if tail else None,
    }


def _run_cli(args) -> int:
    run = Path(args.run_dir)
    cfg = None
    if not (run / "config.json").exists():
        cfg = S2VSConfig(videos=args.videos, synth=args.synth, steps=args.steps, batch=args.batch,
                         window=args.window, lr=args.lr, warmup=args.warmup, weak_views=args.weak_views,
                         strong_views=args.strong_views, fps=args.fps, seed=args.seed)
    t0 = time.time()
    model, _ = train(run, cfg, workers=args.workers, device=args.device)
    print(f"trained in {time.time() - t0:.0f} s")
    if args.export:
        import sys

        meta = {**run_summary(run), "argv": list(sys.argv[1:])}
        info = export_comparator(model, args.export, meta=meta)
        print(f"exported {', '.join(info['files'].values())} to {args.export}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vidtrace.train.s2vs RUN_DIR ...`` (the same as ``vidtrace train s2vs``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vidtrace.train.s2vs")
    add_train_parser(parser.add_subparsers(dest="trainer", required=True))
    args = parser.parse_args(["s2vs", *(argv if argv is not None else __import__("sys").argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
