"""SPD network in torch: a small anchor-free (FCOS-style) detector of copy patterns.

Needs torch (the ``train`` extra): import this module only to build, train or
export the network; inference runs from the exported ONNX file without torch
(:mod:`vidtrace.align.spd`).

Input: float32 [B, 2, H, W] rasterised similarity maps (channel 0 best
similarity per pixel, channel 1 sampled-pair flag; H, W multiples of 16).
Output (stride 4): ``logits`` [B, 1, H/4, W/4] copy-pattern confidence
before the sigmoid, ``dist`` [B, 4, H/4, W/4] distances in input pixels from
each cell centre to the box edges ``[top (query start), left (reference
start), bottom (query end), right (reference end)]`` (see
:func:`vidtrace.align.spd.decode_boxes`).

Layout: a stride-2 stem and three stride-2 stages of residual 3x3 blocks
(the two deepest dilated), a global-context vector added at stride 16 (so a
cell sees the whole 128-pixel tile), a light top-down path back to stride 4
and two 3x3 convolutions before the 1x1 heads. About 0.2 M parameters.

Loss (SSAN eq. 4): sigmoid focal loss (a BCE variant) on the cells, GIoU on
the boxes of positive cells (:func:`spd_loss`).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4


@dataclass(frozen=True)
class SPDNetConfig:
    """Widths of the stem and the three stages (channels); in_channels: 2."""

    widths: tuple[int, int, int, int] = (16, 32, 48, 64)
    in_channels: int = 2

    def to_json(self) -> dict:
        return asdict(self)


def _cbr(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Block(nn.Module):
    """Residual block: two 3x3 convolutions (dilated when asked) + identity."""

    def __init__(self, c: int, dilation: int = 1):
        super().__init__()
        self.a = _cbr(c, c, 1, dilation)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, padding=dilation, dilation=dilation, bias=False),
                               nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class SPDNet(nn.Module):
    """The detector (see the module docstring)."""

    def __init__(self, config: SPDNetConfig | None = None):
        super().__init__()
        self.config = config or SPDNetConfig()
        c0, c1, c2, c3 = self.config.widths
        self.stem = nn.Sequential(_cbr(self.config.in_channels, c0, 2), _Block(c0))  # stride 2
        self.s4 = nn.Sequential(_cbr(c0, c1, 2), _Block(c1))  # stride 4
        self.s8 = nn.Sequential(_cbr(c1, c2, 2), _Block(c2, 2))  # stride 8
        self.s16 = nn.Sequential(_cbr(c2, c3, 2), _Block(c3, 2))  # stride 16
        self.context = nn.Linear(c3, c3)
        self.lat16 = nn.Conv2d(c3, c1, 1)
        self.lat8 = nn.Conv2d(c2, c1, 1)
        self.lat4 = nn.Conv2d(c1, c1, 1)
        self.head = nn.Sequential(_cbr(c1, c1), _cbr(c1, c1))
        self.cls = nn.Conv2d(c1, 1, 1)
        self.box = nn.Conv2d(c1, 4, 1)
        nn.init.constant_(self.cls.bias, -4.6)  # prior 0.01: few cells hold a pattern
        nn.init.constant_(self.box.bias, 0.5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p4 = self.s4(self.stem(x))
        p8 = self.s8(p4)
        p16 = self.s16(p8)
        p16 = p16 + self.context(p16.mean(dim=(2, 3)))[:, :, None, None]
        y = F.interpolate(self.lat16(p16), scale_factor=2.0, mode="nearest") + self.lat8(p8)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest") + self.lat4(p4)
        y = self.head(y)
        dist = torch.exp(torch.clamp(self.box(y), max=6.0)) * STRIDE
        return self.cls(y), dist


def decode_torch(dist: torch.Tensor) -> torch.Tensor:
    """Boxes [B, H', W', 4] (pixels) from distances [B, 4, H', W'] at the cell centres."""
    b, _, h, w = dist.shape
    cy = (torch.arange(h, dtype=dist.dtype, device=dist.device)[:, None] + 0.5) * STRIDE
    cx = (torch.arange(w, dtype=dist.dtype, device=dist.device)[None, :] + 0.5) * STRIDE
    d = dist.permute(0, 2, 3, 1)
    return torch.stack([cy - d[..., 0], cx - d[..., 1], cy + d[..., 2], cx + d[..., 3]], dim=-1)


def giou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Generalised IoU of paired boxes [..., 4] = [y0, x0, y1, x1] -> [...]."""
    ih = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    iw = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = ih * iw
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    union = area_a + area_b - inter
    iou = inter / (union + eps)
    hull = ((torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0]))
            * (torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])))
    return iou - (hull - union) / (hull + eps)


def spd_loss(logits: torch.Tensor, dist: torch.Tensor, cls_target: torch.Tensor, cls_weight: torch.Tensor,
             box_target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
             box_weight: float = 2.0) -> tuple[torch.Tensor, dict]:
    """L_SPD = focal(cls) + GIoU loss (SSAN eq. 4, BCE in its focal form).

    logits [B, 1, h, w], dist [B, 4, h, w]: network outputs; cls_target
    [B, h, w] in {0, 1}; cls_weight [B, h, w]: 0 on ignored cells, else 1;
    box_target [B, h, w, 4]: the assigned box (pixels) of positive cells.
    Both terms are normalised by the number of positive cells (at least 1).
    """
    lg = logits[:, 0]
    p = torch.sigmoid(lg)
    ce = F.binary_cross_entropy_with_logits(lg, cls_target, reduction="none")
    pt = p * cls_target + (1 - p) * (1 - cls_target)
    at = alpha * cls_target + (1 - alpha) * (1 - cls_target)
    pos = cls_target > 0.5
    n_pos = pos.sum().clamp(min=1).to(lg.dtype)
    l_cls = (at * (1 - pt) ** gamma * ce * cls_weight).sum() / n_pos
    if pos.any():
        pred = decode_torch(dist)[pos]
        l_box = (1.0 - giou(pred, box_target[pos])).sum() / n_pos
    else:
        l_box = dist.sum() * 0.0
    return l_cls + box_weight * l_box, {"cls": float(l_cls.detach()), "box": float(l_box.detach())}


def export_onnx(net: SPDNet, path: str, tile: int = 128) -> None:
    """Write ``net`` (eval mode) as ONNX: input "maps" [B, 2, H, W] (dynamic
    B, H, W), outputs "logits" and "dist"."""
    net = net.eval()
    x = torch.zeros(1, net.config.in_channels, tile, tile)
    with warnings.catch_warnings():  # the TorchScript exporter: no onnxscript needed
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (x,), path, input_names=["maps"], output_names=["logits", "dist"],
                          dynamic_axes={"maps": {0: "batch", 2: "height", 3: "width"},
                                        "logits": {0: "batch", 2: "h", 3: "w"}, "dist": {0: "batch", 2: "h", 3: "w"}},
                          opset_version=17, dynamo=False)
