"""ViSiL's video similarity network in torch (ViSiL, Kordopatis-Zilos et al. 2019;
the S2VS variant of 2023). Needs torch and einops: import this module only
where a network is built, trained or exported.

A video is float32 [T, R, D] region vectors (T frames, R regions per frame,
D dims), or [B, T, R, D] for a batch padded to a common T with a frame mask
[B, T] (1 = real frame, 0 = padding). The network computes, for a query q and
a reference r:

1. region attention (``index_video``): each region vector is scaled by a
   weight in [0, 1], either ViSiL's ``u.x / |u| / 2 + 1/2`` with a learned
   unit context vector u (eq. 3, attention="visil"), or the S2VS / DnS
   ``sigmoid(c . tanh(W x + b))`` (attention="s2vs");
2. frame-to-frame Chamfer similarity (eq. 4-5): tensor dot of all region
   pairs, max over reference regions, mean over query regions -> [Tq, Tr]
   (symmetric: the average with the roles swapped);
3. the video comparator (Table 1): conv 3x3 (32) + ReLU, max-pool 2x2,
   conv 3x3 (64) + ReLU, max-pool 2x2, conv 3x3 (128) + ReLU, conv 1x1 (1),
   each 3x3 conv on a 1-pixel-padded map ("replicate" padding in ViSiL's
   release, zero padding in S2VS's), so the refined map is [Tq/4, Tr/4];
   with ``pooling=False`` the max-pools are skipped and the padding is
   "replicate" (S2VS's full-size mode), giving a refined map of [Tq, Tr];
4. hard tanh to [-1, 1] and video-level Chamfer similarity (eq. 6): mean
   over query rows of the row maximum (symmetric: averaged with the column
   version). ``forward`` (training) rescales to [0, 1] as S2VS does.

Official checkpoints load by their real key names, mapped explicitly to ours
(:data:`VISIL_KEYS`, :data:`S2VS_KEYS`; see :func:`load_official`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from vidtrace.errors import ModelError

COMPARATOR_CHANNELS = (32, 64, 128)
"""Output channels of the comparator's three 3x3 convolutions (ViSiL Table 1)."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ViSiLConfig:
    """Architecture of a :class:`ViSiL` network.

    dims: region vector size D; attention: "visil", "s2vs" or "none";
    comparator: use the video comparator CNN (False: ViSiL_f, Chamfer on the
    frame similarity matrix); padding: "zero" or "replicate", how the pooled
    comparator pads before each 3x3 conv; symmetric: symmetric Chamfer at the
    frame and video levels (ViSiL_sym).
    """

    dims: int = 512
    attention: str = "s2vs"
    comparator: bool = True
    padding: str = "zero"
    symmetric: bool = False

    def __post_init__(self) -> None:
        if self.attention not in ("visil", "s2vs", "none"):
            raise ValueError(f"attention must be visil, s2vs or none, got {self.attention!r}")
        if self.padding not in ("zero", "replicate"):
            raise ValueError(f"padding must be zero or replicate, got {self.padding!r}")
        if self.dims < 1:
            raise ValueError(f"dims must be >= 1, got {self.dims}")


VISIL_CONFIG = ViSiLConfig(dims=3840, attention="visil", comparator=True, padding="replicate")
"""The official ViSiL release (``visil.pth``: L3-iMAC, 3840 dims, PCA-whitened)."""

S2VS_CONFIG = ViSiLConfig(dims=512, attention="s2vs", comparator=True, padding="zero")
"""The official S2VS releases (``s2vs_dns.pth``, ``s2vs_vcdb.pth``: 512-dim whitened L3-iMAC)."""


# --------------------------------------------------------------------------- layers


