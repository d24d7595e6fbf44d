"""ResNet-50 (He et al. 2016, "v1.5": stride 2 in the 3x3 convolution) in plain torch.

Parameter names and shapes are those of torchvision's `resnet50`, so its
state dicts (e.g. IMAGENET1K_V1, registered as "resnet50-imagenet1k-v1" in
vidtrace.models.weights) load unchanged with strict=True:

    conv1.weight [64, 3, 7, 7], bn1.{weight,bias,running_mean,running_var,num_batches_tracked}
    layer{1..4}.{i}.conv1/bn1/conv2/bn2/conv3/bn3, layer{1..4}.0.downsample.0 (1x1 conv) / .1 (BN)
    fc.weight [1000, 2048], fc.bias [1000]

Only this module (and the ones built on it) import torch; they are imported
on demand by the deep feature extractors.
"""

from __future__ import annotations

import os
from typing import Iterable

import torch
from torch import nn

from vidtrace.errors import ModelError

STAGES = ("layer1", "layer2", "layer3", "layer4")
# (bottleneck width, blocks, stride of the first block) per stage; output channels = 4 * width.
_STAGE_SPECS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
STAGE_CHANNELS = {name: 4 * width for name, (width, _, _) in zip(STAGES, _STAGE_SPECS)}


class Bottleneck(nn.Module):
    """1x1 (in -> width), 3x3 (width -> width, stride), 1x1 (width -> 4 width), each
    followed by batch norm, plus the identity or a 1x1 strided projection; ReLU after the sum."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """ResNet-50 on float images [B, 3, H, W] (ImageNet-normalised).

    forward(x) -> logits [B, num_classes]; features(x, layers) -> the
    activations of the named stages; init: torchvision's initialisation
    (pointless when weights are loaded next). For a 224x224 input the stages give
    layer1 [B, 256, 56, 56], layer2 [B, 512, 28, 28], layer3 [B, 1024, 14, 14],
    layer4 [B, 2048, 7, 7].
    """

    def __init__(self, num_classes: int = 1000, init: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for name, (width, blocks, stride) in zip(STAGES, _STAGE_SPECS):
            stage = [Bottleneck(in_channels, width, stride)]
            in_channels = width * Bottleneck.expansion
            stage += [Bottleneck(in_channels, width) for _ in range(blocks - 1)]
            setattr(self, name, nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels, num_classes)
        if init:
            self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's initialisation (only matters when no weights are loaded).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1, bn1, ReLU, 3x3/2 max pool: [B, 3, H, W] -> [B, 64, ~H/4, ~W/4]."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def features(self, x: torch.Tensor, layers: Iterable[str] = STAGES) -> dict[str, torch.Tensor]:
        """Activations of the requested stages (names from STAGES), computed
        only as deep as the deepest one: {name: [B, C, h, w]}."""
        wanted = set(layers)
        unknown = wanted - set(STAGES)
        if unknown:
            raise ValueError(f"unknown ResNet-50 stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
        out: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        for name in STAGES:
            if len(out) == len(wanted):
                break
            x = getattr(self, name)(x)
            if name in wanted:
                out[name] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x, ("layer4",))["layer4"]
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---------------------------------------------------------------- ImageNet input conventions
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def frame_tensor(frame) -> torch.Tensor:
    """RGB uint8 [H, W, 3] (numpy) -> float32 [1, 3, H, W] in 0..255 (a copy; the frame is not modified)."""
    arr = torch.as_tensor(frame)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"frames must be RGB [H, W, 3], got shape {tuple(arr.shape)}")
    return arr.permute(2, 0, 1).unsqueeze(0).to(torch.float32)


def resize_short_side(img: torch.Tensor, short: int, mode: str = "bicubic", antialias: bool = True,
                      floor_long: bool = False) -> torch.Tensor:
    """Resize [1, 3, H, W] (0..255) so that min(H, W) == short, keeping the aspect ratio.

    The long side becomes long * short / min(H, W), rounded (or truncated
    with floor_long, as torchvision's Resize does). The result is rounded and
    clamped to 0..255, as if stored as 8-bit pixels.
    """
    h, w = img.shape[-2:]
    scale = short / min(h, w)
    size = [max(1, int(h * scale) if floor_long else round(h * scale)),
            max(1, int(w * scale) if floor_long else round(w * scale))]
    size[int(h > w)] = short  # the short side exactly
    if (h, w) == tuple(size):
        return img
    out = torch.nn.functional.interpolate(img, size=size, mode=mode, align_corners=False, antialias=antialias)
    return out.round_().clamp_(0.0, 255.0)


def center_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    """Central size x size window of [1, 3, H, W] (top/left offsets truncated, as ViSiL/S2VS do)."""
    h, w = img.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"cannot crop {size}x{size} from a {w}x{h} image")
    top, left = (h - size) // 2, (w - size) // 2
    return img[..., top:top + size, left:left + size]


def normalize_imagenet(batch: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] in 0..255 -> (x / 255 - mean) / std per channel (a new tensor)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=batch.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=batch.dtype).view(1, 3, 1, 1)
    return (batch / 255.0 - mean) / std


# ---------------------------------------------------------------- loading
def load_state_dict_file(path: str | os.PathLike, what: str) -> dict:
    """torch.load a weights-only checkpoint on the CPU; any failure is a ModelError naming the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, pickle of non-tensors, truncated file ...
        raise ModelError(f"{path}: cannot read {what} ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise ModelError(f"{path}: {what} must hold a dict of tensors, found {type(state).__name__}")
    return state


def resnet50(weights: str | os.PathLike | dict | None = None) -> ResNet50:
    """A ResNet-50 in eval mode with frozen parameters.

    weights: a torchvision-format state dict, or the path of a file holding
    one, loaded with strict=True (a missing, extra or misshapen tensor is a
    ModelError naming the file); None keeps the random initialisation.
    """
    model = ResNet50(init=weights is None)  # loaded weights replace every initial value
    if weights is not None:
        source = "state dict" if isinstance(weights, dict) else str(weights)
        state = weights if isinstance(weights, dict) else load_state_dict_file(weights, "a ResNet-50 state dict")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())
            detail = detail if len(detail) <= 400 else detail[:400] + " ..."
            raise ModelError(f"{source}: not a torchvision ResNet-50 state dict ({detail})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
