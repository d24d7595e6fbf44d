"""Search-stage helpers: sampling-rate alignment for scorers."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vidtrace.search import SearchParams, at_rate, search_file


def test_at_rate_keeps_first_frame_of_each_interval():
    times = np.arange(24) / 8.0  # 8 fps, 3 s
    assert at_rate(times, 2.0).tolist() == [0, 4, 8, 12, 16, 20]
    assert at_rate(times, 8.0).tolist() == list(range(24))
    assert at_rate(np.zeros(0), 2.0).tolist() == []


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60), st.sampled_from([0.5, 1.0, 2.0, 3.0]))
def test_at_rate_one_frame_per_occupied_interval(raw, fps):
    times = np.sort(np.asarray(raw))
    idx = at_rate(times, fps)
    buckets = np.floor(times * fps + 1e-6)
    assert np.all(np.diff(idx) > 0)
    assert set(buckets[idx]) == set(buckets)
    assert len(idx) == len(set(buckets))


def test_scorer_sees_query_at_library_rate(tmp_path, synth_videos, monkeypatch):
    """The query is sampled at 8 fps for kNN search, but a scorer's network
    compares sequences at the library's rate: it must get that rate."""
    from vidtrace.library import Library, LibraryConfig
    from vidtrace.rescore import SCORERS, ChamferScorer

    seen = []

    class Probe(ChamferScorer):
        name = "probe"

        def score(self, query, ref):
            seen.append((query.timestamps.copy(), ref.timestamps.copy()))
            return super().score(query, ref)

    monkeypatch.setitem(SCORERS, "probe", Probe)
    with Library.open(tmp_path / "lib", writable=True, create=True, config=LibraryConfig(fps=2.0)) as lib:
        lib.index_files([str(synth_videos["mp4"])], workers=1)
        res = search_file(lib, synth_videos["mp4"], SearchParams(scorer="probe"))
    assert res.matches
    qt, rt = seen[0]
    assert len(qt) == len(rt)
    assert np.abs(qt - rt).max() <= 1 / 8 + 1e-6  # the same instants, up to the query's 8 fps step
    assert np.allclose(np.diff(qt), 0.5, atol=1 / 8)
