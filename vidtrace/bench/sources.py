"""Source footage for benchmarks and training: families of related files and a fixed split.

A *family* is a set of files that share footage (a file and its derivatives,
or files listed as copies of each other). Benchmarks and training sets take
whole families so that no footage leaks between them. The split of the shared
corpus is fixed by name (TRAIN_ROOTS); families whose root is not named there
belong to the evaluation side, except EXCLUDED ones (synthetic or nearly
black footage).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTS = frozenset({".mp4", ".webm", ".mkv", ".avi", ".gif"})

# Families used to train learned models (SPD, SKE, the comparator). Everything
# else is evaluation footage. Chosen to give both sides hand-held, webcam,
# film and animation footage: half of the ASL clips, three of the six MDN toy
# clips, and single clips of other kinds.
TRAIN_ROOTS = frozenset({
    "again.mkv", "book.mkv", "eat.mkv", "hungry.mkv", "milk.mkv", "no.mkv", "school.mkv", "sorry.mkv",
    "thanks.mkv", "want.mkv", "crystal.mp4", "frog.mp4", "pig.mp4", "friday.mp4", "carphone_pristine.mp4",
    "doorknob-hd-no-bar.mp4", "video-15s.avi", "fire2.mp4", "pigs_in_a_polka.gif", "example3.mp4", "realshort.mp4",
})
EXCLUDED_ROOTS = frozenset({"test-padded-dimensions.mp4", "no_duration.webm"})


@dataclass(frozen=True)
class Family:
    """root: the original file (the one others derive from); members: every
    file of the family, root first, all names relative to the video folder."""

    root: str
    members: tuple[str, ...]

    @property
    def split(self) -> str:
        if self.root in EXCLUDED_ROOTS:
            return "excluded"
        return "train" if self.root in TRAIN_ROOTS else "eval"


def source_families(video_dir: str | Path) -> list[Family]:
    """Group the videos of `video_dir` into families.

    Links come from manifest.csv's `derived_from` column and from
    ground_truth.csv's (query, reference) rows, when those files exist; a file
    with no link is a family of its own. The root is the member with no
    `derived_from`, preferring one that other members derive from, then the
    longest (manifest duration).
    """
    video_dir = Path(video_dir)
    files = sorted(p.name for p in video_dir.iterdir() if p.suffix.lower() in VIDEO_EXTS)
    parent = {f: f for f in files}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        if a in parent and b in parent:
            parent[find(a)] = find(b)

    derived: dict[str, str] = {}
    duration: dict[str, float] = {}
    manifest = video_dir / "manifest.csv"
    if manifest.exists():
        for row in csv.DictReader(open(manifest, newline="")):
            duration[row["file"]] = float(row.get("duration_s") or 0.0)
            if row.get("derived_from"):
                derived[row["file"]] = row["derived_from"]
                union(row["file"], row["derived_from"])
    truth = video_dir / "ground_truth.csv"
    if truth.exists():
        for row in csv.DictReader(open(truth, newline="")):
            union(row["query"], row["reference"])
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(find(f), []).append(f)
    families = []
    for members in groups.values():
        parents = {derived[m] for m in members if m in derived}
        roots = [m for m in members if m not in derived] or members
        root = sorted(roots, key=lambda m: (m not in parents, -duration.get(m, 0.0), m))[0]
        families.append(Family(root, tuple([root] + sorted(m for m in members if m != root))))
    return sorted(families, key=lambda f: f.root)


def split_families(video_dir: str | Path, split: str) -> list[Family]:
    """The families of one split: "train", "eval" or "excluded"."""
    if split not in ("train", "eval", "excluded"):
        raise ValueError(f"split must be train, eval or excluded, got {split!r}")
    return [f for f in source_families(video_dir) if f.split == split]
