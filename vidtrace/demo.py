"""The offline demo: generate footage, plant transformed copies, index, query, compare with the truth.

Everything is made in code (procedurally rendered scenes), so the demo needs
no download and no shared data. Run it with ``vidtrace demo`` or ``make demo``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidtrace.types import Clip

FPS = 25.0
SIZE = (320, 240)


@dataclass(frozen=True)
class PlantedCopy:
    """Truth for one demo query: the query interval [query_start, query_end)
    shows reference interval [reference_start, reference_end), in seconds."""

    query: str
    reference: str | None
    query_start: float = 0.0
    query_end: float = 0.0
    reference_start: float = 0.0
    reference_end: float = 0.0
    reversed: bool = False
    flipped: bool = False
    what: str = ""


def _excerpt(clip: Clip, start: float, end: float) -> Clip:
    keep = (clip.timestamps >= start - 1e-9) & (clip.timestamps < end - 1e-9)
    return Clip(clip.frames[keep], clip.timestamps[keep])


def _splice(parts: list[Clip]) -> tuple[Clip, list[float]]:
    """Concatenate clips on one regular FPS timeline; returns the clip and each part's start (s)."""
    frames = np.concatenate([p.frames for p in parts])
    starts, n = [], 0
    for p in parts:
        starts.append(n / FPS)
        n += len(p)
    return Clip(frames, np.arange(len(frames)) / FPS), starts


def build_corpus(out: Path, seed: int) -> tuple[list[Path], list[Path], list[PlantedCopy]]:
    """Write reference and query videos under `out`; return their paths and the truth."""
    from vidtrace import transforms as vt
    from vidtrace.synth import render_scene, render_video
    from vidtrace.videoio import write_video

    w, h = SIZE
    ref_dir, q_dir = out / "references", out / "queries"
    ref_dir.mkdir(parents=True, exist_ok=True)
    q_dir.mkdir(parents=True, exist_ok=True)
    refs, ref_paths = [], []
    for i in range(6):
        clip = render_video(seed * 1000 + i, duration_s=10.0, fps=FPS, width=w, height=h, shots=3)
        p = ref_dir / f"ref{i}.mp4"
        write_video(p, clip, fps=FPS)
        refs.append(clip)
        ref_paths.append(p)

    def filler(k: int, seconds: float) -> Clip:
        return render_scene(seed * 1000 + 500 + k, duration_s=seconds, fps=FPS, width=w, height=h)

    plans = [
        ("q_greyscale_caption", 0, (2.0, 8.0), vt.Compose((vt.Greyscale(), vt.TextOverlay(text="BREAKING NEWS",
                                                                                         height=0.08, y=0.85))),
         "greyscale + caption"),
        ("q_mirrored", 1, (4.0, 10.0), vt.HorizontalFlip(), "horizontal flip"),
        ("q_speed_1_5x", 2, (1.0, 10.0), vt.Speed(factor=1.5), "speed x1.5"),
        ("q_reversed", 3, (3.0, 8.0), vt.Reverse(), "played backwards"),
        ("q_letterbox_logo", 4, (0.0, 6.0), vt.Compose((vt.Borders(kind="letterbox", fraction=0.25),
                                                          vt.EmojiOverlay(shape="smiley", size=0.15, x=0.9, y=0.1))),
         "letterbox + logo"),
    ]
    truth: list[PlantedCopy] = []
    q_paths = []
    rng = np.random.default_rng(seed)
    for k, (name, ref_i, (s, e), transform, what) in enumerate(plans):
        piece, record = transform(_excerpt(refs[ref_i], s, e), rng)
        lead, tail = filler(2 * k, 3.0), filler(2 * k + 1, 2.0)
        clip, starts = _splice([lead, piece, tail])
        p = q_dir / f"{name}.mp4"
        write_video(p, clip, fps=FPS)
        q_paths.append(p)
        for seg in record.segments():
            truth.append(PlantedCopy(name, ref_paths[ref_i].name, starts[1] + seg.output_start - piece.timestamps[0],
                                     starts[1] + seg.output_end - piece.timestamps[0], seg.source_start,
                                     seg.source_end, seg.reversed, name == "q_mirrored", what))
    negative = filler(99, 8.0)
    p = q_dir / "q_unrelated.mp4"
    write_video(p, negative, fps=FPS)
    q_paths.append(p)
    truth.append(PlantedCopy("q_unrelated", None, what="no copied footage"))
    return ref_paths, q_paths, truth


def _iou(a0, a1, b0, b1) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0)
    return inter / union if union > 0 else 0.0


def run_demo(out: Path, seed: int = 7, quiet: bool = False) -> int:
    """Build the corpus in `out`, index it, query it, print found vs true; 0 when all copies are found."""
    from vidtrace.library import Library
    from vidtrace.search import search_file

    say = (lambda *a: None) if quiet else print
    if out.exists():
        shutil.rmtree(out / "library", ignore_errors=True)
    t0 = time.perf_counter()
    refs, queries, truth = build_corpus(out, seed)
    say(f"generated {len(refs)} reference videos and {len(queries)} queries in {time.perf_counter() - t0:.1f} s "
        f"under {out}")
    t0 = time.perf_counter()
    with Library.open(out / "library", writable=True, create=True) as lib:
        results = lib.index_files([str(p) for p in refs])
    failed = [r for r in results if r.status == "failed"]
    say(f"indexed {len(results) - len(failed)} videos in {time.perf_counter() - t0:.1f} s")
    lib = Library.open(out / "library")
    answers = {}
    try:
        for q in queries:
            answers[q.stem] = search_file(lib, str(q))
    finally:
        lib.close()
    ok = not failed
    say("")
    say(f"{'query':22s} {'planted copy':28s} {'true q / ref (s)':28s} {'found q / ref (s)':28s} {'score':>5s}  ok")
    for t in truth:
        res = answers[t.query]
        if t.reference is None:
            good = not res.matches
            found = ", ".join(Path(m.reference).name for m in res.matches) or "nothing"
            say(f"{t.query:22s} {t.what:28s} {'-':28s} {found:28s} {'':5s}  {'yes' if good else 'NO'}")
            ok &= good
            continue
        best, best_iou = None, -1.0
        for m in res.matches:
            if Path(m.reference).name != t.reference:
                continue
            for s in m.segments:
                iou = min(_iou(s.query_start, s.query_end, t.query_start, t.query_end),
                          _iou(s.reference_start, s.reference_end, t.reference_start, t.reference_end))
                if iou > best_iou:
                    best, best_iou = s, iou
        good = best is not None and best_iou >= 0.5 and best.reversed == t.reversed and best.flipped == t.flipped
        ok &= good
        true_txt = f"{t.query_start:5.2f}-{t.query_end:5.2f} / {t.reference_start:5.2f}-{t.reference_end:5.2f}"
        found_txt = (f"{best.query_start:5.2f}-{best.query_end:5.2f} / {best.reference_start:5.2f}-"
                     f"{best.reference_end:5.2f}") if best else "not found"
        flags = (" rev" if best and best.reversed else "") + (" flip" if best and best.flipped else "")
        say(f"{t.query:22s} {(t.what + ' of ' + t.reference)[:28]:28s} {true_txt:28s} {found_txt + flags:28s} "
            f"{best.score if best else 0:5.2f}  {'yes' if good else 'NO'}")
    (out / "answers.json").write_text(json.dumps({k: v.to_json() for k, v in answers.items()}, indent=2))
    say(f"\nfull answers (JSON): {out / 'answers.json'}")
    say("all planted copies found, nothing false reported" if ok else "SOME PLANTED COPIES WERE MISSED")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo(Path("demo-out")))
