"""Ready-made parameter ranges: one set per family and strength, and the
S2VS weak/strong augmentation pipelines.

"weak" edits keep a copy easy to recognise; "strong" ones are the hard end
of what copy detection should still survive. The ranges are this project's
choices (the S2VS paper does not list its values in the main text).
"""

from __future__ import annotations

from typing import Callable

from vidtrace.errors import ConfigError
from vidtrace.transforms.base import Seed, Transform, as_generator
from vidtrace.transforms.codec import Jpeg, Reencode
from vidtrace.transforms.compose import Compose, RandomApply, RandomChoice
from vidtrace.transforms.montage import Montage
from vidtrace.transforms.overlay import EmojiOverlay, PictureInPicture, TextOverlay
from vidtrace.transforms.photometric import Blur, Brightness, Contrast, Gamma, Greyscale, Hue, Noise, Saturation
from vidtrace.transforms.spatial import Borders, HorizontalFlip, ResizedCrop, Rescale, Rotate
from vidtrace.transforms.temporal import FrameDrop, FrameRate, Pause, Reverse, Speed, TemporalShuffleDropout, Trim

STRENGTHS = ("weak", "strong")


def _spatial(weak: bool) -> tuple[Transform, ...]:
    return (
        ResizedCrop(scale=(0.7, 1.0) if weak else (0.25, 0.7)),
        HorizontalFlip(),
        Rotate(degrees=(-5.0, 5.0) if weak else (-30.0, 30.0)),
        Rescale(factor=(0.75, 1.25) if weak else (0.3, 2.0)),
        Borders(fraction=(0.05, 0.15) if weak else (0.2, 0.5), color=(0, 0, 0) if weak else None),
    )


def _photometric(weak: bool) -> tuple[Transform, ...]:
    return (
        Brightness(factor=(0.8, 1.2) if weak else (0.4, 1.8)),
        Contrast(factor=(0.8, 1.2) if weak else (0.3, 1.8)),
        Gamma(gamma=(0.8, 1.25) if weak else (0.4, 2.5)),
        Hue(degrees=(-10.0, 10.0) if weak else (-90.0, 90.0)),
        Saturation(factor=(0.7, 1.3) if weak else (0.0, 2.0)),
        Greyscale(),
        Blur(sigma=(0.3, 1.0) if weak else (1.5, 5.0)),
        Noise(sigma=(1.0, 5.0) if weak else (8.0, 30.0)),
    )


def _codec(weak: bool) -> tuple[Transform, ...]:
    return (
        Jpeg(qscale=(4, 10) if weak else (15, 31)),
        Reencode(codec=("libx264", "mpeg4"), bitrate=(500.0, 1500.0) if weak else (50.0, 200.0)),
    )


def _overlay(weak: bool) -> tuple[Transform, ...]:
    return (
        TextOverlay(height=(0.03, 0.06), opacity=(0.5, 0.8)) if weak else TextOverlay(height=(0.08, 0.2), opacity=(0.8, 1.0)),
        EmojiOverlay(size=(0.05, 0.12)) if weak else EmojiOverlay(size=(0.15, 0.4), count=(1, 3)),
        PictureInPicture(scale=(0.7, 0.9) if weak else (0.3, 0.6)),
    )


def _temporal(weak: bool) -> tuple[Transform, ...]:
    speeds = (Speed(factor=(0.8, 1.25)),) if weak else (Speed(factor=(0.5, 0.75)), Speed(factor=(1.5, 2.0)))
    return speeds + (
        Trim(keep=(0.7, 0.95) if weak else (0.2, 0.6)),
        FrameDrop(p=(0.05, 0.2) if weak else (0.3, 0.7)),
        FrameRate(fps=(20.0, 30.0) if weak else (3.0, 10.0)),
        Pause(duration=(0.2, 0.5) if weak else (1.0, 3.0)),
        Reverse(),
        TemporalShuffleDropout(p_shuffle=0.2, p_drop=0.05) if weak else TemporalShuffleDropout(p_shuffle=0.8, p_drop=0.3),
    )


