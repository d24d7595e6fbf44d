"""L3-iMAC region features of ResNet-50, exactly as ViSiL and S2VS extract them.

Per frame (ViSiL §4.1 and §5, S2VS §4; code: MKLab-ITI/visil `pytorch`
branch and gkordo/s2vs `model/extractors/resnet.py`):

1. input: RGB resized so that its short side is 256 (bicubic), centre crop
   224 x 224, x / 255, ImageNet mean/std normalisation (`preprocess`);
2. ResNet-50 (ImageNet weights) activations of layer1..layer4:
   [256, 56, 56], [512, 28, 28], [1024, 14, 14], [2048, 7, 7];
3. region max pooling per layer with a fixed window k and stride ceil(k / 2):
   k = 28, 14, 6, 3 for layer1..layer4, which gives a 3 x 3 grid of regions
   for a 224 input (for layer3 the windows start at 0, 3, 6 and span 6 cells,
   so its last two rows and columns are not covered: this is what the
   reference code does);
4. L2 normalisation of each region vector per layer, adaptive max pooling of
   every layer's grid to layer4's grid (the identity at 224 x 224, needed
   only for other input sizes; S2VS), L2 again, concatenation over the
   channels (256 + 512 + 1024 + 2048 = 3840), regions in row-major order
   (top-left first), then L2 per region -> [B, 9, 3840];
5. PCA whitening to 512 dimensions and L2 (vidtrace.models.pca) -> [B, 9, 512].

Frames are sampled at 1 fps by the reference; here the caller's sampling
applies (vidtrace's --fps).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vidtrace.errors import ModelError
from vidtrace.models.pca import PCAWhitening
from vidtrace.models.resnet import (
    STAGE_CHANNELS,
    STAGES,
    ResNet50,
    center_crop,
    frame_tensor,
    normalize_imagenet,
    resize_short_side,
    resnet50,
)

RESIZE = 256
CROP = 224
REGION_WINDOWS = {"layer1": 28, "layer2": 14, "layer3": 6, "layer4": 3}
REGION_DIM = sum(STAGE_CHANNELS.values())  # 3840
GRID = 3
REGIONS = GRID * GRID


def region_stride(window: int) -> int:
    """Stride of the region max pooling for a window of `window` cells: ceil(window / 2)."""
    return math.ceil(window / 2)


def region_pool(maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """L3-iMAC region vectors of stage activations {layer1..layer4: [B, C, h, w]} -> [B, R, 3840].

    R is the size of layer4's region grid (9 for 224 x 224 inputs); see the
    module docstring for the steps. Inputs are not modified.
    """
    pooled = []
    for name in STAGES:
        window = REGION_WINDOWS[name]
        pooled.append(F.normalize(F.max_pool2d(maps[name], window, region_stride(window)), p=2, dim=1))
    grid = pooled[-1].shape[-2:]
    pooled = [F.normalize(F.adaptive_max_pool2d(p, grid), p=2, dim=1) for p in pooled]
    regions = torch.cat(pooled, dim=1).flatten(2).transpose(1, 2)
    return F.normalize(regions, p=2, dim=-1)


def preprocess(frames: Sequence, resize: int = RESIZE, crop: int = CROP, antialias: bool = True) -> torch.Tensor:
    """RGB uint8 frames [H, W, 3] (any sizes) -> normalised float32 [N, 3, crop, crop].

    Short side to `resize` with bicubic interpolation, rounded to 8-bit
    levels, then the central crop. antialias: low-pass filter when shrinking
    (ffmpeg's scaler, which S2VS used, does; OpenCV's INTER_CUBIC, which
    ViSiL used, does not). The frames are not modified.
    """
    if not len(frames):
        return torch.zeros((0, 3, crop, crop), dtype=torch.float32)
    batch = [center_crop(resize_short_side(frame_tensor(f), resize, "bicubic", antialias), crop) for f in frames]
    return normalize_imagenet(torch.cat(batch, dim=0))


class L3iMAC(nn.Module):
    """ResNet-50 + L3-iMAC region pooling (+ PCA whitening when given).

    forward: normalised images [B, 3, 224, 224] -> L2-normalised region
    vectors [B, 9, dims] (dims = pca.dims, or 3840 without PCA).
    """

    def __init__(self, backbone: ResNet50, pca: PCAWhitening | None = None):
        super().__init__()
        if pca is not None and pca.in_dim != REGION_DIM:
            raise ValueError(f"the PCA whitening takes {pca.in_dim}-d vectors, L3-iMAC regions have {REGION_DIM}")
        self.backbone = backbone
        self.pca = pca

    @property
    def out_dim(self) -> int:
        return self.pca.dims if self.pca is not None else REGION_DIM

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        regions = region_pool(self.backbone.features(x, STAGES))
        return self.pca(regions) if self.pca is not None else regions


def load_l3imac(resnet_weights: str | os.PathLike | dict | None, pca_file: str | os.PathLike | None,
                dims: int = 512) -> L3iMAC:
    """L3iMAC in eval mode from a torchvision ResNet-50 state dict (or its
    file) and the ViSiL PCA file (None: no whitening, 3840-d regions)."""
    pca = PCAWhitening.from_file(pca_file, dims) if pca_file is not None else None
    if pca is not None and pca.in_dim != REGION_DIM:
        raise ModelError(f"{pca_file}: PCA whitening of {pca.in_dim}-d vectors, L3-iMAC regions have {REGION_DIM}")
    model = L3iMAC(resnet50(resnet_weights), pca)
    model.eval()
    return model
