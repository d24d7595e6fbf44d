"""Throughput of every registered transform on synthetic frames.

Prints one row per transform: input frames processed per second and
milliseconds per frame (best of --repeat runs, each with a fixed seed), with
default parameters unless listed in PARAMS below.

    .venv/bin/python benchmarks/bench_transforms.py              # 64 frames of 640x360
    .venv/bin/python benchmarks/bench_transforms.py --height 720 --width 1280 --only blur rotate
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import vidtrace.transforms as vt
from vidtrace.transforms import _image
from vidtrace.types import Clip

# parameters for the benchmark where the defaults would not be representative
PARAMS: dict[str, dict] = {
    "compose": {"transforms": (vt.ResizedCrop(), vt.Brightness(), vt.Speed())},
    "random_choice": {"transforms": (vt.Hue(), vt.Saturation())},
    "random_apply": {"transform": vt.Noise(), "p": 1.0},
}


def synthetic_clip(frames: int, height: int, width: int, fps: float = 30.0) -> Clip:
    """A moving gradient with a few overlaid shapes, so codecs and blurs see
    structure rather than flat colour or pure noise."""
    rng = np.random.default_rng(0)
    base = _image.synthetic_frames("gradient", frames, height, width, rng)
    texture = _image.synthetic_frames("noise", frames, height, width, rng)
    mixed = ((base.astype(np.uint16) * 3 + texture) // 4).astype(np.uint8)
    decorated, _ = vt.EmojiOverlay(count=4, size=(0.1, 0.3), opacity=1.0)(Clip(mixed, np.arange(frames) / fps), 1)
    return decorated


def bench(transform: vt.Transform, clip: Clip, repeat: int) -> tuple[float, tuple[int, ...]]:
    """Best wall time (seconds) over `repeat` calls, and the output shape."""
    best = float("inf")
    shape: tuple[int, ...] = ()
    for r in range(repeat):
        start = time.perf_counter()
        out, _ = transform(clip, rng=r)
        best = min(best, time.perf_counter() - start)
        shape = out.frames.shape
    return best, shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64, help="input frames per call (default 64)")
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--repeat", type=int, default=3, help="calls per transform; the best is kept")
    parser.add_argument("--only", nargs="*", help="registry names to run (default: all, plus s2vs_strong)")
    args = parser.parse_args()

    clip = synthetic_clip(args.frames, args.height, args.width)
    cases: list[tuple[str, str, vt.Transform]] = [
        (name, vt.REGISTRY[name].family, vt.create(name, **PARAMS.get(name, {}))) for name in vt.names()]
    cases.append(("s2vs_strong", "pipeline", vt.s2vs_augmentation("strong", frames=args.frames)))
    cases.append(("s2vs_weak", "pipeline", vt.s2vs_augmentation("weak", frames=args.frames)))
    if args.only:
        cases = [c for c in cases if c[0] in args.only]

    print(f"input: {args.frames} frames of {args.width}x{args.height} RGB, best of {args.repeat}")
    print(f"{'transform':<16} {'family':<12} {'frames/s':>10} {'ms/frame':>9}  output TxWxH")
    for name, family, transform in sorted(cases, key=lambda c: (c[1], c[0])):
        seconds, shape = bench(transform, clip, args.repeat)
        fps = args.frames / seconds
        print(f"{name:<16} {family:<12} {fps:>10.0f} {1000 / fps:>9.2f}  {shape[0]}x{shape[2]}x{shape[1]}")


if __name__ == "__main__":
    main()