def _montage(weak: bool) -> tuple[Transform, ...]:
    if weak:
        return (Montage(segment_duration=(3.0, 8.0), gap=(0.5, 2.0)),)
    return (Montage(segments=(1, 3), segment_duration=(1.0, 3.0), gap=(1.0, 5.0)),)


_FAMILIES: dict[str, Callable[[bool], tuple[Transform, ...]]] = {
    "spatial": _spatial,
    "photometric": _photometric,
    "codec": _codec,
    "overlay": _overlay,
    "temporal": _temporal,
    "montage": _montage,
}
FAMILIES = tuple(_FAMILIES)
"""Family names accepted by :func:`family_transforms` and :func:`random_transform`."""


def family_transforms(family: str, strength: str = "strong") -> tuple[Transform, ...]:
    """Every transform of `family` configured with the ranges of `strength`."""
    if family not in _FAMILIES:
        raise ConfigError(f"unknown transform family {family!r}; known: {', '.join(FAMILIES)}")
    if strength not in STRENGTHS:
        raise ConfigError(f"strength must be one of {STRENGTHS}, got {strength!r}")
    return _FAMILIES[family](strength == "weak")


def random_transform(family: str, strength: str = "strong", rng: Seed = None) -> Transform:
    """One transform of `family` at `strength`, chosen with `rng` (its own
    parameters are still ranges, sampled when it is called)."""
    options = family_transforms(family, strength)
    return options[int(as_generator(rng).integers(len(options)))]


def s2vs_augmentation(strength: str = "strong", frames: int = 32, size: tuple[int, int] | None = None,
                      p_overlay: float = 0.3, p_blur: float = 0.3, p_viv: float = 0.2) -> Compose:
    """The S2VS training augmentation (paper section 3.2).

    weak: temporal crop of `frames` consecutive frames, resized crop (to
    `size`, (height, width) pixels, None = input size) and a horizontal flip
    with probability 0.5. strong: weak, then two global RandAugment-style
    edits, text and emoji overlays each with probability `p_overlay`, blur of
    each frame with probability `p_blur`, one temporal edit (fast forward,
    slow motion, reverse, pause or temporal shuffle-dropout) and, with
    probability `p_viv`, picture-in-picture into synthetic host footage
    (S2VS mixes two videos of the batch instead; use PictureInPicture with
    ``host=`` for that).
    """
    if strength not in STRENGTHS:
        raise ConfigError(f"strength must be one of {STRENGTHS}, got {strength!r}")
    weak = (Trim(frames=frames), ResizedCrop(scale=(0.4, 1.0), size=size), RandomApply(HorizontalFlip(), 0.5))
    if strength == "weak":
        return Compose(weak)
    global_edits = RandomChoice((
        Rotate(degrees=(-30.0, 30.0)), Brightness(factor=(0.4, 1.8)), Contrast(factor=(0.3, 1.8)),
        Saturation(factor=(0.0, 2.0)), Hue(degrees=(-90.0, 90.0)), Gamma(gamma=(0.4, 2.5)), Greyscale(),
    ), k=2)
    temporal = RandomChoice((
        Speed(factor=(1.5, 2.0)), Speed(factor=(0.5, 0.75)), Reverse(), Pause(duration=(0.5, 2.0)),
        TemporalShuffleDropout(p_shuffle=0.5, p_drop=0.1),
    ))
    return Compose(weak + (
        global_edits,
        RandomApply(TextOverlay(), p_overlay),
        RandomApply(EmojiOverlay(), p_overlay),
        Blur(sigma=(1.0, 4.0), frame_p=p_blur),
        temporal,
        RandomApply(PictureInPicture(scale=(0.4, 0.8)), p_viv),
    ))

