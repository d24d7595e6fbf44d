"""Keyframe selection: which sampled frames a video keeps (a family with a registry).

Decoding already samples uniformly at the configured rate; a selector may
keep fewer frames. "uniform" keeps them all. "change" keeps a frame when it
differs enough from the last kept one or when `max_gap` seconds have passed
(the rule of SSAN's keyframe teacher, section 3.1), which shrinks static
footage without losing any shot. "ske" is SSAN's self-supervised keyframe
extraction (section 3.1): a small network (the *student*, shipped as
``models/weights/ske.onnx`` and run with onnxruntime) scores every basis
frame from thumbnails of it and its neighbours (tiled m x m, so that it sees
long-range context), trained on the labels of the *teacher*
(:func:`teacher_keyframes`); frames scoring above a threshold are kept, and
the *sparse uniform mask* (:func:`fill_intervals`) adds the best frame of
every interval of basis frames that kept none. It needs thumbnails of the
sampled frames (``FrameFeatures.thumbs``, uint8 [N, s, s], see
:func:`make_thumbs`) and is meant for basis frames sampled at the model's
``basis_fps`` (8 fps).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.registry import registrar
from vidtrace.types import FrameFeatures

SELECTORS: dict[str, Callable[..., "KeyframeSelector"]] = {}


register_selector = registrar(SELECTORS)
"""Class decorator: ``@register_selector(name)`` adds a class to SELECTORS under `name`."""


def get_selector(name: str, **params) -> "KeyframeSelector":
    try:
        return SELECTORS[name](**params)
    except KeyError:
        raise ConfigError(f"unknown keyframe selector {name!r}; choose one of: {', '.join(sorted(SELECTORS))}") from None


class KeyframeSelector(ABC):
    """select(feats) -> bool [N]. thumb_size: side of the grey thumbnails
    (FrameFeatures.thumbs) the selector needs, None for none; basis_fps: the
    sampling rate (frames/s) the selector was trained for, None for any."""

    name: str = ""
    thumb_size: int | None = None
    basis_fps: float | None = None

    @abstractmethod
    def select(self, feats: FrameFeatures) -> np.ndarray:
        """Boolean mask [N] of the frames to keep."""

    def config(self) -> dict:
        return {"name": self.name}


@register_selector("uniform")
class UniformSelector(KeyframeSelector):
    """Keep every sampled frame."""

    def select(self, feats: FrameFeatures) -> np.ndarray:
        return np.ones(len(feats), dtype=bool)


@register_selector("change")
class ChangeSelector(KeyframeSelector):
    """Keep a frame if its Hamming distance to the last kept frame exceeds
    `min_distance` bits, or `max_gap` seconds passed since the last kept frame.
    Binary features only."""

    def __init__(self, min_distance: int = 16, max_gap: float = 2.0):
        if min_distance < 0 or max_gap <= 0:
            raise ConfigError("change selector needs min_distance >= 0 and max_gap > 0 (seconds)")
        self.min_distance, self.max_gap = int(min_distance), float(max_gap)

    def select(self, feats: FrameFeatures) -> np.ndarray:
        from vidtrace.features.pdq import hamming

        if feats.kind != "binary":
            raise ConfigError("the change selector works on binary descriptors")
        keep = np.zeros(len(feats), dtype=bool)
        last = -1
        for i in range(len(feats)):
            if last < 0 or feats.timestamps[i] - feats.timestamps[last] >= self.max_gap or \
                    hamming(feats.descriptors[i], feats.descriptors[last]) > self.min_distance:
                keep[i] = True
                last = i
        return keep

    def config(self) -> dict:
        return {"name": self.name, "min_distance": self.min_distance, "max_gap": self.max_gap}


# --------------------------------------------------------------------------
# SSAN self-supervised keyframe extraction (SKE)

SKE_MODEL = Path(__file__).resolve().parent / "models" / "weights" / "ske.onnx"


def make_thumbs(frames: Sequence[np.ndarray], size: int = 16) -> np.ndarray:
    """uint8 [N, size, size] grey thumbnails of RGB frames uint8 [H, W, 3]:
    dark letterbox / pillarbox bars cropped as for PDQ, then an exact area
    average onto size x size cells (luma 0.299 R + 0.587 G + 0.114 B)."""
    from vidtrace.features.pdq import crop_borders

    out = np.zeros((len(frames), size, size), dtype=np.uint8)
    for k, rgb in enumerate(frames):
        img = crop_borders(np.asarray(rgb, dtype=np.uint8)).astype(np.float32)
        grey = img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
        h, w = grey.shape
        ys = np.floor(np.arange(size) * h / size).astype(np.int64)
        xs = np.floor(np.arange(size) * w / size).astype(np.int64)
        if h < size or w < size:  # tiny frames: nearest pixel
            out[k] = np.clip(np.rint(grey[ys][:, xs]), 0, 255)
            continue
        sums = np.add.reduceat(np.add.reduceat(grey, ys, axis=0), xs, axis=1)
        counts = np.diff(np.r_[ys, h])[:, None] * np.diff(np.r_[xs, w])[None, :]
        out[k] = np.clip(np.rint(sums / counts), 0, 255)
    return out


def teacher_keyframes(descriptors: np.ndarray, quality: np.ndarray, timestamps: np.ndarray, *,
                      min_distance: int = 40, min_gap: float = 0.375, max_gap: float = 2.0,
                      min_quality: int = 50) -> np.ndarray:
    """The SKE teacher (SSAN section 3.1): bool [N] keyframes of basis frames.

    descriptors: uint8 [N, 32] PDQ hashes; quality: [N] 0..100; timestamps:
    [N] seconds. Frames of quality below ``min_quality`` are never keyframes
    (low-quality frames dropped by pre-processing). Scanning in time from the
    first good frame (a keyframe), a frame becomes a keyframe when it differs
    from the last keyframe by more than ``min_distance`` bits (similarity
    threshold) and at least ``min_gap`` seconds have passed since it (time
    limit: at most 1 / min_gap keyframes per second), or when ``max_gap``
    seconds have passed (at least one keyframe per max_gap seconds of good
    frames). Static footage keeps about 1 / max_gap frames per second,
    changing footage up to 1 / min_gap.
    """
    from vidtrace.features.pdq import hamming

    n = len(timestamps)
    keep = np.zeros(n, dtype=bool)
    good = np.asarray(quality) >= min_quality
    last = -1
    for i in np.flatnonzero(good).tolist():
        gap = timestamps[i] - timestamps[last] if last >= 0 else np.inf
        if gap >= max_gap - 1e-9 or (gap >= min_gap - 1e-9
                                     and int(hamming(descriptors[i], descriptors[last])) > min_distance):
            keep[i] = True
            last = i
    return keep


def fill_intervals(keep: np.ndarray, scores: np.ndarray, interval: int,
                   eligible: np.ndarray | None = None) -> np.ndarray:
    """The sparse uniform mask: ``keep`` (bool [N]) plus, in every run of
    ``interval`` basis frames ([k * interval, (k + 1) * interval)) that
    keeps none, its eligible frame (bool [N], default all) of highest score
    (float [N]; the first on ties). interval <= 0 returns ``keep``. Returns
    a new bool [N]; every interval with an eligible frame keeps at least one."""
    keep = np.array(keep, dtype=bool, copy=True)
    n = keep.size
    if interval <= 0 or n == 0:
        return keep
    ok = np.ones(n, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    m = -(-n // interval)
    pad = m * interval - n
    k2 = np.r_[keep, np.zeros(pad, bool)].reshape(m, interval)
    ok2 = np.r_[ok, np.zeros(pad, bool)].reshape(m, interval)
    s2 = np.where(ok2, np.r_[np.asarray(scores, np.float64), np.zeros(pad)].reshape(m, interval), -np.inf)
    need = ~k2.any(axis=1) & ok2.any(axis=1)
    rows = np.flatnonzero(need)
    keep[rows * interval + np.argmax(s2[rows], axis=1)] = True
    return keep


def ske_windows(n: int, per_window: int) -> list[tuple[int, int]]:
    """[start, stop) basis-frame ranges of the student's tiled images: one
    image per ``per_window`` (= m * m) consecutive frames."""
    return [(a, min(n, a + per_window)) for a in range(0, max(n, 1), per_window)] if n else []


def ske_scores(thumbs: np.ndarray, run, grid: int) -> np.ndarray:
    """Keyframe confidence float64 [N] in (0, 1) of basis frames from their
    thumbnails uint8 [N, s, s]; run(float32 [B, grid * grid, s, s] in [0, 1])
    -> logits [B, grid * grid] (the student network; padding frames are 0)."""
    n = len(thumbs)
    if n == 0:
        return np.zeros(0)
    per = grid * grid
    wins = ske_windows(n, per)
    s = thumbs.shape[-1]
    batch = np.zeros((len(wins), per, s, s), dtype=np.float32)
    for b, (a, z) in enumerate(wins):
        batch[b, :z - a] = thumbs[a:z].astype(np.float32) / 255.0
    logits = np.asarray(run(batch), dtype=np.float64).reshape(len(wins), per)
    return (1.0 / (1.0 + np.exp(-logits))).reshape(-1)[:n]


@register_selector("ske")
class SKESelector(KeyframeSelector):
    """SSAN's learned keyframe selector (see the module docstring).

    model: the student's ONNX file (None: the shipped one; its JSON next to
    it gives thumb_size, grid and the defaults below); threshold: keyframe
    score above which a frame is kept (None: the model's); interval: basis
    frames per sparse-uniform-mask interval (None: the model's; 0: no mask);
    min_quality: frames below it are never added by the mask; threads:
    onnxruntime intra-op threads. Needs ``feats.thumbs``.
    """

    def __init__(self, model: str | None = None, threshold: float | None = None, interval: int | None = None,
                 min_quality: int = 50, threads: int = 1):
        path = Path(model) if model else SKE_MODEL
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise ConfigError(f"SKE model {path} (or its .json) not found (train one with `vidtrace train ske`)")
        self.model_arg = model
        self.model = str(path)
        self.meta = json.loads(meta_path.read_text())
        self.thumb_size = int(self.meta["thumb_size"])
        self.basis_fps = float(self.meta["basis_fps"])
        self.grid = int(self.meta["grid"])
        self.threshold = float(self.meta["threshold"] if threshold is None else threshold)
        self.interval = int(self.meta["interval"] if interval is None else interval)
        if not 0.0 <= self.threshold <= 1.0 or self.interval < 0:
            raise ConfigError("ske selector needs 0 <= threshold <= 1 and interval >= 0")
        self.min_quality, self.threads = int(min_quality), int(threads)
        self._session = None

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, self.threads)
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(self.model, sess_options=opts, providers=["CPUExecutionProvider"])
        name = self._session.get_inputs()[0].name
        return self._session.run(None, {name: batch})[0]

    def scores(self, thumbs: np.ndarray) -> np.ndarray:
        """Keyframe confidence float64 [N] of thumbnails uint8 [N, s, s]."""
        thumbs = np.asarray(thumbs)
        if thumbs.ndim != 3 or thumbs.shape[1:] != (self.thumb_size, self.thumb_size):
            raise ConfigError(f"ske selector needs thumbnails [N, {self.thumb_size}, {self.thumb_size}], "
                              f"got {thumbs.shape}")
        return ske_scores(thumbs, self._run, self.grid)

    def select_scores(self, scores: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """bool [N]: score above the threshold (good quality), plus the mask."""
        good = np.asarray(quality) >= self.min_quality
        keep = (np.asarray(scores) >= self.threshold) & good
        return fill_intervals(keep, scores, self.interval, good)

    def select(self, feats: FrameFeatures) -> np.ndarray:
        thumbs = getattr(feats, "thumbs", None)
        if thumbs is None:
            raise ConfigError("the ske keyframe selector needs frame thumbnails (FrameFeatures.thumbs); "
                              "extract with thumb_size set")
        return self.select_scores(self.scores(thumbs), feats.quality)

    def config(self) -> dict:
        return {"name": self.name, "model": self.model_arg, "threshold": self.threshold, "interval": self.interval,
                "min_quality": self.min_quality}