class RegionAttention(nn.Module):
    """Weights region vectors by saliency.

    kind "visil": w = (u . x) / |u| / 2 + 1/2 with context vector u
    (``context_vector.weight`` [1, D]); kind "s2vs": w = sigmoid(c .
    tanh(W x + b)) (``transform`` D -> D, ``context_vector`` D -> 1).
    forward(x [..., D]) -> (x * w [..., D], w [..., 1]).
    """

    def __init__(self, dims: int, kind: str = "s2vs"):
        super().__init__()
        self.kind = kind
        if kind == "s2vs":
            self.transform = nn.Linear(dims, dims)
        self.context_vector = nn.Linear(dims, 1, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.kind == "s2vs":
            nn.init.xavier_uniform_(self.context_vector.weight)
            nn.init.xavier_uniform_(self.transform.weight)
            nn.init.zeros_(self.transform.bias)
        else:
            nn.init.normal_(self.context_vector.weight)
            with torch.no_grad():
                self.context_vector.weight /= self.context_vector.weight.norm()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "s2vs":
            w = torch.sigmoid(self.context_vector(torch.tanh(self.transform(x))))
        else:
            w = self.context_vector(x) / self.context_vector.weight.norm() / 2.0 + 0.5
        return x * w, w


class VideoComparator(nn.Module):
    """The four-layer CNN that refines a frame similarity matrix (ViSiL Table 1).

    forward(sim [B, 1, X, Y] (or [B, X, Y]), mask [B, 1, X, Y] or None,
    pooling) -> (refined [B, 1, X', Y'] before hard tanh, mask [B, 1, X', Y']
    or None) with X' = X // 4 when pooling (X >= 4 needed), X otherwise.
    Masked entries are zeroed before and after every convolution, and the
    mask is max-pooled along with the map.
    """

    def __init__(self, padding: str = "zero"):
        super().__init__()
        c1, c2, c3 = COMPARATOR_CHANNELS
        self.padding = padding
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3)
        self.fconv = nn.Conv2d(c3, 1, kernel_size=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def _pad(self, x: torch.Tensor, pooling: bool) -> torch.Tensor:
        if pooling and self.padding == "zero":
            return F.pad(x, (1, 1, 1, 1), mode="constant", value=0.0)
        return F.pad(x, (1, 1, 1, 1), mode="replicate")

    @staticmethod
    def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return x if mask is None else x * mask

    def forward(self, sim: torch.Tensor, mask: torch.Tensor | None = None,
                pooling: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = sim.unsqueeze(1) if sim.ndim == 3 else sim
        if mask is not None:
            mask = (mask.unsqueeze(1) if mask.ndim == 3 else mask).to(x.dtype)
        x = self._masked(x, mask)
        for conv, pool in ((self.conv1, True), (self.conv2, True), (self.conv3, False)):
            x = F.relu(self._masked(conv(self._pad(x, pooling)), mask))
            if pool and pooling:
                x = F.max_pool2d(x, 2, 2)
                mask = F.max_pool2d(mask, 2, 2) if mask is not None else None
        return self._masked(self.fconv(x), mask), mask


def masked_chamfer(sim: torch.Tensor, mask: torch.Tensor | None = None, symmetric: bool = False) -> torch.Tensor:
    """Video-level Chamfer similarity of maps [B, 1, X, Y] (or [B, X, Y]):
    mean over valid rows of the maximum over valid columns -> [B]
    (symmetric: averaged with the column-wise version)."""
    s = sim.squeeze(1) if sim.ndim == 4 else sim
    if mask is None:
        cs = s.max(dim=2).values.mean(dim=1)
        return 0.5 * (cs + s.max(dim=1).values.mean(dim=1)) if symmetric else cs
    m = (mask.squeeze(1) if mask.ndim == 4 else mask).bool()

    def one_way(s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        best = s.masked_fill(~m, float("-inf")).max(dim=2).values  # [B, X]
        rows = m.any(dim=2)
        best = best.masked_fill(~rows, 0.0)
        return best.sum(dim=1) / rows.sum(dim=1).clamp(min=1)

    cs = one_way(s, m)
    if symmetric:
        cs = 0.5 * (cs + one_way(s.transpose(1, 2), m.transpose(1, 2)))
    return cs


def regularization_loss(sim: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """ViSiL eq. 8: sum of the amounts by which comparator outputs leave [-1, 1]."""
    excess = (sim - 1.0).clamp(min=0.0) + (-1.0 - sim).clamp(min=0.0)
    if mask is not None:
        excess = excess * mask
    return excess.sum()


# --------------------------------------------------------------------------- the network


def _batched(x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[T, R, D] -> [1, T, R, D] (and mask [T] -> [1, T])."""
    if x.ndim == 3:
        return x.unsqueeze(0), (mask.unsqueeze(0) if mask is not None else None)
    if x.ndim != 4:
        raise ValueError(f"video features must be [B, T, R, D] or [T, R, D], got {tuple(x.shape)}")
    return x, mask


class ViSiL(nn.Module):
    """ViSiL / S2VS similarity network (see the module docstring).

    State dict keys (ours): ``attention.context_vector.weight`` [1, D],
    ``attention.transform.weight`` [D, D] / ``.bias`` [D] (s2vs attention only),
    ``comparator.conv{1,2,3}.weight`` / ``.bias``, ``comparator.fconv.weight`` /
    ``.bias``.
    """

    def __init__(self, config: ViSiLConfig = S2VS_CONFIG):
        super().__init__()
        self.config = config
        if config.attention != "none":
            self.attention = RegionAttention(config.dims, config.attention)
        if config.comparator:
            self.comparator = VideoComparator(config.padding)

    # -- representation

    def index_video(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention-weighted region vectors: [B, T, R, D] (or [T, R, D]) -> same
        shape, padded frames (mask [B, T] == 0) zeroed."""
        if hasattr(self, "attention"):
            x, _ = self.attention(x)
        if mask is not None:
            x = x * rearrange(mask.to(x.dtype), "... t -> ... t 1 1")
        return x

    # -- similarity

    def frame_similarity(self, query: torch.Tensor, ref: torch.Tensor, query_mask: torch.Tensor | None = None,
                         ref_mask: torch.Tensor | None = None, pairwise: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Frame-to-frame Chamfer similarity of (already indexed) videos.

        query [A, Tq, Rq, D], ref [B, Tr, Rr, D] (or unbatched). pairwise:
        query a against ref a (A == B) -> [A, 1, Tq, Tr]; otherwise every
        query against every ref -> [A*B, 1, Tq, Tr], pair (a, b) at a*B + b.
        Returns (sim, mask or None); padded rows / columns are 0 in sim.
        """
        query, query_mask = _batched(query, query_mask)
        ref, ref_mask = _batched(ref, ref_mask)
        if pairwise:
            prod = torch.einsum("aiok,ajpk->aiopj", query, ref)
        else:
            prod = rearrange(torch.einsum("aiok,bjpk->abiopj", query, ref), "a b i o p j -> (a b) i o p j")
        sim = prod.max(dim=3).values.mean(dim=2)
        if self.config.symmetric:
            sim = 0.5 * (sim + prod.max(dim=2).values.mean(dim=2))
        sim = rearrange(sim, "n i j -> n 1 i j")
        mask = None
        if query_mask is not None or ref_mask is not None:
            qm = query_mask if query_mask is not None else query.new_ones(query.shape[:2])
            rm = ref_mask if ref_mask is not None else ref.new_ones(ref.shape[:2])
            if pairwise:
                mask = torch.einsum("ai,aj->aij", qm.to(sim.dtype), rm.to(sim.dtype))
            else:
                mask = rearrange(torch.einsum("ai,bj->abij", qm.to(sim.dtype), rm.to(sim.dtype)),
                                 "a b i j -> (a b) i j")
            mask = rearrange(mask, "n i j -> n 1 i j")
            sim = sim * mask
        return sim, mask

    def refine(self, sim: torch.Tensor, mask: torch.Tensor | None = None, pooling: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Comparator output before hard tanh ([N, 1, X', Y'], mask); the input
        itself when the network has no comparator."""
        if not hasattr(self, "comparator"):
            return sim, mask
        return self.comparator(sim, mask, pooling=pooling)

    def similarity_matrix(self, query: torch.Tensor, ref: torch.Tensor, query_mask: torch.Tensor | None = None,
                          ref_mask: torch.Tensor | None = None, *, pairwise: bool = True, pooling: bool = True,
                          index: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Refined similarity map in [-1, 1] (hard tanh applied): [N, 1, X', Y']
        with X' = Tq // 4 (pooling) or Tq (pooling=False, full size for the
        aligners), and its mask. index: apply attention first."""
        if index:
            query = self.index_video(query, query_mask)
            ref = self.index_video(ref, ref_mask)
        sim, mask = self.frame_similarity(query, ref, query_mask, ref_mask, pairwise=pairwise)
        out, mask = self.refine(sim, mask, pooling=pooling)
        if hasattr(self, "comparator"):
            out = F.hardtanh(out)
        return out, mask

    def video_similarity(self, query: torch.Tensor, ref: torch.Tensor, query_mask: torch.Tensor | None = None,
                         ref_mask: torch.Tensor | None = None, *, pairwise: bool = False) -> torch.Tensor:
        """Video-level similarity in [-1, 1] (eq. 6): [A, B] for all pairs, or
        [A] when pairwise; unbatched inputs give [1, 1] / [1]."""
        sim, mask = self.similarity_matrix(query, ref, query_mask, ref_mask, pairwise=pairwise)
        score = masked_chamfer(sim, mask, self.config.symmetric)
        if pairwise:
            return score
        q = query if query.ndim == 4 else query.unsqueeze(0)
        return rearrange(score, "(a b) -> a b", a=q.shape[0])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass on a batch [B, T, R, D] (mask [B, T]): every video
        against every other -> (similarities [B, B] in [0, 1], regularisation
        loss (eq. 8) on the comparator outputs)."""
        n = x.shape[0]
        x = self.index_video(x, mask)
        sim, smask = self.frame_similarity(x, x, mask, mask)
        out, smask = self.refine(sim, smask)
        reg = regularization_loss(out, smask) if hasattr(self, "comparator") else out.new_zeros(())
        if hasattr(self, "comparator"):
            out = F.hardtanh(out) / 2.0 + 0.5
        score = masked_chamfer(out, smask, self.config.symmetric)
        return rearrange(score, "(a b) -> a b", a=n), reg


# --------------------------------------------------------------------------- official checkpoints


def _comparator_keys(prefix: str) -> dict[str, str]:
    return {f"{prefix}.{layer}.{p}": f"comparator.{layer}.{p}"
            for layer in ("conv1", "conv2", "conv3", "fconv") for p in ("weight", "bias")}


VISIL_KEYS: dict[str, str] = {
    "attention.context_vector.weight": "attention.context_vector.weight",
    **_comparator_keys("video_comperator"),  # sic: the release's spelling
}
"""Official ViSiL (``visil.pth``, the ViSiLHead state dict) key -> our key."""

S2VS_KEYS: dict[str, str] = {
    "attention.transform.weight": "attention.transform.weight",
    "attention.transform.bias": "attention.transform.bias",
    "attention.context_vector.weight": "attention.context_vector.weight",
    **_comparator_keys("visil_head"),
}
"""Official S2VS (``s2vs_*.pth``, entry "model" of the checkpoint) key -> our key."""


def official_config(variant: str) -> ViSiLConfig:
    """The architecture of an official release: "visil", "s2vs-dns" or
    "s2vs-vcdb" (underscores accepted)."""
    if variant == "visil":
        return VISIL_CONFIG
    if variant.replace("_", "-") in ("s2vs", "s2vs-dns", "s2vs-vcdb"):
        return S2VS_CONFIG
    raise ModelError(f"unknown ViSiL variant {variant!r}; choose visil, s2vs_dns or s2vs_vcdb")


def _read_checkpoint(path: str | Path) -> Mapping:
    """torch.load without arbitrary code: tensors, containers and argparse
    Namespaces (S2VS checkpoints store their training arguments)."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # pickle errors, truncated files
        raise ModelError(f"{path}: not a readable torch checkpoint ({exc})") from None


def convert_state_dict(state: Mapping[str, torch.Tensor]) -> tuple[str, dict[str, torch.Tensor]]:
    """An official state dict (or S2VS checkpoint dict with a "model" entry) ->
    (variant "visil" or "s2vs", state dict with our key names). Raises
    ModelError on missing or unexpected keys."""
    if "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    keys = set(state)
    if any(k.startswith("video_comperator.") for k in keys):
        variant, mapping = "visil", VISIL_KEYS
    elif any(k.startswith("visil_head.") for k in keys):
        variant, mapping = "s2vs", S2VS_KEYS
    else:
        raise ModelError("not a ViSiL or S2VS state dict (no video_comperator.* or visil_head.* keys)")
    missing = sorted(set(mapping) - keys)
    unexpected = sorted(keys - set(mapping))
    if missing or unexpected:
        raise ModelError(f"{variant} state dict: missing keys {missing}, unexpected keys {unexpected}")
    return variant, {mapping[k]: v for k, v in state.items()}


def load_official(path: str | Path) -> ViSiL:
    """Build the network of an official checkpoint file (``visil.pth``,
    ``s2vs_dns.pth`` or ``s2vs_vcdb.pth``) and load it strictly, in eval mode."""
    variant, state = convert_state_dict(_read_checkpoint(path))
    config = official_config(variant)
    dims = state["attention.context_vector.weight"].shape[1]
    if dims != config.dims:
        config = ViSiLConfig(**{**asdict(config), "dims": int(dims)})
    model = ViSiL(config)
    model.load_state_dict(state, strict=True)
    return model.eval()


def from_pretrained(name: str, cache: str | Path | None = None, download: bool = True) -> ViSiL:
    """An official network by weights-registry name ("visil", "s2vs-dns",
    "s2vs-vcdb"), from the cache of :mod:`vidtrace.models.weights` (downloaded
    and verified there when missing, unless `download` is False)."""
    official_config(name)
    from vidtrace.models import weights

    return load_official(weights.path(name.replace("_", "-"), cache, download=download))


# --------------------------------------------------------------------------- our checkpoints


def save_model(model: ViSiL, path: str | Path, **extra) -> None:
    """Save our network: {"config": ViSiLConfig fields, "model": state dict, **extra}."""
    torch.save({"config": asdict(model.config), "model": model.state_dict(), **extra}, str(path))


def load_model(path: str | Path) -> ViSiL:
    """Load a network saved by :func:`save_model`, in eval mode."""
    ckpt = _read_checkpoint(path)
    if "config" not in ckpt:
        return load_official(path)
    model = ViSiL(ViSiLConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"], strict=True)
    return model.eval()
