"""Composable, seeded video transformations for benchmarks and training data.

Every transform is a frozen dataclass; call it on a :class:`vidtrace.types.Clip`
with a numpy Generator (or an int seed) to get a new clip and a
:class:`TransformRecord` (concrete parameters plus, for every output frame,
the source frame it shows)::

    from vidtrace import transforms as vt
    pipeline = vt.Compose((vt.ResizedCrop(), vt.Speed(factor=2.0), vt.TextOverlay()))
    out, record = pipeline(clip, rng=7)
    record.segments()  # ground truth: output interval <-> source interval

Registry names (``vt.names()``), by family:
spatial: resized_crop, hflip, rotate, rescale, borders;
photometric: brightness, contrast, gamma, hue, saturation, greyscale, blur, noise;
codec: jpeg, reencode; overlay: text, emoji, pip;
temporal: trim, speed, frame_drop, frame_rate, pause, reverse, shuffle_dropout;
montage: montage; wrapper: identity, compose, random_choice, random_apply.
"""

from vidtrace.transforms.base import (
    REGISTRY,
    FrameTransform,
    IntRange,
    MappedSegment,
    Range,
    Seed,
    TimeTransform,
    Transform,
    TransformRecord,
    as_generator,
    create,
    from_config,
    names,
    register,
)
from vidtrace.transforms.codec import Jpeg, Reencode
from vidtrace.transforms.compose import Compose, Identity, RandomApply, RandomChoice
from vidtrace.transforms.montage import Montage
from vidtrace.transforms.overlay import SHAPES, EmojiOverlay, PictureInPicture, TextOverlay
from vidtrace.transforms.photometric import Blur, Brightness, Contrast, Gamma, Greyscale, Hue, Noise, Saturation
from vidtrace.transforms.presets import FAMILIES, STRENGTHS, family_transforms, random_transform, s2vs_augmentation
from vidtrace.transforms.spatial import Borders, HorizontalFlip, ResizedCrop, Rescale, Rotate
from vidtrace.transforms.temporal import FrameDrop, FrameRate, Pause, Reverse, Speed, TemporalShuffleDropout, Trim

__all__ = [
    "FAMILIES", "REGISTRY", "SHAPES", "STRENGTHS",
    "Blur", "Borders", "Brightness", "Compose", "Contrast", "EmojiOverlay", "FrameDrop", "FrameRate",
    "FrameTransform", "Gamma", "Greyscale", "HorizontalFlip", "Hue", "Identity", "IntRange", "Jpeg",
    "MappedSegment", "Montage", "Noise", "Pause", "PictureInPicture", "RandomApply", "RandomChoice", "Range",
    "Reencode", "Rescale", "ResizedCrop", "Reverse", "Rotate", "Saturation", "Seed", "Speed",
    "TemporalShuffleDropout", "TextOverlay", "TimeTransform", "Transform", "TransformRecord", "Trim",
    "as_generator", "create", "family_transforms", "from_config", "names", "random_transform", "register",
    "s2vs_augmentation",
]
