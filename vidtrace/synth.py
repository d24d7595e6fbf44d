"""Procedurally rendered footage for the demo, the tests and the benchmarks.

A *scene* is one continuous shot: a textured background (40 coloured plane
waves with a 1/f-like spectrum, from blotches a frame wide to fine ripples)
seen through a camera that slowly pans along a curved path while rotating and
zooming, with 4-7 textured sprites (ellipses, boxes, triangles, stars, rings,
crosses; stripes, checks, rings, dots, gradients) that drift, bounce off the
frame edges, spin and pulse in size on top of it. Motion is slow, like real
footage, because PDQ-style hashes are very shift sensitive (a 4-pixel shift
of a whole frame changes ~40 of 256 bits).
Everything is a deterministic function of the seed and the time, so:

- the same seed always gives the same frames (on one platform, bit for bit);
- different seeds give visually unrelated scenes (their PDQ hashes are about
  as far apart as random images: Hamming distance ~100-150 of 256);
- consecutive frames (25 fps) are similar but never identical (PDQ distance
  ~3, at most ~10), 0.2 s apart ~14, 1 s apart ~60, and frames two seconds
  apart differ clearly (~95, minimum seen 66);
- the scene is resolution independent: all geometry is in units of the frame
  height, so one seed rendered at 320x240 and at 640x480 shows the same
  picture (at 4:3; other aspect ratios show a wider or narrower view).

A *video* is a sequence of shots, each a different scene, cut together
(`render_video`). Times are seconds throughout; frames are uint8 RGB
[H, W, 3] (one frame) or [T, H, W, 3] (a clip).

Rendering is vectorised numpy: 10 s of 320x240 at 25 fps takes about a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from vidtrace.types import Clip

__all__ = [
    "Scene",
    "iter_video_frames",
    "plan_shots",
    "render_scene",
    "render_video",
    "shot_seed",
]

_TAU = 2.0 * np.pi
_SHAPES = ("ellipse", "box", "triangle", "star", "ring", "cross")
_TEXTURES = ("stripes", "checker", "radial", "linear", "rings", "dots")
_N_WAVES = 40  # plane waves in a background


def _random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """float32 [n, 3] saturated RGB colours in [0, 1] (random hue, value)."""
    hue = rng.uniform(0.0, 1.0, n)
    sat = rng.uniform(0.45, 1.0, n)
    val = rng.uniform(0.35, 1.0, n)
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hue[:, None] * 6.0) % 6.0
    rgb = val[:, None] * (1.0 - sat[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return rgb.astype(np.float32)


@dataclass(frozen=True)
class _Sprite:
    """One moving object; lengths in frame heights, angles in radians, times in seconds."""

    shape: str
    texture: str
    colours: np.ndarray  # float32 [2, 3]
    outline: bool
    aspect: float  # minor / major axis, (0, 1]
    radius: float  # frame heights
    pos0: np.ndarray  # [2] (x, y) in frame heights
    vel: np.ndarray  # [2] frame heights per second
    wobble: np.ndarray  # [2] amplitude (frame heights)
    wobble_freq: np.ndarray  # [2] radians per second
    wobble_phase: np.ndarray  # [2]
    angle0: float
    spin: float  # radians per second
    pulse: float  # relative size change amplitude
    pulse_freq: float  # radians per second
    pulse_phase: float
    tex_freq: float  # texture repeats across the sprite
    points: int  # star points

    @classmethod
    def random(cls, rng: np.random.Generator) -> "_Sprite":
        radius = float(rng.uniform(0.07, 0.2))
        speed = rng.uniform(0.002, 0.004) / radius  # small sprites move faster
        heading = rng.uniform(0.0, _TAU)
        return cls(
            shape=str(rng.choice(_SHAPES)),
            texture=str(rng.choice(_TEXTURES)),
            colours=_random_colours(rng, 2),
            outline=bool(rng.random() < 0.6),
            aspect=float(rng.uniform(0.45, 1.0)),
            radius=radius,
            pos0=rng.uniform(0.0, 1.0, 2),
            vel=speed * np.array([np.cos(heading), np.sin(heading)]),
            wobble=rng.uniform(0.0, 0.06, 2),
            wobble_freq=rng.uniform(0.1, 0.36, 2),
            wobble_phase=rng.uniform(0.0, _TAU, 2),
            angle0=float(rng.uniform(0.0, _TAU)),
            spin=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.075, 0.4)),
            pulse=float(rng.uniform(0.0, 0.3)),
            pulse_freq=float(rng.uniform(0.06, 0.24)),
            pulse_phase=float(rng.uniform(0.0, _TAU)),
            tex_freq=float(rng.uniform(1.5, 4.0)),
            points=int(rng.integers(4, 8)),
        )

    def pose(self, t: float, aspect_ratio: float) -> tuple[float, float, float, float]:
        """(x, y, angle, radius) at time t; x in [0, aspect_ratio], y in [0, 1]
        frame heights. The centre bounces between the frame edges."""
        raw = self.pos0 * np.array([aspect_ratio, 1.0]) + self.vel * t
        raw = raw + self.wobble * np.sin(self.wobble_freq * t + self.wobble_phase)
        span = np.array([aspect_ratio, 1.0])
        folded = np.abs((raw / span) % 2.0 - 1.0)  # triangle wave in [0, 1]
        x, y = (1.0 - folded) * span
        radius = self.radius * (1.0 + self.pulse * np.sin(self.pulse_freq * t + self.pulse_phase))
        return float(x), float(y), self.angle0 + self.spin * t, float(radius)

    def signed_distance(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Approximate signed distance to the outline in sprite units (radius
        1), positive inside; u, v float32 [h, w] local coordinates."""
        a = self.aspect
        if self.shape == "ellipse":
            return 1.0 - np.sqrt(u * u + (v / a) ** 2)
        if self.shape == "box":
            return np.minimum(1.0 - np.abs(u), a - np.abs(v))
        if self.shape == "triangle":
            d = v.copy()
            for ang in (7.0 * np.pi / 6.0, 11.0 * np.pi / 6.0):
                np.maximum(d, np.cos(ang) * u + np.sin(ang) * v, out=d)
            return 0.55 - d
        r = np.sqrt(u * u + v * v)
        if self.shape == "star":
            return 0.7 + 0.3 * np.cos(self.points * np.arctan2(v, u)) - r
        if self.shape == "ring":
            return 0.22 * (1.0 + a) - np.abs(r - 0.7)
        # cross
        bar = 0.35 * a
        return np.maximum(np.minimum(1.0 - np.abs(u), bar - np.abs(v)), np.minimum(bar - np.abs(u), 1.0 - np.abs(v)))

    def pattern(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Texture value in [0, 1] at local coordinates u, v (float32 [h, w])."""
        f = self.tex_freq
        if self.texture == "stripes":
            return 0.5 + 0.5 * np.sin(_TAU * f * u)
        if self.texture == "checker":
            return ((np.floor(f * u) + np.floor(f * v)) % 2.0).astype(np.float32)
        if self.texture == "radial":
            return np.clip(np.sqrt(u * u + v * v), 0.0, 1.0)
        if self.texture == "linear":
            return np.clip(0.5 + 0.5 * (u + 0.5 * v), 0.0, 1.0)
        if self.texture == "rings":
            return 0.5 + 0.5 * np.cos(_TAU * f * np.sqrt(u * u + v * v))
        return (np.sin(_TAU * f * u) * np.sin(_TAU * f * v) > 0.25).astype(np.float32)


class Scene:
    """One deterministic shot, a pure function of (seed, time).

    seed: int, or a sequence of ints (as for numpy's default_rng). Use
    `frame(t, width, height)` for one uint8 [H, W, 3] RGB frame at time t
    (seconds; any real t, negative included).
    """

    def __init__(self, seed: int | Sequence[int]):
        rng = np.random.default_rng(seed)
        # Background: _N_WAVES world-space plane waves with a 1/f amplitude
        # spectrum (like natural images), frequencies in cycles per world unit.
        freqs = np.exp(rng.uniform(np.log(0.3), np.log(20.0), _N_WAVES))
        dirs = rng.uniform(0.0, _TAU, _N_WAVES)
        self._k = _TAU * freqs[:, None] * np.stack([np.cos(dirs), np.sin(dirs)], axis=1)  # radians per unit
        self._phase = rng.uniform(0.0, _TAU, _N_WAVES)
        # Colour of each wave: a luminance part and a chroma part, scaled by 1/f.
        amp = 0.5 * rng.uniform(0.5, 1.0, _N_WAVES) * freqs ** -0.75
        lum = rng.choice([-1.0, 1.0], (_N_WAVES, 1)) * np.ones((1, 3))
        chroma = rng.normal(0.0, 0.8, (_N_WAVES, 3))
        self._mix = (amp[:, None] * (lum + chroma)).astype(np.float32)  # [K, 3]
        self._base = (_random_colours(rng, 1)[0] - 0.5).astype(np.float32)  # offset before the soft clip
        self._contrast = float(rng.uniform(0.6, 1.2))
        # Camera: centre c(t) = c0 + v t + A sin(w t + p); rotation; zoom.
        speed = rng.uniform(0.006, 0.018)  # world units (about frame heights) per second
        heading = rng.uniform(0.0, _TAU)
        self._cam_c0 = rng.uniform(-50.0, 50.0, 2)
        self._cam_v = speed * np.array([np.cos(heading), np.sin(heading)])
        self._cam_amp = rng.uniform(0.005, 0.02, 2)
        self._cam_freq = rng.uniform(0.2, 0.6, 2)
        self._cam_phase = rng.uniform(0.0, _TAU, 2)
        self._cam_angle0 = rng.uniform(-0.4, 0.4)
        self._cam_spin = rng.choice([-1.0, 1.0]) * rng.uniform(0.01, 0.04)  # radians per second
        self._cam_zoom_amp = rng.uniform(0.05, 0.2)
        self._cam_zoom_freq = rng.uniform(0.1, 0.4)  # radians per second
        self._cam_zoom_phase = rng.uniform(0.0, _TAU)
        self._sprites = tuple(_Sprite.random(rng) for _ in range(int(rng.integers(4, 8))))

    def _camera(self, t: float) -> tuple[np.ndarray, float, float]:
        """(centre [2] in world units, rotation in radians, zoom: world units per frame height) at t."""
        centre = self._cam_c0 + self._cam_v * t + self._cam_amp * np.sin(self._cam_freq * t + self._cam_phase)
        angle = self._cam_angle0 + self._cam_spin * t
        zoom = np.exp(self._cam_zoom_amp * np.sin(self._cam_zoom_freq * t + self._cam_zoom_phase))
        return centre, float(angle), float(zoom)

    def _background(self, t: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """float32 [H, W, 3] background at t; xs [W], ys [H] pixel centres in
        frame heights relative to the frame centre."""
        centre, angle, zoom = self._camera(t)
        ca, sa = np.cos(angle), np.sin(angle)
        # world = zoom * R(angle) @ (x, y) + centre, so each wave's phase
        # k.world + p = row[y] + col[x], and sin(row + col) = sin(row) cos(col)
        # + cos(row) sin(col): the whole background is one matrix product
        # [H, 2K] @ [2K, W * 3].
        kx, ky = self._k[:, 0], self._k[:, 1]
        qx = zoom * (kx * ca + ky * sa)
        qy = zoom * (-kx * sa + ky * ca)
        row = ys[:, None] * qy[None, :] + (kx * centre[0] + ky * centre[1] + self._phase)[None, :]  # [H, K]
        col = xs[:, None] * qx[None, :]  # [W, K]
        left = np.concatenate([np.sin(row), np.cos(row)], axis=1).astype(np.float32)  # [H, 2K]
        basis = np.concatenate([np.cos(col), np.sin(col)], axis=1).T.astype(np.float32)  # [2K, W]
        right = basis[:, :, None] * np.concatenate([self._mix, self._mix])[:, None, :]  # [2K, W, 3]
        rgb = (left @ right.reshape(left.shape[1], -1)).reshape(ys.size, xs.size, 3)
        rgb += self._base
        rgb *= self._contrast
        # soft clip to (0, 1): 0.5 + 0.5 x / (1 + |x|)
        rgb *= np.float32(0.5) / (np.abs(rgb) + np.float32(1.0))
        rgb += np.float32(0.5)
        return rgb

    def frame(self, t: float, width: int = 320, height: int = 240) -> np.ndarray:
        """uint8 [height, width, 3] RGB frame at time t (seconds)."""
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        aspect = width / height
        xs = ((np.arange(width) + 0.5) / height - 0.5 * aspect).astype(np.float64)
        ys = ((np.arange(height) + 0.5) / height - 0.5).astype(np.float64)
        img = self._background(t, xs, ys)
        for sprite in self._sprites:
            self._draw(img, sprite, t, height, aspect)
        np.clip(img, 0.0, 1.0, out=img)
        img *= np.float32(255.0)
        img += np.float32(0.5)
        return img.astype(np.uint8)

    @staticmethod
    def _draw(img: np.ndarray, sprite: _Sprite, t: float, height: int, aspect: float) -> None:
        """Alpha-composite one sprite onto img (float32 [H, W, 3]) in place."""
        x, y, angle, radius = sprite.pose(t, aspect)
        h, w = img.shape[:2]
        reach = 1.05 * radius * height * np.sqrt(2.0)  # pixels, covers every shape
        x0, x1 = max(int(x * height - reach), 0), min(int(x * height + reach) + 1, w)
        y0, y1 = max(int(y * height - reach), 0), min(int(y * height + reach) + 1, h)
        if x0 >= x1 or y0 >= y1:
            return
        dx = ((np.arange(x0, x1) + 0.5) / height - x).astype(np.float32)[None, :]
        dy = ((np.arange(y0, y1) + 0.5) / height - y).astype(np.float32)[:, None]
        ca, sa = np.float32(np.cos(angle) / radius), np.float32(np.sin(angle) / radius)
        u = ca * dx + sa * dy
        v = ca * dy - sa * dx
        px = radius * height  # pixels per sprite unit
        dist = sprite.signed_distance(u, v) * px  # pixels, positive inside
        alpha = np.clip(dist + 0.5, 0.0, 1.0)[:, :, None]
        tex = sprite.pattern(u, v)[:, :, None]
        c0, c1 = sprite.colours
        colour = c0 + (c1 - c0) * tex
        colour = colour * (0.85 - 0.15 * np.clip(v, -1.0, 1.0))[:, :, None]  # light from the top
        if sprite.outline:
            edge = np.clip(1.0 - np.abs(dist - 1.5) / 1.5, 0.0, 1.0)[:, :, None]
            colour = colour * (1.0 - 0.8 * edge)
        patch = img[y0:y1, x0:x1]
        patch += alpha * (colour - patch)


def _frame_times(duration_s: float, fps: float, start_s: float = 0.0) -> np.ndarray:
    """float64 [T] timestamps start_s + i / fps covering duration_s seconds."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if duration_s < 0:
        raise ValueError(f"duration_s must be >= 0, got {duration_s}")
    n = int(round(duration_s * fps))
    return start_s + np.arange(n, dtype=np.float64) / fps


def render_scene(seed: int | Sequence[int], duration_s: float = 4.0, fps: float = 25.0, width: int = 320,
                 height: int = 240, *, start_s: float = 0.0) -> Clip:
    """One continuous shot as a Clip.

    Returns round(duration_s * fps) frames, uint8 [T, height, width, 3], at
    timestamps start_s + i / fps seconds (frame i shows the scene at that
    time, so a long scene can be rendered in consecutive chunks).
    """
    times = _frame_times(duration_s, fps, start_s)
    scene = Scene(seed)
    frames = np.empty((times.size, height, width, 3), dtype=np.uint8)
    for i, t in enumerate(times):
        frames[i] = scene.frame(float(t), width, height)
    return Clip(frames=frames, timestamps=times)


def shot_seed(seed: int, index: int) -> tuple[int, int, int]:
    """The scene seed of shot `index` of video `seed` (unrelated to Scene(seed))."""
    return (int(seed), 0x5C07, int(index))


def plan_shots(seed: int, duration_s: float, shots: int | Sequence[float] = 1) -> np.ndarray:
    """float64 [S + 1] shot boundaries in seconds: 0, cut_1, ..., duration.

    shots: the number of shots, whose lengths are then drawn from the seed
    (each at least a third of the mean length), or the sequence of shot lengths
    in seconds (they must sum to duration_s, within 1e-6 s).
    """
    if isinstance(shots, (int, np.integer)):
        if shots < 1:
            raise ValueError(f"shots must be >= 1, got {shots}")
        rng = np.random.default_rng((int(seed), 0x5C07))
        weights = rng.uniform(0.5, 1.5, int(shots))
        lengths = weights / weights.sum() * duration_s
    else:
        lengths = np.asarray(shots, dtype=np.float64)
        if lengths.ndim != 1 or lengths.size == 0 or np.any(lengths <= 0):
            raise ValueError("shot lengths must be a non-empty sequence of positive seconds")
        if abs(lengths.sum() - duration_s) > 1e-6:
            raise ValueError(f"shot lengths sum to {lengths.sum():.6f} s, not duration_s={duration_s}")
    bounds = np.concatenate([[0.0], np.cumsum(lengths)])
    bounds[-1] = duration_s
    return bounds


def iter_video_frames(seed: int, duration_s: float = 10.0, fps: float = 25.0, width: int = 320, height: int = 240,
                      shots: int | Sequence[float] = 3) -> Iterator[np.ndarray]:
    """Yield the frames of `render_video` one by one (uint8 [height, width, 3]),
    so long videos can be written without holding them in memory."""
    bounds = plan_shots(seed, duration_s, shots)
    scenes = [Scene(shot_seed(seed, i)) for i in range(bounds.size - 1)]
    for t in _frame_times(duration_s, fps):
        k = int(np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, len(scenes) - 1))
        yield scenes[k].frame(float(t - bounds[k]), width, height)


def render_video(seed: int, duration_s: float = 10.0, fps: float = 25.0, width: int = 320, height: int = 240,
                 shots: int | Sequence[float] = 3) -> Clip:
    """A video made of several shots (hard cuts between unrelated scenes).

    Frame i is at i / fps seconds; it shows shot k (scene `shot_seed(seed, k)`
    at local time t - bounds[k]) where bounds = plan_shots(seed, duration_s,
    shots) and bounds[k] <= t < bounds[k + 1]. Returns a Clip of
    round(duration_s * fps) frames, uint8 [T, height, width, 3].
    """
    times = _frame_times(duration_s, fps)
    frames = np.empty((times.size, height, width, 3), dtype=np.uint8)
    for i, img in enumerate(iter_video_frames(seed, duration_s, fps, width, height, shots)):
        frames[i] = img
    return Clip(frames=frames, timestamps=times)
