"""PCA whitening of region vectors, as in ViSiL and S2VS.

The released file (registered as "visil-pca-resnet50-vcdb-1m") is a
torch-saved dict of tensors learned on 1M L3-iMAC region vectors of VCDB:

    mean [D]     the mean region vector (D = 3840),
    d    [D]     eigenvalues of the (unnormalised) covariance X^T X of the centred vectors,
    V    [D, D]  the matching eigenvectors, one per column.

S2VS also writes/reads the same three arrays as a NumPy .npz; both formats
are accepted. Whitening to k dimensions (k = 512 in S2VS) keeps the k largest
eigenvalues (indices idx, in decreasing order) and maps a row vector x to

    y = (x - mean) @ V[:, idx] @ diag(1 / sqrt(d[idx] + eps)),   eps = 1e-7,
    y = y / ||y||_2,

which is S2VS's PCALayer (DVt = (diag(1/sqrt(d+eps)) V^T)^T) and ViSiL's PCA
module. The projection is built in float64 and applied in float32.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidtrace.errors import ModelError

EPS = 1e-7


def _as_array(value, key: str, source: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise ModelError(f"{source}: PCA entry {key!r} is a {type(value).__name__}, expected an array")


def load_pca_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [D], d [D], V [D, D]) as stored (float32 or float64) from a torch-saved dict or an .npz;
    ModelError names the file."""
    path = str(path)
    try:
        if path.endswith(".npz"):
            with np.load(path) as data:
                raw = {k: data[k] for k in data.files}
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path}: cannot read the PCA whitening file ({type(exc).__name__}: {exc})") from None
    if not isinstance(raw, dict) or not {"mean", "d", "V"} <= set(raw):
        found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ModelError(f"{path}: a PCA whitening file holds 'mean', 'd' and 'V'; found {found}")
    mean, d, V = (_as_array(raw[k], k, path) for k in ("mean", "d", "V"))
    dim = mean.shape[0] if mean.ndim == 1 else -1
    if mean.ndim != 1 or d.shape != (dim,) or V.shape != (dim, dim):
        raise ModelError(f"{path}: PCA shapes mean {mean.shape}, d {d.shape}, V {V.shape} are inconsistent "
                         f"(expected [D], [D], [D, D])")
    return mean, d, V


def whitening_projection(d: np.ndarray, V: np.ndarray, dims: int, eps: float = EPS) -> np.ndarray:
    """float64 [D, dims]: the columns of V for the `dims` largest eigenvalues,
    each divided by sqrt(eigenvalue + eps). Does not modify its inputs."""
    if not 0 < dims <= len(d):
        raise ValueError(f"PCA dims must be within 1..{len(d)}, got {dims}")
    d = np.asarray(d, dtype=np.float64)
    idx = np.argsort(d, kind="stable")[::-1][:dims]
    return np.asarray(V)[:, idx].astype(np.float64) / np.sqrt(d[idx] + eps)[None, :]


class PCAWhitening(nn.Module):
    """x [..., D] -> L2-normalised whitened y [..., dims] (see the module docstring).

    The input is never modified in place.
    """

    def __init__(self, mean: np.ndarray, d: np.ndarray, V: np.ndarray, dims: int = 512, eps: float = EPS):
        super().__init__()
        self.dims = int(dims)
        self.eps = float(eps)
        self.register_buffer("mean", torch.from_numpy(np.asarray(mean, np.float32).copy()))
        proj = whitening_projection(d, V, self.dims, self.eps)
        self.register_buffer("projection", torch.from_numpy(proj.astype(np.float32)))

    @classmethod
    def from_file(cls, path: str | os.PathLike, dims: int = 512, eps: float = EPS) -> PCAWhitening:
        mean, d, V = load_pca_arrays(path)
        if not 0 < dims <= len(d):
            raise ModelError(f"{path}: cannot keep {dims} PCA dimensions of {len(d)}")
        return cls(mean, d, V, dims, eps)

    @property
    def in_dim(self) -> int:
        return int(self.mean.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize((x - self.mean) @ self.projection, p=2, dim=-1)
