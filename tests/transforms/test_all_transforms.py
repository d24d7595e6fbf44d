"""Invariants every registered transform must keep, with its default parameters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import vidtrace.transforms as vt
from vidtrace.types import Clip

from .helpers import check_record, check_timestamps, make_clip

ALL = vt.names()
# wrappers whose defaults have nothing to choose from
NEEDS_ARGS = {"random_choice": {"transforms": (vt.Brightness(), vt.Reverse())},
              "compose": {"transforms": (vt.Hue(), vt.Speed())},
              "random_apply": {"transform": vt.Noise(), "p": 0.7}}


def build(name: str) -> vt.Transform:
    return vt.create(name, **NEEDS_ARGS.get(name, {}))


def test_registry_lists_every_family():
    assert set(vt.names("spatial")) == {"resized_crop", "hflip", "rotate", "rescale", "borders"}
    assert set(vt.names("photometric")) == {"brightness", "contrast", "gamma", "hue", "saturation", "greyscale",
                                            "blur", "noise"}
    assert set(vt.names("codec")) == {"jpeg", "reencode"}
    assert set(vt.names("overlay")) == {"text", "emoji", "pip"}
    assert set(vt.names("temporal")) == {"trim", "speed", "frame_drop", "frame_rate", "pause", "reverse",
                                         "shuffle_dropout"}
    assert set(vt.names("montage")) == {"montage"}
    assert set(vt.names("wrapper")) == {"identity", "compose", "random_choice", "random_apply"}


@pytest.mark.parametrize("name", ALL)
def test_is_documented_frozen_dataclass(name):
    cls = vt.REGISTRY[name]
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert cls.__doc__ and cls.name == name
    t = build(name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(t, "x_new_attr", 1)


@pytest.mark.parametrize("name", ALL)
def test_output_shape_dtype_times_and_record(name):
    clip = make_clip()
    out, record = build(name)(clip, rng=5)
    assert isinstance(out, Clip)
    assert out.frames.dtype == np.uint8 and out.frames.ndim == 4 and out.frames.shape[-1] == 3
    assert len(out) >= 1
    check_timestamps(out)
    check_record(clip, out, record)
    assert record.name == name
    assert out.frames.flags.writeable and out.frames is not clip.frames
    assert not np.shares_memory(out.frames, clip.frames)
    assert not np.shares_memory(out.timestamps, clip.timestamps)
    vt.TransformRecord.to_json(record, mapping=True)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_output(name):
    clip = make_clip()
    t = build(name)
    a, ra = t(clip, rng=np.random.default_rng(11))
    b, rb = t(clip, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert ra.to_json(mapping=True) == rb.to_json(mapping=True)
    c, _ = t(clip, rng=11)  # an int seed means the same as a Generator seeded with it
    np.testing.assert_array_equal(a.frames, c.frames)


@pytest.mark.parametrize("name", ALL)
def test_input_not_mutated(name):
    clip = make_clip()  # read-only arrays: an in-place write would raise
    before = clip.frames.copy(), clip.timestamps.copy()
    build(name)(clip, rng=3)
    np.testing.assert_array_equal(clip.frames, before[0])
    np.testing.assert_array_equal(clip.timestamps, before[1])


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name):
    t = build(name)
    again = vt.from_config(t.config())
    assert again == t
    clip = make_clip()
    np.testing.assert_array_equal(t(clip, 2)[0].frames, again(clip, 2)[0].frames)


@pytest.mark.parametrize("name", [n for n in ALL if vt.REGISTRY[n].family not in ("wrapper",)])
def test_single_frame_clip(name):
    clip = make_clip(t=1)
    out, record = build(name)(clip, rng=0)
    assert len(out) >= 1
    check_timestamps(out)
    check_record(clip, out, record)


@pytest.mark.parametrize("name", ALL)
def test_seeds_vary_random_transforms(name):
    """Transforms with sampled parameters give more than one result over a few seeds."""
    if name in ("hflip", "greyscale", "reverse", "identity"):
        pytest.skip("deterministic by design")
    clip = make_clip()
    t = build(name)
    results = {t(clip, rng=s)[0].frames.tobytes() for s in range(6)}
    assert len(results) > 1
