from __future__ import annotations

import numpy as np
import pytest

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError

from .helpers import check_record, check_timestamps, make_clip


@pytest.mark.parametrize("strength", vt.STRENGTHS)
@pytest.mark.parametrize("family", vt.FAMILIES)
def test_family_presets_run(family, strength):
    clip = make_clip(t=12)
    options = vt.family_transforms(family, strength)
    assert options and all(t.family == family for t in options)
    for t in options:
        out, rec = t(clip, 1)
        check_timestamps(out)
        check_record(clip, out, rec)


def test_random_transform_is_seeded():
    picks = [vt.random_transform("photometric", "strong", rng=s) for s in range(30)]
    assert picks == [vt.random_transform("photometric", "strong", rng=s) for s in range(30)]
    assert len({p.name for p in picks}) > 3
    with pytest.raises(ConfigError):
        vt.random_transform("smell", "weak")
    with pytest.raises(ConfigError):
        vt.family_transforms("spatial", "medium")


def test_strong_is_stronger_than_weak():
    weak = dict((t.name, t) for t in vt.family_transforms("spatial", "weak"))
    strong = dict((t.name, t) for t in vt.family_transforms("spatial", "strong"))
    assert max(abs(d) for d in strong["rotate"].degrees) > max(abs(d) for d in weak["rotate"].degrees)


@pytest.mark.parametrize("strength", vt.STRENGTHS)
def test_s2vs_augmentation(strength):
    clip = make_clip(t=40, h=36, w=64)
    aug = vt.s2vs_augmentation(strength, frames=16, size=(24, 32))
    for seed in range(4):
        out, rec = aug(clip, seed)
        assert out.frames.shape[1:3] == (24, 32)
        check_timestamps(out)
        check_record(clip, out, rec)
        again, _ = aug(clip, seed)
        np.testing.assert_array_equal(out.frames, again.frames)
    if strength == "weak":
        assert len(out) == 16
    with pytest.raises(ConfigError):
        vt.s2vs_augmentation("medium")
