"""Temporal alignment: similarity maps in, copied segments out.

``get_aligner(name, **params)`` builds one of the registered aligners:

- ``tn``: Temporal Network, longest weighted paths through the entries;
- ``hv``: temporal Hough voting over offsets at several speeds;
- ``dp``: dynamic programming over diagonal blocks on the (pooled) grid;
- ``dtw``: global monotone (subsequence DTW) alignment on the support.

All take the parameters of :class:`~vidtrace.align.base.BaseAligner` (times
in seconds) plus their own, find several segments per pair, follow speeds
from ``min_speed`` to ``max_speed`` and, with ``detect_reversed``, copies
whose reference plays backwards.
"""

from vidtrace.align.base import (
    ALIGNERS,
    Aligner,
    BaseAligner,
    chain_to_segment,
    get_aligner,
    register_aligner,
    segment_overlap,
)
from vidtrace.align.dp import DPAligner
from vidtrace.align.dtw import DTWAligner
from vidtrace.align.hv import HVAligner
from vidtrace.align.tn import TNAligner

__all__ = [
    "ALIGNERS",
    "Aligner",
    "BaseAligner",
    "DPAligner",
    "DTWAligner",
    "HVAligner",
    "TNAligner",
    "chain_to_segment",
    "get_aligner",
    "register_aligner",
    "segment_overlap",
]
