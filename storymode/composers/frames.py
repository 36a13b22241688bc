"""Video frames for a timeline: sub-pixel Ken Burns motion, crossfades and cards, one frame at a time."""
from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..timeline import Motion, Timeline, with_zoom_margin
from .cards import end_card, title_card

FADE_OUT_S = 0.6
MIN_PICTURE_SIDE = 16
MAX_PICTURE_PIXELS = 80_000_000  # about 240 MB as RGB; a picture's size is checked before it is decoded


def smooth(p: float) -> float:
    """p (clamped to 0..1) eased in and out: the pace of motions, slides and wipes."""
    p = min(1.0, max(0.0, p))
    return p * p * (3 - 2 * p)


def wipe_ramp(e: float, width: int) -> np.ndarray:
    """How much of the coming picture each column shows at wipe progress e (0..1): a soft edge moving right."""
    edge = max(2.0, width * 0.12)
    return np.clip((e * (width + edge) - np.arange(width)) / edge, 0.0, 1.0).astype(np.float32)


def open_picture(path: str | Path) -> Any:
    """A picture as an RGB PIL image; its size is read from the header and checked (MIN_PICTURE_SIDE,
    MAX_PICTURE_PIXELS) before any pixel is decoded. Clear errors for missing, broken or oversized files."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit below is stricter
            with Image.open(path) as img:
                _check_size(path, img.width, img.height)
                img.load()
                return img.convert("RGB")
    except FileNotFoundError:
        raise UsageError(f"picture {path} is missing; run `storymode illustrate` again") from None
    except Image.DecompressionBombError:
        raise UsageError(f"picture {path} is too large to use (more than {MAX_PICTURE_PIXELS:,} pixels)") from None
    except (UnidentifiedImageError, OSError) as err:
        raise UsageError(f"picture {path} cannot be read as an image ({err}); delete it and run again") from None


def _check_size(path: str | Path, width: int, height: int) -> None:
    if width < MIN_PICTURE_SIDE or height < MIN_PICTURE_SIDE:
        raise UsageError(f"picture {path} is only {width}x{height}; it needs to be at least "
                         f"{MIN_PICTURE_SIDE}x{MIN_PICTURE_SIDE}")
    if width * height > MAX_PICTURE_PIXELS:
        raise UsageError(f"picture {path} is {width}x{height}, too large to use (more than "
                         f"{MAX_PICTURE_PIXELS:,} pixels)")


def load_picture(path: str | Path, width: int, height: int) -> np.ndarray:
    """An RGB uint8 array of exactly width x height, cover-fitted; clear errors for missing or broken files."""
    from PIL import Image

    rgb = open_picture(path)
    scale = max(width / rgb.width, height / rgb.height)
    size = (max(width, round(rgb.width * scale)), max(height, round(rgb.height * scale)))
    if size != rgb.size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    left, top = (rgb.width - width) // 2, (rgb.height - height) // 2
    return np.ascontiguousarray(np.asarray(rgb.crop((left, top, left + width, top + height))))


def source_size(width: int, height: int) -> tuple[int, int]:
    """The size pictures are held at for a width x height frame: with room for the zoom, even sides."""
    return with_zoom_margin(width, height, multiple=2)


def warp(cv2: Any, plane: np.ndarray, motion: Motion, p: float, width: int, height: int,
         out_size: tuple[int, int]) -> np.ndarray:
    """One plane of a scene at motion progress p. The plane holds the whole picture (with its zoom margin, or
    at half size for chroma); out_size is the plane's size in the frame. Sub-pixel bilinear, inside the picture."""
    m = _affine(motion, p, width, height)
    sx, sy = plane.shape[1] / width, plane.shape[0] / height  # picture pixels per frame unit
    ox, oy = out_size[0] / width, out_size[1] / height  # output pixels per frame unit
    # frame = ox * (m @ [u/sx, v/sy, 1]) for picture pixel (u, v)
    matrix = np.array([[m[0, 0] * ox / sx, 0.0, m[0, 2] * ox], [0.0, m[1, 1] * oy / sy, m[1, 2] * oy]])
    return cv2.warpAffine(plane, matrix, out_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _affine(motion: Motion, p: float, width: int, height: int) -> np.ndarray:
    e = smooth(p)
    z = motion.zoom_from + (motion.zoom_to - motion.zoom_from) * e
    cx = (motion.center_from[0] + (motion.center_to[0] - motion.center_from[0]) * e) * width
    cy = (motion.center_from[1] + (motion.center_to[1] - motion.center_from[1]) * e) * height
    # keep the view inside the picture whatever the zoom
    half_w, half_h = width / (2 * z), height / (2 * z)
    cx = min(max(cx, half_w), width - half_w)
    cy = min(max(cy, half_h), height - half_h)
    return np.array([[z, 0.0, width / 2 - z * cx], [0.0, z, height / 2 - z * cy]], dtype=np.float64)


Planes = tuple[np.ndarray, ...]


class FrameSource:
    """Computes frame n of a timeline; pictures are loaded lazily and few are held at once.

    Frames come as RGB (``frame``) or straight as I420 planes (``i420``): drawing the planes directly
    warps half the bytes of RGB and skips a colour conversion per frame, which is most of our CPU time."""

    def __init__(self, timeline: Timeline) -> None:
        import cv2

        cv2.setNumThreads(1)  # the encoder needs the other core
        self._cv2 = cv2
        self.tl = timeline
        self.size = (timeline.width, timeline.height)
        self.frame_count = round(timeline.duration * timeline.fps)
        # segments: ("title", start, end), (scene index, start, end)..., ("end", start, end)
        first_scene_start = timeline.scenes[0].start
        last_end = timeline.scenes[-1].end
        self.segments: list[tuple[object, float, float]] = [("title", 0.0, first_scene_start)]
        self.segments += [(s.index, s.start, s.end) for s in timeline.scenes]
        self.segments.append(("end", last_end, timeline.duration))
        self._pictures = functools.lru_cache(maxsize=4)(self._load)

    def _load(self, seg: object, planar: bool) -> Planes:
        if seg == "title":
            rgb = title_card(load_picture(self.tl.scenes[0].image, *self.size), self.tl.title)
        elif seg == "end":
            rgb = end_card(load_picture(self.tl.scenes[-1].image, *self.size), self.tl.credits)
        else:
            assert isinstance(seg, int)
            rgb = load_picture(self.tl.scenes[seg].image, *source_size(*self.size))
        if not planar:
            return (rgb,)
        h, w = rgb.shape[:2]
        flat = self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2YUV_I420).ravel()
        quarter = (w // 2) * (h // 2)
        y = flat[: w * h].reshape(h, w)
        u = flat[w * h: w * h + quarter].reshape(h // 2, w // 2)
        v = flat[w * h + quarter:].reshape(h // 2, w // 2)
        return (np.ascontiguousarray(y), np.ascontiguousarray(u), np.ascontiguousarray(v))

    def _render(self, seg: object, t: float, planar: bool) -> Planes:
        planes = self._pictures(seg, planar)
        if not isinstance(seg, int):
            return planes
        scene = self.tl.scenes[seg]
        half = self.tl.transition_s / 2
        p = (t - (scene.start - half)) / (scene.duration + 2 * half)
        w, h = self.size
        sizes = [(w, h)] if not planar else [(w, h), (w // 2, h // 2), (w // 2, h // 2)]
        return tuple(warp(self._cv2, plane, scene.motion, p, w, h, size) for plane, size in zip(planes, sizes))

    def _compose(self, n: int, planar: bool) -> Planes:
        cv2 = self._cv2
        t = (n + 0.5) / self.tl.fps
        half = self.tl.transition_s / 2
        k = next((i for i, (_, a, b) in enumerate(self.segments) if a <= t < b), len(self.segments) - 1)
        seg, start, end = self.segments[k]
        if k + 1 < len(self.segments) and end - t < half:
            a = (t - (end - half)) / (2 * half)
            planes = self._transition(seg, self.segments[k + 1][0], a, t, planar)
        elif k > 0 and t - start < half:
            a = (t - (start - half)) / (2 * half)
            planes = self._transition(self.segments[k - 1][0], seg, a, t, planar)
        else:
            planes = self._render(seg, t, planar)
        fade = (self.tl.duration - t) / FADE_OUT_S
        if fade < 1:
            fade = max(0.0, fade)
            blacks = (16, 128, 128) if planar else (0,)  # limited-range black, neutral chroma
            planes = tuple(cv2.addWeighted(p, fade, p, 0, b * (1 - fade)) for p, b in zip(planes, blacks))
        return planes

    def _transition(self, leaving: object, coming: object, a: float, t: float, planar: bool) -> Planes:
        """Frame planes part way (a: 0..1) through the transition from one segment to the next."""
        cv2 = self._cv2
        kind = self.tl.scenes[leaving].transition if isinstance(leaving, int) else "crossfade"
        if kind == "cut":
            return self._render(leaving if a < 0.5 else coming, t, planar)
        blacks = (16, 128, 128) if planar else (0,)
        if kind == "dip-to-black":
            seg, level = (leaving, 1 - 2 * a) if a < 0.5 else (coming, 2 * a - 1)
            return tuple(cv2.addWeighted(p, level, p, 0, b * (1 - level))
                         for p, b in zip(self._render(seg, t, planar), blacks))
        old, new = self._render(leaving, t, planar), self._render(coming, t, planar)
        e = smooth(a)
        if kind == "slide":  # the new picture pushes the old one out to the left
            out = []
            for x, y in zip(old, new):
                shift = int(round(e * x.shape[1]))
                out.append(np.ascontiguousarray(np.concatenate([x[:, shift:], y[:, :shift]], axis=1)))
            return tuple(out)
        if kind == "wipe":  # a soft edge sweeps from left to right
            out = []
            for x, y in zip(old, new):
                ramp = wipe_ramp(e, x.shape[1])
                ramp = ramp[None, :, None] if x.ndim == 3 else ramp[None, :]
                out.append((x + (y.astype(np.float32) - x) * ramp).astype(np.uint8))
            return tuple(out)
        return tuple(cv2.addWeighted(x, 1 - a, y, a, 0) for x, y in zip(old, new))

    def frame(self, n: int) -> np.ndarray:
        """The RGB frame at index n."""
        return self._compose(n, planar=False)[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for n in range(self.frame_count):
            yield self.frame(n)

    def i420(self) -> Iterator[Planes]:
        """The frames as Y, U, V planes (BT.601, limited range), ready for the encoder."""
        w, h = self.size
        if w % 2 or h % 2:
            raise UsageError(f"the frame size {w}x{h} must be even for 4:2:0 video")
        for n in range(self.frame_count):
            yield self._compose(n, planar=True)
