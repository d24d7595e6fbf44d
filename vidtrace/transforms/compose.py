"""Wrappers that combine transforms: sequence, random choice, random apply.

A wrapper's record composes the inner time mappings, so the record of a
whole pipeline maps each final frame straight back to the original clip;
the inner records are kept as its children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.transforms.base import Transform, TransformRecord, register
from vidtrace.types import Clip


def run_sequence(transforms: Sequence[Transform], clip: Clip, rng: np.random.Generator,
                 name: str, params: dict) -> tuple[Clip, TransformRecord]:
    """Apply `transforms` one after the other; the record (named `name`)
    maps the final frames back to `clip` and lists the inner records."""
    record = TransformRecord.identity(name, params, clip)
    children = []
    for t in transforms:
        clip, step = t.apply(clip, rng)
        children.append(step)
        record = record.then(step, name=name, params=params)
    if not children:
        clip = Clip(clip.frames.copy(), clip.timestamps.copy())
    return clip, TransformRecord(record.name, dict(params), record.times, record.source_index, record.source_clip,
                                 record.source_times, record.source_steps, tuple(children))


@register("identity", "wrapper")
@dataclass(frozen=True)
class Identity(Transform):
    """Return a copy of the clip."""

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        return run_sequence((), clip, rng, self.name, {})


@register("compose", "wrapper")
@dataclass(frozen=True)
class Compose(Transform):
    """Apply `transforms` in order."""

    transforms: tuple[Transform, ...] = ()

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        return run_sequence(self.transforms, clip, rng, self.name, {})


@register("random_choice", "wrapper")
@dataclass(frozen=True)
class RandomChoice(Transform):
    """Pick `k` distinct transforms (weighted by `weights`, default equal) and
    apply them in the order picked (k > 1 is RandAugment's N)."""

    transforms: tuple[Transform, ...] = ()
    weights: tuple[float, ...] | None = None
    k: int = 1

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        if not self.transforms:
            raise ConfigError("random_choice needs at least one transform")
        k = min(max(0, self.k), len(self.transforms))
        p = None
        if self.weights is not None:
            if len(self.weights) != len(self.transforms):
                raise ConfigError("random_choice weights and transforms differ in length")
            w = np.asarray(self.weights, dtype=np.float64)
            p = w / w.sum()
        picked = rng.choice(len(self.transforms), size=k, replace=False, p=p).tolist()
        chosen = [self.transforms[i] for i in picked]
        return run_sequence(chosen, clip, rng, self.name, {"chosen": [t.name for t in chosen], "indices": picked})


@register("random_apply", "wrapper")
@dataclass(frozen=True)
class RandomApply(Transform):
    """Apply `transform` with probability `p`, else return a copy."""

    transform: Transform = Identity()
    p: float = 0.5

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        applied = bool(rng.random() < self.p)
        todo = (self.transform,) if applied else ()
        return run_sequence(todo, clip, rng, self.name, {"applied": applied})
