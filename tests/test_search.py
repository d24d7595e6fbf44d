"""Search stage: sampling-rate alignment for scorers, scorer blends, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidtrace.decode import sample_times
from vidtrace.search import SearchParams, search_file


def test_sample_times_keeps_first_frame_of_each_interval():
    times = np.arange(24) / 8.0  # 8 fps, 3 s
    assert sample_times(times, 2.0).tolist() == [0, 4, 8, 12, 16, 20]
    assert sample_times(times, 8.0).tolist() == list(range(24))
    assert sample_times(np.zeros(0), 2.0).tolist() == []


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60), st.sampled_from([0.5, 1.0, 2.0, 3.0]))
def test_sample_times_one_frame_per_occupied_interval(raw, fps):
    times = np.sort(np.asarray(raw))
    idx = sample_times(times, fps)
    buckets = np.floor(times * fps + 1e-6)
    assert np.all(np.diff(idx) > 0)
    assert set(buckets[idx]) == set(buckets)
    assert len(idx) == len(set(buckets))


@pytest.fixture(scope="module")
def mp4_library(tmp_path_factory, synth_videos):
    """Path of a 2 fps library holding the generated 3 s mp4 (built once)."""
    from vidtrace.library import Library, LibraryConfig

    root = tmp_path_factory.mktemp("search") / "lib"
    with Library.open(root, writable=True, create=True, config=LibraryConfig(fps=2.0)) as lib:
        lib.index_files([str(synth_videos["mp4"])], workers=1)
    return root


def _search(root, path, params):
    from vidtrace.library import Library

    with Library.open(root) as lib:
        return search_file(lib, path, params)


def test_scorer_sees_query_at_library_rate(mp4_library, synth_videos, monkeypatch):
    """The query is sampled at 8 fps for kNN search, but a scorer's network
    compares sequences at the library's rate: it must get that rate."""
    from vidtrace.rescore import SCORERS, ChamferScorer

    seen = []

    class Probe(ChamferScorer):
        name = "probe"
        same_rate = True

        def score(self, query, ref):
            seen.append((query.timestamps.copy(), ref.timestamps.copy()))
            return super().score(query, ref)

    monkeypatch.setitem(SCORERS, "probe", Probe)
    res = _search(mp4_library, synth_videos["mp4"], SearchParams(scorer="probe"))
    assert res.matches
    qt, rt = seen[0]
    assert len(qt) == len(rt)
    assert np.abs(qt - rt).max() <= 1 / 8 + 1e-6  # the same instants, up to the query's 8 fps step
    assert np.allclose(np.diff(qt), 0.5, atol=1 / 8)


def test_frame_level_scorer_sees_every_query_frame(mp4_library, synth_videos, monkeypatch):
    from vidtrace.rescore import SCORERS, ChamferScorer

    seen = []

    class Probe(ChamferScorer):
        name = "probe"

        def score(self, query, ref):
            seen.append(len(query))
            return super().score(query, ref)

    monkeypatch.setitem(SCORERS, "probe", Probe)
    _search(mp4_library, synth_videos["mp4"], SearchParams(scorer="probe", query_fps=8.0))
    assert seen and seen[0] == 24  # 3 s at 8 fps


def test_scorer_blend_modes(mp4_library, synth_videos, monkeypatch):
    """"pair" folds the scorer's video-level score into every segment score
    (geometric mean); "window" its similarity inside the segment's box."""
    from vidtrace.rescore import SCORERS, ChamferScorer

    class Fixed(ChamferScorer):
        name = "fixed"

        def score(self, query, ref):
            return 0.25, super().score(query, ref)[1]

    monkeypatch.setitem(SCORERS, "fixed", Fixed)
    plain = _search(mp4_library, synth_videos["mp4"], SearchParams(min_score=0.0))
    pair = _search(mp4_library, synth_videos["mp4"], SearchParams(scorer="fixed", scorer_blend="pair", min_score=0.0))
    window = _search(mp4_library, synth_videos["mp4"], SearchParams(scorer="fixed", min_score=0.0))
    a, b = plain.matches[0].segments[0], pair.matches[0].segments[0]
    assert b.score == pytest.approx(np.sqrt(a.score * 0.25), rel=1e-6)
    assert pair.matches[0].score == 0.25
    assert window.matches[0].segments[0].score > b.score  # the copy of itself: window similarity ~1


def test_search_params_validation():
    from vidtrace.errors import ConfigError

    with pytest.raises(ConfigError):
        SearchParams(scorer_blend="nope")
    with pytest.raises(ConfigError):
        SearchParams(cross_suppress=1.5)
