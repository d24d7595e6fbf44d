"""SKE student network in torch: one keyframe confidence per basis frame (SSAN section 3.1).

Needs torch and einops (the ``train`` extra): import this module only to
build, train or export the network; the keyframe selector runs the exported
ONNX file with onnxruntime (:class:`vidtrace.keyframes.SKESelector`).

Input "thumbs": float32 [B, m*m, s, s] grey thumbnails in [0, 1] of m*m
consecutive basis frames (zeros after the end of a video). Output
"logits": float32 [B, m*m], the keyframe confidence before the sigmoid.

As in the paper the frames are laid out as an m x m grid of s x s blocks
(row-major in time), so a 3x3 convolution over the grid sees a frame's
neighbours in time (left / right) and the frames m steps before and after it
(up / down): long-range context at the cost of a small image. Each block is
first encoded on its own from three channels -- the thumbnail and its
absolute differences to the previous and the next frame -- by three strided
3x3 convolutions and a mean (a block -> a C-dim vector); the grid of vectors
then goes through 3x3 convolutions (the tiled image's classification
network) and a 1x1 output. About 20 k parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


@dataclass(frozen=True)
class SKENetConfig:
    """thumb_size: s (pixels); grid: m (blocks per side, m*m frames per
    image); width: channels of the block encoder and the grid network."""

    thumb_size: int = 16
    grid: int = 16
    width: int = 32

    def to_json(self) -> dict:
        return asdict(self)


class SKENet(nn.Module):
    """The student (see the module docstring)."""

    def __init__(self, config: SKENetConfig | None = None):
        super().__init__()
        self.config = config or SKENetConfig()
        c = self.config.width
        self.encode = nn.Sequential(
            nn.Conv2d(3, c // 2, 3, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, c, 3, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, 2, 1), nn.ReLU(inplace=True),
        )
        self.grid_net = nn.Sequential(
            nn.Conv2d(c + 1, c, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, 1, 2, dilation=2), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(c, 1, 1)

    def forward(self, thumbs: torch.Tensor) -> torch.Tensor:
        m = self.config.grid
        prev = torch.cat([thumbs[:, :1], thumbs[:, :-1]], dim=1)
        nxt = torch.cat([thumbs[:, 1:], thumbs[:, -1:]], dim=1)
        x = torch.stack([thumbs, (thumbs - prev).abs(), (thumbs - nxt).abs()], dim=2)  # [B, P, 3, s, s]
        b = x.shape[0]
        feats = self.encode(rearrange(x, "b p c h w -> (b p) c h w")).mean(dim=(2, 3))  # [(B P), C]
        change = (thumbs - prev).abs().mean(dim=(2, 3))  # [B, P]: mean absolute change, a strong cue
        grid = rearrange(feats, "(b i j) c -> b c i j", b=b, i=m, j=m)
        grid = torch.cat([grid, rearrange(change, "b (i j) -> b 1 i j", i=m, j=m) * 10.0], dim=1)
        logits = self.out(self.grid_net(grid))
        return rearrange(logits, "b 1 i j -> b (i j)")


def ske_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_SKE (SSAN eq. 2): BCE of every real frame's logit with the teacher's label
    (logits, target, mask: [B, P]; mask 0 on padding frames)."""
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (ce * mask).sum() / mask.sum().clamp(min=1.0)


def export_onnx(net: SKENet, path: str) -> None:
    """Write ``net`` (eval mode) as ONNX: input "thumbs" [B, m*m, s, s]
    (dynamic B), output "logits" [B, m*m]."""
    net = net.eval()
    cfg = net.config
    x = torch.zeros(1, cfg.grid * cfg.grid, cfg.thumb_size, cfg.thumb_size)
    with warnings.catch_warnings():  # the TorchScript exporter: no onnxscript needed
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (x,), path, input_names=["thumbs"], output_names=["logits"],
                          dynamic_axes={"thumbs": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
