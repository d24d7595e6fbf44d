"""End to end on the shared corpus: every verified copy relation is found with
temporal IoU >= 0.8 on both axes, the must-not-match excerpts do not match, and
a mirrored copy is found as flipped (benchmarks/shared_gt.py does the work)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.skipif(not (VIDEOS / "ground_truth.csv").exists(), reason="../shared/data/videos not present")
def test_shared_ground_truth_all_found(tmp_path):
    out = tmp_path / "gt.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "shared_gt.py"), "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert out.exists(), proc.stderr[-2000:]
    res = json.loads(out.read_text())
    missed = [(o["query"], o["reference"], round(o["iou_query"], 2), round(o["iou_ref"], 2))
              for o in res["outcomes"] if not o["found"]]
    assert not missed, f"relations not found: {missed}"
    assert res["found"] == res["relations"] == 31
    assert res["must_not_match_violations"] == []
    assert res["flip_found"] is True
    assert proc.returncode == 0
