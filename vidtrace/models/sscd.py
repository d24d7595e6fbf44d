"""SSCD (Pizzi et al., CVPR 2022) image copy-detection descriptors from the released TorchScript model.

Model: ``sscd_disc_mixup.torchscript.pt`` (registered as "sscd-disc-mixup"
in vidtrace.models.weights): a ResNet-50 trunk, GeM pooling, a linear layer
to 512 dimensions and L2 normalisation, traced into TorchScript, so no SSCD
code is needed. Input: float images [B, 3, H, W] after ImageNet
normalisation; output: [B, 512], L2-normalised.

Preprocessing (`preprocess_one`) follows the SSCD README's recommendation
"small_288": the short side resized to 288 (bilinear with antialiasing,
torchvision's Resize, long side truncated), aspect ratio kept, x / 255,
ImageNet mean/std. Its alternative "skew_320" (both sides to 320, aspect
ratio not kept) is `preprocess_one(..., square=320)`.

Score normalisation (`ScoreNormalizer`) is the one of the SSCD paper (§4.3,
eq. 8) as implemented in sscd/disc_eval.py (apply_score_norm, default
"1.0[0,2]"): with a background set B of descriptors of unrelated images,
the similarity of a query q to a reference r becomes

    s'(q, r) = q . r - beta * mean(s_(first)(q), ..., s_(last)(q)),

where s_(i)(q) is the (i+1)-th largest inner product of q with the
descriptors of B (zero-based, inclusive indices first..last; defaults
beta = 1, first = 0, last = 2: the mean of the 3 nearest background
similarities). Only the query side is adjusted, so rankings per query do not
change; scores become comparable across queries. The paper reports it with
its descriptor whitening (PCAW512 learned on DISC training images), which
is not part of the released model and is not applied here.
"""

from __future__ import annotations

import os
import warnings
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vidtrace.errors import ModelError
from vidtrace.models.resnet import frame_tensor, normalize_imagenet, resize_short_side

SHORT_SIDE = 288
DIM = 512


def preprocess_one(frame, short: int = SHORT_SIDE, square: int | None = None) -> torch.Tensor:
    """One RGB uint8 frame [H, W, 3] -> normalised float32 [1, 3, h, w] (see the module docstring)."""
    img = frame_tensor(frame)
    if square is not None:
        img = F.interpolate(img, size=(square, square), mode="bilinear", align_corners=False, antialias=True)
        img = img.round_().clamp_(0.0, 255.0)
    else:
        img = resize_short_side(img, short, "bilinear", antialias=True, floor_long=True)
    return normalize_imagenet(img)


def load_sscd(path: str | os.PathLike) -> torch.jit.ScriptModule:
    """torch.jit.load a TorchScript SSCD model on the CPU, in eval mode; ModelError names the file."""
    try:
        with warnings.catch_warnings():
            # torch >= 2.9 deprecates TorchScript; the released model exists only in that form (and as
            # plain state dicts, see the SSCD README).
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
            model = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # not a TorchScript archive, truncated, newer format ...
        raise ModelError(f"{path}: cannot load the SSCD TorchScript model ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]})") from None
    model.eval()
    return model


def embed(model, frames: Sequence, batch_size: int = 16, short: int = SHORT_SIDE,
          square: int | None = None) -> np.ndarray:
    """SSCD descriptors of RGB uint8 frames: float32 [N, D] (D = 512), L2-normalised.

    Frames of different sizes are batched separately (aspect ratio is kept);
    at most batch_size frames go through the network at once. A model output
    that is not [n, D] is a ModelError.
    """
    if not len(frames):
        return np.zeros((0, DIM), np.float32)
    # Group frame indices by size so that each batch is one tensor.
    order: dict[tuple[int, int], list[int]] = {}
    for i, f in enumerate(frames):
        order.setdefault(tuple(np.shape(f)[:2]), []).append(i)
    out: np.ndarray | None = None
    with torch.inference_mode():
        for idx in order.values():
            for start in range(0, len(idx), batch_size):
                part = idx[start:start + batch_size]
                x = torch.cat([preprocess_one(frames[i], short, square) for i in part], dim=0)
                y = model(x)
                if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[0] != len(part):
                    shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                    raise ModelError(f"SSCD model returned {shape} for {len(part)} images, expected [n, D]")
                y = F.normalize(y.float(), p=2, dim=1).numpy()
                if out is None:
                    out = np.zeros((len(frames), y.shape[1]), np.float32)
                out[part] = y
    return out


class ScoreNormalizer:
    """SSCD score normalisation against a background set (see the module docstring).

    background: float32 [M, D] L2-normalised descriptors of unrelated images
    (M > last); beta, first, last: as in SSCD's "<beta>[<first>,<last>]".
    """

    def __init__(self, background: np.ndarray, beta: float = 1.0, first: int = 0, last: int = 2):
        bg = np.asarray(background, dtype=np.float32)
        if bg.ndim != 2:
            raise ValueError(f"background descriptors must be [M, D], got {bg.shape}")
        if not 0 <= first <= last < len(bg):
            raise ValueError(f"need 0 <= first <= last < {len(bg)} background descriptors, got [{first}, {last}]")
        self.background = bg
        self.beta, self.first, self.last = float(beta), int(first), int(last)

    def adjustment(self, queries: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """float32 [N]: beta * mean of the (first..last)-th largest background similarities of each query [N, D]."""
        q = np.asarray(queries, dtype=np.float32)
        out = np.zeros(len(q), np.float32)
        k = self.last + 1
        for s in range(0, len(q), chunk):
            sims = q[s:s + chunk] @ self.background.T
            top = -np.sort(-np.partition(sims, -k, axis=1)[:, -k:], axis=1)  # k largest, decreasing
            out[s:s + chunk] = self.beta * top[:, self.first:self.last + 1].mean(axis=1)
        return out

    def scores(self, queries: np.ndarray, references: np.ndarray) -> np.ndarray:
        """Normalised similarities float32 [N, M] = queries @ references.T - adjustment(queries)[:, None]."""
        q = np.asarray(queries, dtype=np.float32)
        return (q @ np.asarray(references, np.float32).T - self.adjustment(q)[:, None]).astype(np.float32)

    def augment_queries(self, queries: np.ndarray) -> np.ndarray:
        """[N, D] -> [N, D + 1] with -adjustment appended: its inner product with
        augment_references(r) is the normalised score (how SSCD searches an index)."""
        q = np.asarray(queries, dtype=np.float32)
        return np.concatenate([q, -self.adjustment(q)[:, None]], axis=1)

    @staticmethod
    def augment_references(references: np.ndarray) -> np.ndarray:
        """[M, D] -> [M, D + 1] with a 1 appended."""
        r = np.asarray(references, dtype=np.float32)
        return np.concatenate([r, np.ones((len(r), 1), np.float32)], axis=1)
