"""Keyframe selection: which sampled frames a video keeps (a family with a registry).

Decoding already samples uniformly at the configured rate; a selector may
keep fewer frames. "uniform" keeps them all. "change" keeps a frame when it
differs enough from the last kept one or when `max_gap` seconds have passed
(the rule of SSAN's keyframe teacher, section 3.1), which shrinks static
footage without losing any shot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.types import FrameFeatures

SELECTORS: dict[str, Callable[..., "KeyframeSelector"]] = {}


def register_selector(name: str):
    def deco(cls):
        SELECTORS[name] = cls
        cls.name = name
        return cls

    return deco


def get_selector(name: str, **params) -> "KeyframeSelector":
    try:
        return SELECTORS[name](**params)
    except KeyError:
        raise ConfigError(f"unknown keyframe selector {name!r}; choose one of: {', '.join(sorted(SELECTORS))}") from None


class KeyframeSelector(ABC):
    name: str = ""

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
