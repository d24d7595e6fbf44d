"""Write a corpus of procedurally rendered videos (vidtrace.synth), e.g. as extra training footage.

    .venv/bin/python benchmarks/synth_corpus.py --out bench-out/synth-footage --videos 40 --seed 5

Each video has its own seed (seed * 1000 + i), 12-30 s, 1-5 shots, at one of
three sizes and frame rates; H.264 via vidtrace.videoio. The folder can then
feed ``vidtrace bench make --from DIR --split eval`` (none of its files is a
train root of the shared corpus, so all of them count as one split).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SIZES = ((320, 240), (384, 216), (256, 256))
RATES = (24.0, 25.0, 30.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    from vidtrace.synth import iter_video_frames
    from vidtrace.videoio import write_video

    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(args.videos):
        seed = args.seed * 1000 + i
        rng = np.random.default_rng(seed)
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        fps = RATES[int(rng.integers(len(RATES)))]
        dur = float(rng.uniform(12.0, 30.0))
        shots = int(rng.integers(1, 6))
        path = args.out / f"synth{seed}.mp4"
        if not path.exists():
            write_video(path, iter_video_frames(seed, dur, fps, w, h, shots), fps=fps)
        print(f"{path.name}: {w}x{h} {fps:g} fps {dur:.1f} s {shots} shot(s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
