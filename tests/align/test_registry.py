"""Aligner registry, construction and parameter validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from vidtrace.align import ALIGNERS, Aligner, BaseAligner, get_aligner, register_aligner
from vidtrace.align.base import ALIGNERS as BASE_ALIGNERS
from vidtrace.errors import ConfigError

NAMES = ["dp", "dtw", "hv", "tn"]


def test_builtin_aligners_registered():
    assert ALIGNERS is BASE_ALIGNERS
    assert set(NAMES) <= set(ALIGNERS)


@pytest.mark.parametrize("name", NAMES)
def test_get_aligner_builds_protocol_instances(name):
    al = get_aligner(name)
    assert isinstance(al, Aligner)
    assert isinstance(al, BaseAligner)
    assert al.name == name
    assert get_aligner(name.upper()).name == name


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as exc:
        get_aligner("nope")
    for name in NAMES:
        assert name in str(exc.value)


def test_unknown_parameter_lists_valid_parameters():
    with pytest.raises(ConfigError) as exc:
        get_aligner("tn", max_gap=3)
    assert "max_gap" in str(exc.value) and "max_gap_s" in str(exc.value)


@pytest.mark.parametrize("params", [
    {"min_speed": 0.0}, {"min_speed": 1.5}, {"max_speed": 0.9}, {"top_k": 0}, {"max_gap_s": 0},
    {"min_sim": 1.5}, {"min_matches": 0}, {"max_segments": 0}, {"max_overlap": 2.0},
    {"score_matches": 0}, {"min_length_s": -1}, {"jitter_s": -1.0}, {"band_s": -0.5},
])
@pytest.mark.parametrize("name", NAMES)
def test_nonsense_values_raise_config_error(name, params):
    with pytest.raises(ConfigError):
        get_aligner(name, **params)


@pytest.mark.parametrize("name,params", [
    ("tn", {"gap_cost": -1}), ("hv", {"bin_s": 0}), ("hv", {"n_speeds": 0}), ("hv", {"refine_iters": -1}),
    ("dp", {"straight_weight": 2}), ("dp", {"max_cells": 0}), ("dtw", {"max_passes": 0}),
])
def test_method_specific_validation(name, params):
    with pytest.raises(ConfigError):
        get_aligner(name, **params)


def test_parameters_are_immutable():
    al = get_aligner("tn", max_gap_s=3.0)
    assert al.max_gap_s == 3.0
    with pytest.raises(Exception):
        al.max_gap_s = 4.0  # type: ignore[misc]


def test_register_custom_aligner():
    @dataclass(frozen=True)
    class Null:
        name: ClassVar[str] = "null-test"
        offset: float = 0.0

        def align(self, smap):
            return []

    try:
        assert register_aligner(Null) is Null
        al = get_aligner("null-test", offset=1.0)
        assert isinstance(al, Aligner) and al.offset == 1.0
        with pytest.raises(ConfigError):
            get_aligner("null-test", bogus=1)
    finally:
        ALIGNERS.pop("null-test", None)


def test_register_rejects_nameless_and_taken_names():
    class Nameless:
        def align(self, smap):
            return []

    with pytest.raises(TypeError):
        register_aligner(Nameless)

    class Impostor:
        name = "tn"

        def align(self, smap):
            return []

    with pytest.raises(ValueError):
        register_aligner(Impostor)


def test_unregistered_name_is_imported_from_its_module(monkeypatch):
    import vidtrace.align.base as base

    @dataclass(frozen=True)
    class Plugged:
        name: ClassVar[str] = "plugged_test"

        def align(self, smap):
            return []

    seen = []

    def fake_import(module):
        seen.append(module)
        if module != "vidtrace.align.plugged_test":
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
        register_aligner(Plugged)

    monkeypatch.setattr(base.importlib, "import_module", fake_import)
    try:
        assert isinstance(get_aligner("plugged_test"), Plugged)
        with pytest.raises(ConfigError):
            get_aligner("absent_test")
        assert seen == ["vidtrace.align.plugged_test", "vidtrace.align.absent_test"]
    finally:
        ALIGNERS.pop("plugged_test", None)
