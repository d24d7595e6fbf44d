"""The torch networks: ONNX parity, losses, decoding agreement; the shipped models without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vidtrace.align.spd import DEFAULT_MODEL, cell_centers, decode_boxes
from vidtrace.keyframes import SKE_MODEL

REPO = Path(__file__).resolve().parents[2]


def _torch():
    return pytest.importorskip("torch")


def test_spd_onnx_matches_torch(tmp_path):
    torch = _torch()
    ort = pytest.importorskip("onnxruntime")
    from vidtrace.models.spd import SPDNet, SPDNetConfig, export_onnx

    torch.manual_seed(0)
    net = SPDNet(SPDNetConfig(widths=(8, 8, 8, 8))).eval()
    path = tmp_path / "spd.onnx"
    export_onnx(net, str(path), tile=32)
    x = np.random.default_rng(0).random((3, 2, 64, 48)).astype(np.float32)  # other size than exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    a, b = sess.run(None, {"maps": x})
    with torch.no_grad():
        ta, tb = net(torch.from_numpy(x))
    assert a.shape == (3, 1, 16, 12) and b.shape == (3, 4, 16, 12)
    np.testing.assert_allclose(a, ta.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(b, tb.numpy(), atol=1e-3, rtol=1e-4)


def test_ske_onnx_matches_torch(tmp_path):
    torch = _torch()
    ort = pytest.importorskip("onnxruntime")
    from vidtrace.models.ske import SKENet, SKENetConfig, export_onnx

    torch.manual_seed(0)
    net = SKENet(SKENetConfig(thumb_size=8, grid=4, width=8)).eval()
    path = tmp_path / "ske.onnx"
    export_onnx(net, str(path))
    x = np.random.default_rng(1).random((2, 16, 8, 8)).astype(np.float32)
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"thumbs": x})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert out.shape == (2, 16)
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)


def test_torch_decode_agrees_with_numpy():
    torch = _torch()
    from vidtrace.models.spd import STRIDE, decode_torch, giou

    d = np.random.default_rng(2).uniform(0, 20, (1, 4, 5, 7)).astype(np.float32)
    cy, cx = cell_centers(5, 7, STRIDE)
    want = decode_boxes(np.moveaxis(d[0], 0, -1), cy, cx)
    got = decode_torch(torch.from_numpy(d))[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    b = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    assert float(giou(b, b)) == pytest.approx(1.0)
    far = torch.tensor([[10.0, 10.0, 14.0, 14.0]])
    assert float(giou(b, far)) < 0


def test_losses_fall_when_fitting_one_batch():
    torch = _torch()
    from vidtrace.models.spd import SPDNet, SPDNetConfig, spd_loss
    from vidtrace.train.spd import assign_targets

    torch.manual_seed(0)
    net = SPDNet(SPDNetConfig(widths=(8, 8, 8, 8)))
    x = np.zeros((2, 2, 32, 32), np.float32)
    x[:, 1] = 1
    for i in range(16):
        x[0, 0, 4 + i, 8 + i] = 0.9
    boxes = np.array([[4.0, 8.0, 20.0, 24.0]])
    targets = [assign_targets(boxes, np.array([1], np.int8), 32, 4),
               assign_targets(np.zeros((0, 4)), np.zeros(0, np.int8), 32, 4)]
    cls, w, bx = (torch.from_numpy(np.stack(t)) for t in zip(*targets))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    losses = []
    for _ in range(30):
        loss, _ = spd_loss(*net(torch.from_numpy(x)), cls, w, bx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def _iou(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    return inter / (max(a1, b1) - min(a0, b0))


needs_spd = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped SPD model")


@needs_spd
def test_spd_aligner_runs_without_torch():
    """get_aligner("spd") and alignment with torch made unimportable."""
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None
        import numpy as np
        import vidtrace.align.spd
        from vidtrace.align import get_aligner
        from vidtrace.types import SimilarityMap
        qt, rt = np.arange(160) / 8.0, np.arange(24) / 2.0
        qi = np.arange(16, 96)
        ri = np.round((qt[qi] - 2.0 + 1.0) * 2.0).astype(np.int64)
        smap = SimilarityMap(qt, rt, qi, ri, np.full(qi.size, 0.9, np.float32))
        segs = get_aligner("spd").align(smap)
        assert "torch" not in sys.modules or sys.modules["torch"] is None
        s = segs[0]
        print(len(segs), round(s.query_start, 2), round(s.query_end, 2), round(s.reference_start, 2),
              round(s.reference_end, 2), s.reversed)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n, q0, q1, r0, r1, rev = out.stdout.split()
    assert int(n) >= 1 and rev == "False"
    assert _iou(float(q0), float(q1), 2.0, 12.0) > 0.7 and _iou(float(r0), float(r1), 1.0, 11.0) > 0.7


@needs_spd
def test_shipped_spd_finds_reversed_copy_and_stays_quiet_on_noise():
    from vidtrace.align import get_aligner
    from tests.ssan.helpers import line_entries
    from vidtrace.types import SimilarityMap

    al = get_aligner("spd")
    qt, rt = np.arange(200) / 8.0, np.arange(40) / 2.0
    qi, ri, sim = line_entries(qt, rt, 5.0, 15.0, 4.0, reversed_=True)
    segs = al.align(SimilarityMap(qt, rt, qi, ri, sim))
    assert segs and segs[0].reversed
    assert _iou(segs[0].query_start, segs[0].query_end, 5.0, 15.0) > 0.7
    assert _iou(segs[0].reference_start, segs[0].reference_end, 4.0, 14.0) > 0.7
    rng = np.random.default_rng(0)
    qi, ri = rng.integers(0, 200, 60), rng.integers(0, 40, 60)
    key = np.unique(qi * 40 + ri)
    noise = SimilarityMap(qt, rt, key // 40, key % 40, rng.uniform(0.41, 0.6, key.size).astype(np.float32))
    assert max((s.score for s in al.align(noise)), default=0.0) < segs[0].score
    assert al.align(SimilarityMap(qt, rt, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))) == []


@pytest.mark.skipif(not SKE_MODEL.is_file(), reason="no shipped SKE model")
def test_ske_selector_runs_without_torch():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None
        import numpy as np
        from vidtrace.keyframes import get_selector
        sel = get_selector("ske")
        s = sel.scores(np.zeros((300, sel.thumb_size, sel.thumb_size), np.uint8))
        print(s.shape[0])
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "300"
