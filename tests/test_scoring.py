"""Scoring: cross-reference suppression."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidtrace.scoring import suppress_across_references
from vidtrace.types import Segment


def seg(q0, q1, score):
    return Segment(q0, q1, 0.0, q1 - q0, score)


def test_weaker_claim_on_the_same_query_time_is_scaled():
    pairs = [("A", seg(0, 10, 0.9)), ("B", seg(2, 8, 0.5)), ("B", seg(20, 25, 0.4)), ("A", seg(1, 9, 0.3))]
    out = suppress_across_references(pairs, 0.2)
    assert [s.score for s in out] == pytest.approx([0.9, 0.1, 0.4, 0.3])  # same reference A: untouched
    assert out[1].query_start == 2 and out[1].reference_end == 6


def test_small_overlap_is_left_alone_and_factor_checked():
    pairs = [("A", seg(0, 10, 0.9)), ("B", seg(8, 20, 0.5))]  # 2 of B's 12 s overlap
    assert [s.score for s in suppress_across_references(pairs, 0.2)] == [0.9, 0.5]
    with pytest.raises(ValueError):
        suppress_across_references(pairs, 1.5)


segments = st.lists(
    st.tuples(st.sampled_from("ABC"), st.floats(0, 50), st.floats(0.1, 20), st.floats(0.01, 1)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(segments, st.floats(0, 1))
def test_properties(raw, factor):
    pairs = [(r, seg(a, a + d, sc)) for r, a, d, sc in raw]
    out = suppress_across_references(pairs, factor)
    assert len(out) == len(pairs)
    for (_, s), o in zip(pairs, out):
        assert o.score <= s.score + 1e-12
        assert (o.query_start, o.query_end, o.reference_start, o.reference_end) == \
            (s.query_start, s.query_end, s.reference_start, s.reference_end)
    if pairs:
        top = max(range(len(pairs)), key=lambda i: pairs[i][1].score)
        assert out[top].score == pairs[top][1].score
    assert [s.score for s in suppress_across_references(pairs, 1.0)] == [s.score for _, s in pairs]
    if len({r for r, _ in pairs}) <= 1:
        assert [s.score for s in out] == [s.score for _, s in pairs]
