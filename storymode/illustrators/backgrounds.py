"""Procedural storybook backgrounds: settings, sky by time of day, weather.

Everything is drawn with Pillow at ``ss`` times the final size and box-reduced, which gives soft,
anti-aliased shapes. Coordinates inside the drawing functions are in supersampled pixels.
"""
from __future__ import annotations

import copy
import functools
import math
import random
from dataclasses import dataclass, field

from ..understanding.vocabulary import SETTING_KEYWORDS
from ..understanding.vocabulary import resolve_setting as _resolve_setting
from .palette import Color, Palette, mix, mul

SETTINGS: tuple[str, ...] = (
    "forest", "meadow", "hills", "mountains", "sea", "beach", "river", "city", "village", "snow", "desert",
    "cave", "space", "sky", "garden", "lake", "bedroom", "kitchen", "classroom", "castle hall",
    "lighthouse", "shop", "bakery", "workshop", "farm", "castle", "street", "moon",
)
INDOOR = frozenset({"bedroom", "kitchen", "classroom", "castle hall", "shop", "bakery", "workshop"})
NO_WEATHER = frozenset({"space", "moon"})  # no air, no weather
FALLBACK = "meadow"

KEYWORDS = SETTING_KEYWORDS  # the shared vocabulary's words for each setting
resolve_setting = _resolve_setting


@dataclass
class Stage:
    """Where things go in the finished picture (final pixel coordinates)."""

    width: int
    height: int
    horizon_y: int
    ground_y: int  # where the characters' feet rest
    ground_color: Color
    back_band: tuple[int, int]  # y range for props further back
    sky_band: tuple[int, int]  # y range for things in the sky
    water_y: int | None = None  # y of a water line for boats, if any
    front: object = None  # RGBA overlay (final size) drawn over the characters, or None
    weather_box: tuple[int, int, int, int] | None = None  # region weather shows in (indoors: the window)
    indoor: bool = False
    setting: str = FALLBACK
    weather: str = "clear"
    notes: dict = field(default_factory=dict)  # extras; in a storm outdoors, "sky_mask": an L image, 255 where
    # the background is open sky (lightning is drawn only there, so it passes behind towers, roofs and hills)


class _Ctx:
    def __init__(self, img, pal: Palette, rng: random.Random, ss: int, setting: str) -> None:
        from PIL import ImageDraw

        self.img = img
        self.d = ImageDraw.Draw(img, "RGBA")
        self.W, self.H = img.size
        self.u = min(self.W, self.H)
        self.pal = pal
        self.rng = rng
        self.ss = ss
        self.setting = setting
        self.night = pal.time_of_day == "night"
        self.dark = pal.time_of_day in ("night", "dusk")

    def lit(self, c: Color, depth: float = 0.0) -> Color:
        return self.pal.lit(c, depth)


# ---------------------------------------------------------------- sky


@functools.lru_cache(maxsize=32)
def _gradient_column(height: int, stops: tuple) -> bytes:
    import numpy as np

    ys = np.arange(height, dtype=np.float32)
    pos = np.array([p for p, _ in stops], dtype=np.float32)
    out = np.empty((height, 3), dtype=np.float32)
    for ch in range(3):
        out[:, ch] = np.interp(ys, pos, np.array([c[ch] for _, c in stops], dtype=np.float32))
    return out.round().clip(0, 255).astype(np.uint8).tobytes()


def gradient(width: int, height: int, stops: list[tuple[float, Color]]):
    """An RGB image with a vertical gradient through (y, colour) stops."""
    from PIL import Image

    col = Image.frombytes("RGB", (1, height), _gradient_column(height, tuple(stops)))
    return col.resize((width, height), Image.Resampling.NEAREST)


def _sky(c: _Ctx, hy: float) -> None:
    p = c.pal
    sky = gradient(c.W, c.H, [(0, p.sky_top), (hy * 0.55, p.sky_mid), (hy, p.sky_horizon),
                              (c.H, p.sky_horizon)])
    c.img.paste(sky)


@functools.lru_cache(maxsize=64)
def glow_mask(radius: int, peak: int):
    """A round glow (L image, 2 * radius + 1 wide) that fades from peak at the centre to nothing at the edge."""
    import numpy as np
    from PIL import Image

    n = 2 * radius + 1
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) - radius
    d = np.sqrt(xx * xx + yy * yy) / max(1, radius)
    a = peak * np.clip(1.0 - d, 0.0, 1.0) ** 2
    return Image.fromarray(a.round().astype(np.uint8))


def _glow(c: _Ctx, x: float, y: float, r: float, color: Color, rings: int = 6, alpha: int = 22) -> None:
    """A soft radial glow of about r * (1 + 0.45 * rings) radius (rings * alpha sets its strength)."""
    big = max(2, int(r * (1 + 0.45 * rings)))
    q = 4  # round sizes so the masks are reused
    big = (big + q - 1) // q * q
    mask = glow_mask(big, min(255, int(rings * alpha * 1.1)))
    c.img.paste(color, (int(x - big), int(y - big)), mask)


def _stars(c: _Ctx, y_max: float, count: int) -> None:
    rng = c.rng
    for _ in range(count):
        x, y = rng.uniform(0, c.W), rng.uniform(0, y_max) ** 1.0
        s = rng.choice((0.6, 0.8, 1.0, 1.0, 1.4, 2.0)) * c.u / 700
        a = rng.randint(120, 255)
        c.d.ellipse([x - s, y - s, x + s, y + s], fill=(255, 250, 220, a))
        if s > 1.5 * c.u / 700 and rng.random() < 0.5:  # a twinkle
            k = s * 3.5
            c.d.line([x - k, y, x + k, y], fill=(255, 250, 220, 110), width=max(1, int(s / 2)))
            c.d.line([x, y - k, x, y + k], fill=(255, 250, 220, 110), width=max(1, int(s / 2)))


def _moon(c: _Ctx, x: float, y: float, r: float) -> None:
    from PIL import Image, ImageDraw

    _glow(c, x, y, r, (230, 230, 200), rings=5, alpha=14)
    size = int(2 * r) + 2
    mask = Image.new("L", (size, size), 0)
    md = ImageDraw.Draw(mask)
    md.ellipse([0, 0, size - 1, size - 1], fill=255)
    md.ellipse([size * 0.3, -size * 0.12, size * 1.25, size * 0.92], fill=0)
    c.img.paste((250, 244, 200), (int(x - r), int(y - r)), mask)


def _sun(c: _Ctx, x: float, y: float, r: float, color: Color, glow: Color) -> None:
    _glow(c, x, y, r, glow, rings=7, alpha=20)
    c.d.ellipse([x - r, y - r, x + r, y + r], fill=color)


def _cloud(c: _Ctx, x: float, y: float, s: float, color: Color, alpha: int = 255) -> None:
    shade = mul(color, 0.86)
    puffs = [(-0.55, 0.05, 0.32), (-0.2, -0.18, 0.42), (0.22, -0.12, 0.38), (0.55, 0.06, 0.3), (0.0, 0.1, 0.36)]
    for dx, dy, r in puffs:
        c.d.ellipse([x + (dx - r) * s, y + (dy - r + 0.06) * s, x + (dx + r) * s, y + (dy + r + 0.06) * s],
                    fill=shade + (alpha,))
    for dx, dy, r in puffs:
        c.d.ellipse([x + (dx - r) * s, y + (dy - r) * s, x + (dx + r) * s, y + (dy + r - 0.04) * s],
                    fill=color + (alpha,))


def _sky_things(c: _Ctx, hy: float, weather: str, clouds_min: int = 0) -> None:
    """Sun or moon and stars, then clouds, for the part of the picture above hy."""
    p, rng, u = c.pal, c.rng, c.u
    tod = p.time_of_day
    overcast = weather in ("rain", "snow", "fog", "storm")
    side = rng.choice((0.18, 0.26, 0.74, 0.82))
    if tod == "night":
        _stars(c, hy * 0.95, 0 if overcast else int(90 * c.W * c.H / (c.u * c.u)))
        if not overcast:
            _moon(c, c.W * side, hy * rng.uniform(0.2, 0.32), u * 0.055)
    elif tod == "day":
        if not overcast:
            _sun(c, c.W * side, hy * rng.uniform(0.18, 0.3), u * 0.06, (255, 236, 150), (255, 250, 210))
    else:
        color = (255, 200, 120) if tod == "dawn" else (255, 150, 80)
        if not overcast:
            _sun(c, c.W * side, hy * 0.9, u * 0.085, color, mix(color, (255, 255, 255), 0.3))
    n = {"clear": 2, "wind": 3, "clouds": 5, "rain": 6, "snow": 4, "fog": 3, "storm": 8}.get(weather, 2)
    n = max(n, clouds_min)
    base = {"day": (255, 255, 255), "dawn": (255, 236, 232), "dusk": (250, 190, 180), "night": (70, 80, 120)}[tod]
    if weather in ("rain", "clouds"):
        base = mix(base, (150, 156, 170), 0.45 if weather == "rain" else 0.2)
    elif weather == "storm":  # low, heavy, slate-dark clouds
        base = mix(base, mul((76, 82, 98), 1.0 if tod != "night" else 0.45), 0.8)
    aspect = c.W / c.H
    for i in range(int(round(n * max(0.7, min(1.6, aspect))))):
        s = u * rng.uniform(0.1, 0.18) * {"rain": 1.2, "clouds": 1.2, "storm": 1.45}.get(weather, 1.0)
        _cloud(c, rng.uniform(-0.05, 1.05) * c.W, rng.uniform(0.1, 0.62) * hy, s, base,
               alpha=235 if tod != "night" else 200)


# ---------------------------------------------------------------- land shapes


def _hills(c: _Ctx, base: float, amp: float, color: Color, phase: float, freq: float = 1.0,
           bumps: tuple = (0.55, 0.3, 0.15)) -> None:
    n = 64
    pts = []
    for i in range(n + 1):
        t = i / n
        y = base - amp * (0.5 + bumps[0] * math.sin(2 * math.pi * freq * t * 1.2 + phase)
                          + bumps[1] * math.sin(2 * math.pi * freq * t * 2.7 + phase * 1.7)
                          + bumps[2] * math.sin(2 * math.pi * freq * t * 5.3 + phase * 0.3))
        pts.append((t * c.W, y))
    pts += [(c.W, c.H), (0, c.H)]
    c.d.polygon(pts, fill=color)


def _tree_round(c: _Ctx, x: float, y: float, s: float, green: Color, depth: float) -> None:
    trunk = c.lit((112, 78, 50), depth)
    tw = s * 0.11
    c.d.rectangle([x - tw / 2, y - s * 0.5, x + tw / 2, y], fill=trunk)
    g = c.lit(green, depth)
    dark, light = mul(g, 0.78), mix(g, (255, 255, 210), 0.16)
    r = s * 0.3
    cy = y - s * 0.64
    blobs = [(-0.5, 0.15, 0.78), (0.5, 0.15, 0.78), (0.0, -0.35, 0.95), (0.0, 0.2, 0.8)]
    for dx, dy, k in blobs:
        c.d.ellipse([x + (dx - k) * r, cy + (dy - k + 0.15) * r, x + (dx + k) * r, cy + (dy + k + 0.15) * r],
                    fill=dark)
    for dx, dy, k in blobs:
        c.d.ellipse([x + (dx - k) * r, cy + (dy - k) * r, x + (dx + k) * r, cy + (dy + k) * r], fill=g)
    c.d.ellipse([x - 0.55 * r, cy - 0.85 * r, x + 0.05 * r, cy - 0.3 * r], fill=light)


def _tree_pine(c: _Ctx, x: float, y: float, s: float, green: Color, depth: float, snow: bool = False) -> None:
    trunk = c.lit((100, 70, 46), depth)
    c.d.rectangle([x - s * 0.05, y - s * 0.2, x + s * 0.05, y], fill=trunk)
    g = c.lit(green, depth)
    dark = mul(g, 0.8)
    white = c.lit((244, 248, 255), depth)
    for i, (wk, top) in enumerate(((0.5, 0.62), (0.4, 0.82), (0.28, 1.0))):
        base_y = y - s * (0.14 + 0.24 * i)
        apex = y - s * top
        c.d.polygon([(x - wk * s, base_y), (x, apex), (x + wk * s, base_y)], fill=g)
        c.d.polygon([(x, apex), (x + wk * s, base_y), (x + wk * s * 0.2, base_y)], fill=dark)
        if snow:
            k = 0.3
            c.d.polygon([(x - wk * s * k, apex + (base_y - apex) * k), (x, apex),
                         (x + wk * s * k, apex + (base_y - apex) * k)], fill=white)


def _tree_row(c: _Ctx, y: float, s: float, depth: float, count: int, kinds: str = "mix",
              greens: tuple = ((86, 140, 70), (64, 120, 66), (110, 156, 72)), snow: bool = False,
              jitter: float = 0.25, avoid: tuple = ()) -> None:
    rng = c.rng
    step = c.W / max(1, count)
    for i in range(count + 1):
        x = (i + rng.uniform(-jitter, jitter) + 0.5 * (rng.random() < 0.5)) * step
        if any(abs(x / c.W - a) < 0.06 for a in avoid):
            continue
        ss = s * rng.uniform(0.8, 1.2)
        yy = y + rng.uniform(-0.04, 0.04) * s
        g = rng.choice(greens)
        kind = kinds if kinds != "mix" else rng.choice(("round", "pine", "round"))
        if kind == "pine":
            _tree_pine(c, x, yy, ss * 1.15, g, depth, snow=snow)
        else:
            _tree_round(c, x, yy, ss, g, depth)


def _grass_tufts(c: _Ctx, y0: float, y1: float, count: int, color: Color) -> None:
    rng = c.rng
    for _ in range(count):
        x, y = rng.uniform(0, c.W), rng.uniform(y0, y1)
        k = c.u * 0.012 * (0.6 + (y - y0) / max(1.0, y1 - y0))
        col = mul(color, rng.uniform(0.78, 0.92))
        for dx in (-0.8, 0.0, 0.8):
            c.d.polygon([(x + dx * k - 0.25 * k, y), (x + dx * k * 1.8, y - 2.2 * k), (x + dx * k + 0.25 * k, y)],
                        fill=col)


def _flowers(c: _Ctx, y0: float, y1: float, count: int, depth: float = 0.0) -> None:
    rng = c.rng
    for _ in range(count):
        x, y = rng.uniform(0, c.W), rng.uniform(y0, y1)
        k = c.u * 0.007 * (0.7 + 0.8 * (y - y0) / max(1.0, y1 - y0))
        petal = c.lit(c.pal.accent(rng.randint(0, 9)), depth)
        stem = c.lit((70, 130, 60), depth)
        c.d.line([x, y, x, y - 2.5 * k], fill=stem, width=max(1, int(k * 0.4)))
        cy = y - 2.8 * k
        for a in range(5):
            ang = a * 2 * math.pi / 5
            px, py = x + math.cos(ang) * k * 0.8, cy + math.sin(ang) * k * 0.8
            c.d.ellipse([px - 0.6 * k, py - 0.6 * k, px + 0.6 * k, py + 0.6 * k], fill=petal)
        c.d.ellipse([x - 0.45 * k, cy - 0.45 * k, x + 0.45 * k, cy + 0.45 * k], fill=c.lit((250, 210, 80), depth))


def _house(c: _Ctx, x: float, y: float, s: float, depth: float, wall: Color, roof: Color) -> None:
    w, h = s * 0.9, s * 0.6
    wall_c, roof_c = c.lit(wall, depth), c.lit(roof, depth)
    c.d.rectangle([x + w * 0.18, y - h - s * 0.42, x + w * 0.32, y - h], fill=c.lit((150, 90, 70), depth))
    c.d.rectangle([x - w / 2, y - h, x + w / 2, y], fill=wall_c)
    c.d.rectangle([x, y - h, x + w / 2, y], fill=mul(wall_c, 0.9))
    c.d.polygon([(x - w / 2 - s * 0.08, y - h + 1), (x, y - h - s * 0.45), (x + w / 2 + s * 0.08, y - h + 1)],
                fill=roof_c)
    c.d.polygon([(x, y - h - s * 0.45), (x + w / 2 + s * 0.08, y - h + 1), (x + s * 0.1, y - h + 1)],
                fill=mul(roof_c, 0.85))
    c.d.rounded_rectangle([x - w * 0.12, y - h * 0.55, x + w * 0.12, y], radius=w * 0.05,
                          fill=c.lit((120, 80, 56), depth))
    glass = (255, 214, 120) if c.dark else c.lit((170, 210, 236), depth)
    for wx in (x - w * 0.33, x + w * 0.33):
        c.d.rectangle([wx - w * 0.1, y - h * 0.78, wx + w * 0.1, y - h * 0.45], fill=glass)
        c.d.line([wx, y - h * 0.78, wx, y - h * 0.45], fill=mul(wall_c, 0.7), width=max(1, int(s * 0.015)))
        if c.night:
            _glow(c, wx, y - h * 0.62, w * 0.08, (255, 210, 120), rings=3, alpha=18)


def _fence(c: _Ctx, y: float, h: float, color: Color, x0: float = 0.0, x1: float | None = None) -> None:
    x1 = c.W if x1 is None else x1
    step = h * 0.55
    x = x0
    while x < x1:
        c.d.polygon([(x, y), (x, y - h * 0.85), (x + step * 0.2, y - h), (x + step * 0.4, y - h * 0.85),
                     (x + step * 0.4, y)], fill=color)
        x += step
    c.d.rectangle([x0, y - h * 0.7, x1, y - h * 0.6], fill=color)
    c.d.rectangle([x0, y - h * 0.35, x1, y - h * 0.25], fill=color)


def _waves(c: _Ctx, y0: float, y1: float, color: Color, rows: int, alpha: int = 160) -> None:
    rng = c.rng
    for i in range(rows):
        t = i / max(1, rows - 1)
        y = y0 + (y1 - y0) * t ** 1.3
        k = c.u * (0.008 + 0.03 * t)
        x = rng.uniform(-k * 4, 0)
        while x < c.W:
            if rng.random() < 0.7:
                c.d.arc([x, y - k, x + 4 * k, y + k], 200, 340, fill=color + (alpha,), width=max(1, int(k * 0.3)))
            x += 4 * k * rng.uniform(1.2, 2.6)


def _wave_band(c: _Ctx, y: float, amp: float, color: Color, phase: float, period: float) -> None:
    pts = []
    n = 120
    for i in range(n + 1):
        x = c.W * i / n
        pts.append((x, y + amp * math.sin(2 * math.pi * x / period + phase)))
    c.d.polygon(pts + [(c.W, c.H), (0, c.H)], fill=color)


def _stormy(c: _Ctx) -> bool:
    return c.pal.weather == "storm"


def _foam(c: _Ctx) -> Color:
    """Wave-cap white: lit, but kept bright enough to read as foam in a storm's low light."""
    return mix(c.lit((240, 246, 250)), (226, 232, 238), 0.45 if _stormy(c) else 0.0)


def _rough_waves(c: _Ctx, y0: float, y1: float, water: Color, rows: int, scale: float = 1.0) -> None:
    """A storm sea: rows of tall, steep-fronted swells with white caps and spray, far (small) to near (big)."""
    rng = c.rng
    foam = _foam(c)
    for i in range(rows):
        t = i / max(1, rows - 1)
        y = y0 + (y1 - y0) * t ** 1.25
        k = c.u * (0.008 + 0.05 * t) * scale  # crest height
        period = k * rng.uniform(3.6, 5.0)
        face = mix(mul(water, 0.9 + 0.25 * t), foam, 0.1 + 0.08 * t)
        x = -rng.uniform(0.2, 1.0) * period
        pts: list[tuple[float, float]] = []
        crests = []
        while x < c.W + period:
            h = k * rng.uniform(0.65, 1.3)
            px = x + period * rng.uniform(0.58, 0.72)
            pts += [(x, y), (x + (px - x) * 0.55, y - h * 0.62), (px, y - h), (px + period * 0.08, y - h * 0.55)]
            crests.append((px, y - h, h))
            x += period
        pts += [(x, y), (x, y + k * 0.9), (-period, y + k * 0.9)]
        c.d.polygon(pts, fill=face)
        lw = max(1, int(k * 0.1))
        for px, py, h in crests:  # white caps, spilling down the steep front
            cap = h * 0.42
            c.d.polygon([(px - period * 0.22, py + cap), (px - period * 0.06, py + cap * 0.12), (px, py),
                         (px + period * 0.1, py + cap * 0.7), (px + period * 0.02, py + cap * 0.55),
                         (px - period * 0.08, py + cap * 0.9)], fill=foam)
            c.d.line([px - period * 0.4, py + h * 0.75, px - period * 0.15, py + h * 0.45], fill=foam + (150,),
                     width=lw)
            if t > 0.4 and rng.random() < 0.6:  # spray
                for _ in range(3):
                    r = k * rng.uniform(0.05, 0.11)
                    sx, sy = px + rng.uniform(-0.25, 0.2) * period, py - rng.uniform(0.05, 0.5) * h
                    c.d.ellipse([sx - r, sy - r, sx + r, sy + r], fill=foam + (200,))


def _rock(c: _Ctx, x: float, y: float, s: float, color: Color) -> None:
    c.d.chord([x - s, y - s * 0.9, x + s, y + s * 0.9], 180, 360, fill=color)
    c.d.chord([x - s * 0.7, y - s * 0.75, x + s * 0.3, y + s * 0.3], 180, 360, fill=mix(color, (255, 255, 255), 0.12))


# ---------------------------------------------------------------- settings


def _ground(c: _Ctx, hy: float, near: Color, far: Color) -> None:
    g = gradient(c.W, int(c.H - hy) + 1, [(0, c.lit(far, 0.3)), (c.H - hy, c.lit(near))])
    c.img.paste(g, (0, int(hy)))


def _set_meadow(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _hills(c, hy - c.H * 0.02, c.H * 0.08, c.lit((150, 190, 130), 0.6), rng.uniform(0, 6))
    _tree_row(c, hy + c.H * 0.01, c.u * 0.08, 0.5, rng.randint(3, 5), kinds="round", jitter=0.4)
    _hills(c, hy + c.H * 0.04, c.H * 0.05, c.lit((128, 184, 92), 0.3), rng.uniform(0, 6), bumps=(0.6, 0.2, 0.05))
    _ground(c, hy + c.H * 0.07, (104, 168, 74), (128, 184, 92))
    _flowers(c, hy + c.H * 0.1, c.H, int(60 * c.W / c.u))
    _grass_tufts(c, hy + c.H * 0.1, c.H, int(50 * c.W / c.u), c.lit((90, 150, 62)))
    return {}


def _set_forest(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _hills(c, hy - c.H * 0.03, c.H * 0.1, c.lit((120, 160, 120), 0.65), rng.uniform(0, 6))
    _tree_row(c, hy + c.H * 0.02, c.u * 0.14, 0.55, int(9 * c.W / c.u), kinds="pine",
              greens=((60, 110, 70), (70, 120, 80)))
    _ground(c, hy + c.H * 0.04, (84, 140, 62), (100, 150, 76))
    _tree_row(c, hy + c.H * 0.09, c.u * 0.26, 0.28, int(6 * c.W / c.u), jitter=0.35, avoid=avoid)
    _grass_tufts(c, hy + c.H * 0.12, c.H, int(60 * c.W / c.u), c.lit((70, 126, 56)))
    for _ in range(int(5 * c.W / c.u)):  # mushrooms
        x, y = rng.uniform(0, c.W), rng.uniform(gy + c.H * 0.02, c.H * 0.97)
        k = c.u * 0.012
        c.d.rectangle([x - k * 0.35, y - k * 1.2, x + k * 0.35, y], fill=c.lit((240, 230, 210)))
        c.d.chord([x - k, y - k * 2.1, x + k, y - k * 0.4], 180, 360, fill=c.lit((214, 70, 60)))
    # big framing trunks at the sides
    for side in (0, 1):
        x = c.W * (rng.uniform(0.01, 0.06) if side == 0 else rng.uniform(0.94, 0.99))
        tw = c.u * 0.07
        c.d.rectangle([x - tw / 2, 0, x + tw / 2, gy + c.H * 0.06], fill=c.lit((92, 64, 44)))
        c.d.rectangle([x - tw / 2, 0, x - tw * 0.2, gy + c.H * 0.06], fill=c.lit((110, 80, 56)))
        g = c.lit((58, 108, 56))
        for _ in range(4):
            bx, by, r = x + rng.uniform(-0.12, 0.12) * c.u, rng.uniform(-0.05, 0.12) * c.H, c.u * rng.uniform(0.1, 0.16)
            c.d.ellipse([bx - r, by - r, bx + r, by + r], fill=g)
    return {}


def _set_hills(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _hills(c, hy - c.H * 0.06, c.H * 0.12, c.lit((150, 186, 140), 0.7), rng.uniform(0, 6), freq=0.8)
    _hills(c, hy - c.H * 0.01, c.H * 0.1, c.lit((130, 180, 100), 0.45), rng.uniform(0, 6), freq=0.9)
    _tree_row(c, hy + c.H * 0.0, c.u * 0.06, 0.45, rng.randint(2, 4), kinds="round", jitter=0.5)
    _hills(c, hy + c.H * 0.06, c.H * 0.08, c.lit((116, 176, 80), 0.2), rng.uniform(0, 6), freq=0.7)
    # a winding path up the hill
    px = c.W * rng.uniform(0.35, 0.65)
    path = c.lit((222, 198, 150), 0.1)
    pts_l, pts_r = [], []
    for i in range(21):
        t = i / 20
        y = hy + c.H * 0.08 + (c.H - hy - c.H * 0.08) * t
        x = px + math.sin(t * 4 + rng.random() * 0.01) * c.W * 0.08 * (1 - t) + (t ** 2) * c.W * 0.05
        half = c.u * (0.006 + 0.1 * t * t)
        pts_l.append((x - half, y))
        pts_r.append((x + half, y))
    c.d.polygon(pts_l + pts_r[::-1], fill=path)
    _flowers(c, hy + c.H * 0.12, c.H, int(30 * c.W / c.u))
    _grass_tufts(c, hy + c.H * 0.12, c.H, int(40 * c.W / c.u), c.lit((90, 150, 62)))
    return {}


def _mountain(c: _Ctx, x: float, base: float, w: float, h: float, color: Color, snow: Color | None) -> None:
    apex = (x, base - h)
    c.d.polygon([(x - w / 2, base), apex, (x + w / 2, base)], fill=color)
    c.d.polygon([apex, (x + w / 2, base), (x + w * 0.08, base)], fill=mul(color, 0.85))
    if snow:
        k = 0.28
        pts = [(x - w / 2 * k, base - h * (1 - k)), apex, (x + w / 2 * k, base - h * (1 - k)),
               (x + w * 0.06, base - h * (1 - k * 0.7)), (x - w * 0.03, base - h * (1 - k * 1.1)),
               (x - w * 0.1, base - h * (1 - k * 0.75))]
        c.d.polygon(pts, fill=snow)


def _set_mountains(c: _Ctx, hy: float, gy: float, avoid: tuple, snowy: bool = False) -> dict:
    rng = c.rng
    snow = c.lit((248, 250, 255), 0.3)
    n = int(4 * c.W / c.u) + 2
    for i in range(n):
        x = (i + rng.uniform(-0.3, 0.3)) * c.W / (n - 1)
        _mountain(c, x, hy + c.H * 0.02, c.u * rng.uniform(0.55, 0.8), c.H * rng.uniform(0.26, 0.4),
                  c.lit((130, 140, 170), 0.6), snow)
    for i in range(n - 1):
        x = (i + 0.5 + rng.uniform(-0.3, 0.3)) * c.W / (n - 1)
        _mountain(c, x, hy + c.H * 0.04, c.u * rng.uniform(0.4, 0.6), c.H * rng.uniform(0.16, 0.26),
                  c.lit((110, 124, 140), 0.35), snow if snowy else None)
    if snowy:
        _hills(c, hy + c.H * 0.05, c.H * 0.05, c.lit((226, 236, 250), 0.2), rng.uniform(0, 6))
        _tree_row(c, hy + c.H * 0.08, c.u * 0.14, 0.3, int(4 * c.W / c.u), kinds="pine", snow=True,
                  greens=((60, 100, 80),), avoid=avoid)
        _ground(c, hy + c.H * 0.1, (236, 242, 252), (226, 236, 250))
        for _ in range(int(6 * c.W / c.u)):
            x, y = rng.uniform(0, c.W), rng.uniform(gy, c.H)
            r = c.u * rng.uniform(0.04, 0.09)
            c.d.chord([x - r, y - r * 0.5, x + r, y + r * 0.5], 180, 360, fill=c.lit((250, 252, 255)))
            c.d.arc([x - r, y - r * 0.5, x + r, y + r * 0.5], 200, 340, fill=c.lit((200, 214, 236)),
                    width=max(1, int(c.u * 0.004)))
        return {}
    _hills(c, hy + c.H * 0.05, c.H * 0.06, c.lit((120, 166, 96), 0.25), rng.uniform(0, 6))
    _tree_row(c, hy + c.H * 0.08, c.u * 0.12, 0.3, int(5 * c.W / c.u), kinds="pine", avoid=avoid)
    _ground(c, hy + c.H * 0.1, (108, 156, 80), (116, 166, 88))
    for _ in range(int(5 * c.W / c.u)):
        _rock(c, rng.uniform(0, c.W), rng.uniform(gy, c.H), c.u * rng.uniform(0.015, 0.04), c.lit((150, 150, 156)))
    _grass_tufts(c, hy + c.H * 0.12, c.H, int(30 * c.W / c.u), c.lit((86, 140, 62)))
    return {}


def _set_snow(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    return _set_mountains(c, hy, gy, avoid, snowy=True)


def _sea_colors(c: _Ctx) -> tuple[Color, Color]:
    if _stormy(c):  # a grey-green, heaving sea
        return c.lit((110, 140, 150), 0.4), c.lit((46, 92, 110))
    return c.lit((120, 190, 220), 0.4), c.lit((40, 110, 170))


def _set_sea(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    far, near = _sea_colors(c)
    c.img.paste(gradient(c.W, int(c.H - hy) + 1, [(0, far), (c.H - hy, near)]), (0, int(hy)))
    if rng.random() < 0.6:  # a small island far away
        x = c.W * rng.uniform(0.1, 0.9)
        r = c.u * 0.08
        c.d.chord([x - r, hy - r * 0.3, x + r, hy + r * 0.3], 180, 360, fill=c.lit((120, 160, 110), 0.6))
    if _stormy(c):
        _rough_waves(c, hy + c.H * 0.01, c.H, near, int(9 * c.H / c.u))
    else:
        _waves(c, hy + c.H * 0.01, c.H, c.lit((220, 240, 250), 0.2), int(14 * c.H / c.u), alpha=150)
    return {"water_y": hy + (gy - hy) * 0.35, "front": "sea"}


def _set_beach(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    far, near = _sea_colors(c)
    shore = hy + (gy - hy) * 0.42
    c.img.paste(gradient(c.W, int(c.H - hy) + 1, [(0, far), (shore - hy, near)]), (0, int(hy)))
    if _stormy(c):
        _rough_waves(c, hy + c.H * 0.01, shore, near, int(6 * c.H / c.u), scale=0.8)
    else:
        _waves(c, hy + c.H * 0.01, shore, c.lit((220, 240, 250), 0.2), int(6 * c.H / c.u), alpha=140)
    sand = c.lit((236, 212, 160))
    surf = c.H * (0.022 if _stormy(c) else 0.008)
    _wave_band(c, shore + c.H * 0.01, surf, _foam(c) if _stormy(c) else c.lit((250, 250, 245), 0.1),
               rng.uniform(0, 6), c.W / 5)
    _wave_band(c, shore + c.H * 0.025, c.H * 0.01, sand, rng.uniform(0, 6), c.W / 4)
    c.img.paste(gradient(c.W, int(c.H - shore - c.H * 0.05), [(0, sand), (c.H, c.lit((226, 196, 140)))]),
                (0, int(shore + c.H * 0.05)))
    # a palm tree at one side
    x = c.W * rng.choice((0.08, 0.92))
    base = gy + c.H * 0.02
    top = (x + (c.u * 0.06 if x < c.W / 2 else -c.u * 0.06), base - c.u * 0.62)
    for i in range(12):
        t0, t1 = i / 12, (i + 1) / 12
        xa = x + (top[0] - x) * t0 ** 2
        xb = x + (top[0] - x) * t1 ** 2
        ya, yb = base + (top[1] - base) * t0, base + (top[1] - base) * t1
        wdt = c.u * (0.035 - 0.015 * t0)
        c.d.polygon([(xa - wdt, ya), (xb - wdt * 0.9, yb), (xb + wdt * 0.9, yb), (xa + wdt, ya)],
                    fill=c.lit((150, 110, 70) if i % 2 else (170, 126, 80)))
    leaf = c.lit((70, 150, 70))
    for ang in (-160, -120, -60, -20, 20, 200):
        a = math.radians(ang)
        L = c.u * 0.22
        ex, ey = top[0] + math.cos(a) * L, top[1] + math.sin(a) * L * 0.6 + L * 0.25
        mx, my = (top[0] + ex) / 2, (top[1] + ey) / 2 - L * 0.18
        c.d.polygon([top, (mx, my - c.u * 0.03), (ex, ey), (mx, my + c.u * 0.02)], fill=leaf)
    for _ in range(int(6 * c.W / c.u)):
        sx, sy = rng.uniform(0, c.W), rng.uniform(gy, c.H)
        k = c.u * 0.008
        c.d.chord([sx - k, sy - k, sx + k, sy + k], 180, 360, fill=c.lit((250, 200, 190)))
    return {"water_y": hy + (shore - hy) * 0.5}


def _set_river(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _hills(c, hy - c.H * 0.02, c.H * 0.08, c.lit((140, 184, 130), 0.6), rng.uniform(0, 6))
    _tree_row(c, hy + c.H * 0.01, c.u * 0.1, 0.45, int(5 * c.W / c.u), jitter=0.4)
    _ground(c, hy + c.H * 0.03, (100, 164, 72), (124, 180, 90))
    top = hy + (gy - hy) * 0.3
    bot = hy + (gy - hy) * 0.72
    ph = rng.uniform(0, 6)
    n = 80
    up = [(c.W * i / n, top + c.H * 0.015 * math.sin(i / n * 9 + ph)) for i in range(n + 1)]
    dn = [(c.W * i / n, bot + c.H * 0.02 * math.sin(i / n * 7 + ph * 1.3)) for i in range(n, -1, -1)]
    c.d.polygon(up + dn, fill=c.lit((64, 140, 190), 0.15))
    c.d.line(up, fill=c.lit((90, 130, 70), 0.2), width=max(1, int(c.u * 0.006)))
    _waves(c, top + c.H * 0.015, bot - c.H * 0.01, c.lit((210, 236, 250), 0.1), 5, alpha=170)
    for _ in range(int(10 * c.W / c.u)):  # reeds on the near bank
        x = rng.uniform(0, c.W)
        y = bot + c.H * rng.uniform(0.015, 0.04)
        k = c.u * 0.05
        c.d.line([x, y, x + k * 0.1, y - k], fill=c.lit((80, 130, 60)), width=max(1, int(c.u * 0.004)))
        c.d.rounded_rectangle([x - k * 0.05, y - k * 0.95, x + k * 0.12, y - k * 0.62], radius=k * 0.05,
                              fill=c.lit((120, 80, 50)))
    _grass_tufts(c, bot + c.H * 0.03, c.H, int(40 * c.W / c.u), c.lit((86, 146, 60)))
    _flowers(c, bot + c.H * 0.05, c.H, int(20 * c.W / c.u))
    return {"water_y": (top + bot) / 2}


def _set_lake(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _hills(c, hy - c.H * 0.04, c.H * 0.1, c.lit((130, 170, 140), 0.6), rng.uniform(0, 6), freq=0.8)
    _tree_row(c, hy, c.u * 0.1, 0.45, int(7 * c.W / c.u), kinds="pine", jitter=0.4)
    shore = hy + (gy - hy) * 0.62
    c.img.paste(gradient(c.W, int(shore - hy) + 2, [(0, c.lit((150, 200, 220), 0.3)),
                                                    (shore - hy, c.lit((60, 130, 170)))]), (0, int(hy)))
    if _stormy(c):
        _rough_waves(c, hy + c.H * 0.01, shore - c.H * 0.01, c.lit((60, 110, 130)), 5, scale=0.7)
    else:
        _waves(c, hy + c.H * 0.01, shore - c.H * 0.02, c.lit((230, 244, 250), 0.1), 6, alpha=120)
    _wave_band(c, shore, c.H * 0.01, c.lit((104, 166, 74)), rng.uniform(0, 6), c.W / 3)
    c.img.paste(gradient(c.W, int(c.H - shore - c.H * 0.01), [(0, c.lit((104, 166, 74))), (c.H, c.lit((86, 146, 60)))]),
                (0, int(shore + c.H * 0.012)))
    for _ in range(int(8 * c.W / c.u)):
        x = rng.uniform(0, c.W)
        y = shore + c.H * rng.uniform(0.0, 0.02)
        k = c.u * 0.06
        c.d.line([x, y, x - k * 0.1, y - k], fill=c.lit((80, 130, 60)), width=max(1, int(c.u * 0.004)))
        c.d.rounded_rectangle([x - k * 0.15, y - k * 0.95, x - k * 0.0, y - k * 0.6], radius=k * 0.05,
                              fill=c.lit((120, 80, 50)))
    if rng.random() < 0.7:  # lily pads
        for _ in range(4):
            x, y = rng.uniform(0.1, 0.9) * c.W, rng.uniform(hy + (shore - hy) * 0.5, shore - c.H * 0.02)
            r = c.u * 0.025
            c.d.pieslice([x - r, y - r * 0.4, x + r, y + r * 0.4], 20, 340, fill=c.lit((80, 150, 80)))
    _grass_tufts(c, shore + c.H * 0.03, c.H, int(40 * c.W / c.u), c.lit((86, 146, 60)))
    _flowers(c, shore + c.H * 0.04, c.H, int(20 * c.W / c.u))
    return {"water_y": hy + (shore - hy) * 0.55}


def _set_city(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    street_top = hy + (gy - hy) * 0.35
    # far skyline
    x = -rng.uniform(0, c.u * 0.1)
    far = c.lit((150, 160, 190), 0.55)
    while x < c.W:
        w = c.u * rng.uniform(0.07, 0.14)
        h = c.H * rng.uniform(0.14, 0.34)
        c.d.rectangle([x, hy + c.H * 0.02 - h, x + w, street_top], fill=far)
        x += w * rng.uniform(0.9, 1.1)
    # near buildings with windows
    x = -rng.uniform(0, c.u * 0.1)
    while x < c.W:
        w = c.u * rng.uniform(0.16, 0.26)
        h = c.H * rng.uniform(0.22, 0.4)
        col = c.lit(rng.choice(((214, 140, 110), (226, 196, 150), (170, 150, 190), (150, 180, 200),
                                (230, 170, 130))), 0.12)
        top = street_top - h
        c.d.rectangle([x, top, x + w, street_top], fill=col)
        c.d.rectangle([x, top - c.u * 0.012, x + w, top], fill=mul(col, 0.8))
        cols = max(2, int(w / (c.u * 0.05)))
        rows = max(2, int(h / (c.u * 0.07)))
        ww, wh = w / cols, h / rows
        for i in range(cols):
            for j in range(rows - 1):
                lit = c.dark and rng.random() < 0.55
                glass = (255, 214, 120) if lit else c.lit((120, 150, 180) if c.dark else (190, 220, 240), 0.1)
                wx0, wy0 = x + i * ww + ww * 0.25, top + j * wh + wh * 0.3
                c.d.rectangle([wx0, wy0, wx0 + ww * 0.5, wy0 + wh * 0.45], fill=glass)
        x += w + c.u * rng.uniform(0.0, 0.03)
    # pavement and street
    c.d.rectangle([0, street_top, c.W, c.H], fill=c.lit((176, 172, 168)))
    c.d.rectangle([0, street_top, c.W, street_top + c.H * 0.012], fill=c.lit((210, 206, 200)))
    road = gy + (c.H - gy) * 0.45
    c.d.rectangle([0, road, c.W, c.H], fill=c.lit((90, 92, 100)))
    for i in range(int(c.W / (c.u * 0.18)) + 1):
        x = i * c.u * 0.18 + rng.uniform(0, 0.01) * c.u
        c.d.rectangle([x, road + (c.H - road) * 0.45, x + c.u * 0.08, road + (c.H - road) * 0.55],
                      fill=c.lit((240, 230, 190)))
    for i in range(int(c.W / (c.u * 0.09)) + 1):  # paving lines
        x = i * c.u * 0.09
        c.d.line([x, street_top + c.H * 0.012, x, road], fill=c.lit((160, 156, 152)), width=max(1, c.ss))
    # lamp posts
    for fx in (0.08, 0.5, 0.92):
        lx = c.W * (fx + rng.uniform(-0.03, 0.03))
        base = street_top + (road - street_top) * 0.3
        top = base - c.u * 0.42
        c.d.rectangle([lx - c.u * 0.006, top, lx + c.u * 0.006, base], fill=c.lit((60, 60, 70)))
        lamp = (255, 226, 140) if c.dark else c.lit((240, 240, 220))
        c.d.ellipse([lx - c.u * 0.02, top - c.u * 0.03, lx + c.u * 0.02, top + c.u * 0.01], fill=lamp)
        if c.dark:
            _glow(c, lx, top - c.u * 0.01, c.u * 0.03, (255, 220, 140), rings=5, alpha=20)
    return {}


def _set_village(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _hills(c, hy - c.H * 0.02, c.H * 0.1, c.lit((144, 186, 130), 0.6), rng.uniform(0, 6))
    _tree_row(c, hy, c.u * 0.08, 0.5, int(4 * c.W / c.u), kinds="round", jitter=0.45)
    _hills(c, hy + c.H * 0.03, c.H * 0.04, c.lit((130, 184, 96), 0.3), rng.uniform(0, 6))
    _ground(c, hy + c.H * 0.06, (108, 170, 78), (130, 186, 94))
    n = max(3, int(4 * c.W / c.u))
    houses = []
    for i in range(n):
        x = c.W * (i + 0.5 + rng.uniform(-0.25, 0.25)) / n
        houses.append((x, hy + c.H * rng.uniform(0.05, 0.1), c.u * rng.uniform(0.16, 0.22)))
    for x, y, s in sorted(houses, key=lambda t: t[1]):
        wall = rng.choice(((244, 230, 200), (236, 210, 170), (250, 240, 224), (226, 200, 180)))
        roof = rng.choice(((190, 80, 60), (150, 90, 70), (110, 110, 140), (200, 110, 60)))
        _house(c, x, y, s, 0.2, wall, roof)
    _fence(c, hy + (gy - hy) * 0.55, c.u * 0.05, c.lit((236, 226, 210), 0.1))
    # a dirt path along the front
    c.d.rectangle([0, gy - c.H * 0.03, c.W, gy + c.H * 0.05], fill=c.lit((214, 188, 140)))
    _flowers(c, gy + c.H * 0.06, c.H, int(25 * c.W / c.u))
    _grass_tufts(c, gy + c.H * 0.06, c.H, int(30 * c.W / c.u), c.lit((90, 150, 62)))
    return {}


def _set_desert(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    # mesas far away
    for _ in range(2):
        x, w = c.W * rng.uniform(0.1, 0.9), c.u * rng.uniform(0.2, 0.35)
        h = c.H * rng.uniform(0.06, 0.1)
        col = c.lit((200, 130, 100), 0.55)
        c.d.polygon([(x - w / 2, hy + 2), (x - w * 0.4, hy - h), (x + w * 0.4, hy - h), (x + w / 2, hy + 2)], fill=col)
    _hills(c, hy + c.H * 0.01, c.H * 0.05, c.lit((240, 200, 140), 0.45), rng.uniform(0, 6), freq=0.7,
           bumps=(0.7, 0.2, 0.0))
    _hills(c, hy + c.H * 0.07, c.H * 0.06, c.lit((232, 186, 120), 0.2), rng.uniform(0, 6), freq=0.6,
           bumps=(0.7, 0.2, 0.0))
    _ground(c, hy + c.H * 0.12, (226, 176, 110), (232, 186, 120))
    green = c.lit((90, 150, 90))
    for fx in rng.sample((0.06, 0.2, 0.5, 0.8, 0.94), 3):
        if any(abs(fx - a) < 0.08 for a in avoid):
            continue
        x, y = c.W * fx, gy - c.H * rng.uniform(0.0, 0.08)
        s = c.u * rng.uniform(0.16, 0.24)
        w = s * 0.16
        c.d.rounded_rectangle([x - w / 2, y - s, x + w / 2, y], radius=w / 2, fill=green)
        c.d.rounded_rectangle([x - w * 1.6, y - s * 0.7, x - w * 1.0, y - s * 0.35], radius=w * 0.3, fill=green)
        c.d.rectangle([x - w * 1.6, y - s * 0.45, x - w * 0.4, y - s * 0.35], fill=green)
        c.d.rounded_rectangle([x + w * 1.0, y - s * 0.8, x + w * 1.6, y - s * 0.45], radius=w * 0.3, fill=green)
        c.d.rectangle([x + w * 0.4, y - s * 0.55, x + w * 1.6, y - s * 0.45], fill=green)
    for _ in range(int(4 * c.W / c.u)):
        _rock(c, rng.uniform(0, c.W), rng.uniform(gy, c.H), c.u * rng.uniform(0.015, 0.035), c.lit((190, 140, 100)))
    return {}


def _set_garden(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    _tree_row(c, hy + c.H * 0.02, c.u * 0.16, 0.45, int(4 * c.W / c.u), kinds="round", jitter=0.4)
    hedge_top = hy + c.H * 0.02
    hedge_bot = hy + (gy - hy) * 0.45
    hc = c.lit((70, 130, 70), 0.15)
    c.d.rectangle([0, hedge_top + c.u * 0.03, c.W, hedge_bot], fill=hc)
    k = c.u * 0.05
    x = -k
    while x < c.W + k:
        c.d.ellipse([x - k, hedge_top, x + k, hedge_top + 2 * k], fill=hc)
        x += k * 1.4
    for _ in range(int(40 * c.W / c.u)):  # leaf texture
        lx, ly = rng.uniform(0, c.W), rng.uniform(hedge_top + k * 0.5, hedge_bot)
        r = c.u * 0.01
        c.d.ellipse([lx - r, ly - r, lx + r, ly + r], fill=mix(hc, (200, 240, 160), 0.15))
    _ground(c, hedge_bot, (112, 176, 82), (124, 186, 92))
    for i in range(int(c.W / (c.u * 0.12)) + 1):  # mown stripes
        if i % 2:
            c.d.rectangle([i * c.u * 0.12, hedge_bot, (i + 1) * c.u * 0.12, c.H], fill=c.lit((120, 184, 88)) + (90,))
    _fence(c, hedge_bot + c.u * 0.01, c.u * 0.09, c.lit((248, 244, 236)))
    # flower beds
    bed_y = hedge_bot + c.u * 0.02
    c.d.rectangle([0, bed_y, c.W, bed_y + c.u * 0.05], fill=c.lit((120, 84, 60)))
    _flowers(c, bed_y + c.u * 0.01, bed_y + c.u * 0.05, int(70 * c.W / c.u))
    _flowers(c, gy + c.H * 0.05, c.H, int(16 * c.W / c.u))
    return {}


def _set_sky(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    # everything is sky; a bank of cloud carries the characters
    _sky_things(c, c.H * 0.9, c.pal.weather, clouds_min=3)
    if c.pal.time_of_day in ("day", "dawn") and c.pal.weather != "storm":  # a rainbow
        cx, r = c.W * rng.uniform(0.3, 0.7), c.u * 0.7
        for i, col in enumerate(((230, 80, 80), (240, 150, 70), (240, 220, 90), (110, 190, 110), (90, 150, 220),
                                 (140, 110, 200))):
            rr = r - i * c.u * 0.022
            c.d.arc([cx - rr, gy - rr * 0.6, cx + rr, gy + rr * 1.4], 180, 360, fill=col + (120,),
                    width=int(c.u * 0.024))
    base = {"day": (255, 255, 255), "dawn": (255, 240, 236), "dusk": (250, 206, 196), "night": (110, 120, 160)}
    col = base[c.pal.time_of_day]
    if c.pal.weather == "rain":
        col = mix(col, (160, 166, 180), 0.4)
    elif c.pal.weather == "storm":
        col = mix(col, (104, 110, 126), 0.6)
    k = c.u * 0.09
    shade = mul(col, 0.88)
    for layer, (dy, cc) in enumerate(((-0.2, shade), (0.0, col))):
        x = -k
        while x < c.W + k:
            y = gy + dy * k + rng.uniform(-0.3, 0.3) * k
            r = k * rng.uniform(0.9, 1.4)
            c.d.ellipse([x - r, y - r * 0.8, x + r, y + r * 0.8], fill=cc)
            x += k * rng.uniform(0.9, 1.3)
        c.d.rectangle([0, gy + dy * k, c.W, c.H], fill=cc)
    for _ in range(int(12 * c.W / c.u)):
        x, y = rng.uniform(0, c.W), rng.uniform(gy + k, c.H)
        r = k * rng.uniform(0.4, 0.8)
        c.d.arc([x - r, y - r * 0.6, x + r, y + r * 0.6], 200, 340, fill=shade, width=max(1, int(c.u * 0.004)))
    return {"sky_only": True}


def _set_space(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    bg = gradient(c.W, c.H, [(0, (8, 6, 28)), (c.H * 0.6, (30, 20, 70)), (c.H, (50, 30, 90))])
    c.img.paste(bg)
    for _ in range(3):  # nebula haze
        x, y, r = rng.uniform(0, c.W), rng.uniform(0, gy), c.u * rng.uniform(0.2, 0.4)
        col = rng.choice(((120, 60, 160), (60, 90, 180), (160, 60, 120)))
        for i in range(6, 0, -1):
            rr = r * i / 6
            c.d.ellipse([x - rr, y - rr * 0.6, x + rr, y + rr * 0.6], fill=col + (14,))
    _stars(c, gy, int(220 * c.W * c.H / (c.u * c.u)))
    # a ringed planet and a small blue one
    px, py, pr = c.W * rng.uniform(0.15, 0.85), c.H * rng.uniform(0.15, 0.3), c.u * 0.09
    ring = (230, 200, 150)
    c.d.arc([px - pr * 2, py - pr * 0.5, px + pr * 2, py + pr * 0.5], 180, 360, fill=ring, width=int(pr * 0.12))
    body = c.pal.accent(rng.randint(0, 9))
    c.d.ellipse([px - pr, py - pr, px + pr, py + pr], fill=body)
    c.d.chord([px - pr, py - pr, px + pr, py + pr], 300, 60, fill=mul(body, 0.8))
    c.d.chord([px - pr * 0.9, py - pr * 0.9, px + pr * 0.3, py + pr * 0.1], 180, 270, fill=mix(body, (255, 255, 255), 0.25))
    c.d.arc([px - pr * 2, py - pr * 0.5, px + pr * 2, py + pr * 0.5], 0, 180, fill=ring, width=int(pr * 0.12))
    qx, qy, qr = (px + c.W * 0.45) % c.W, c.H * rng.uniform(0.12, 0.25), c.u * 0.04
    c.d.ellipse([qx - qr, qy - qr, qx + qr, qy + qr], fill=(90, 150, 230))
    c.d.ellipse([qx - qr * 0.5, qy - qr * 0.6, qx + qr * 0.1, qy], fill=(110, 190, 110))
    # the moon's surface
    surf = (176, 172, 190)
    _hills(c, gy - c.H * 0.06, c.H * 0.05, mul(surf, 0.8), rng.uniform(0, 6), freq=0.6)
    _hills(c, gy - c.H * 0.02, c.H * 0.03, surf, rng.uniform(0, 6), freq=0.5)
    for _ in range(int(10 * c.W / c.u)):
        x, y = rng.uniform(0, c.W), rng.uniform(gy, c.H)
        r = c.u * rng.uniform(0.02, 0.06) * (0.5 + (y - gy) / (c.H - gy))
        c.d.ellipse([x - r, y - r * 0.35, x + r, y + r * 0.35], fill=mul(surf, 0.75))
        c.d.ellipse([x - r * 0.85, y - r * 0.2, x + r * 0.85, y + r * 0.35], fill=mul(surf, 0.88))
    return {"ground_color": surf}


def _set_cave(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    rock = (96, 84, 92)
    lamp = 0.85 if c.night else 1.0
    bg = gradient(c.W, c.H, [(0, mul(rock, 0.45 * lamp)), (hy, mul(rock, 0.8 * lamp)), (c.H, mul(rock, 0.6 * lamp))])
    c.img.paste(bg)
    # an opening at the back showing the sky
    ox, oy = c.W * rng.uniform(0.3, 0.7), hy - c.H * 0.05
    ow, oh = c.u * 0.36, c.H * 0.3
    from PIL import Image, ImageDraw

    mask = Image.new("L", (int(ow), int(oh)), 0)
    ImageDraw.Draw(mask).ellipse([0, 0, ow - 1, oh * 1.6], fill=255)
    sky = gradient(int(ow), int(oh), [(0, c.pal.sky_mid), (oh, c.pal.sky_horizon)])
    c.img.paste(sky, (int(ox - ow / 2), int(oy - oh / 2)), mask)
    c.d.rectangle([ox - ow / 2, oy + oh * 0.3, ox + ow / 2, oy + oh / 2], fill=c.lit((110, 160, 90), 0.4))
    _glow(c, ox, oy, ow * 0.35, mix(c.pal.sky_horizon, (255, 255, 255), 0.3), rings=6, alpha=12)
    wall = mul(rock, 0.9 * lamp)
    for layer, (col, depth) in enumerate(((mul(rock, 0.7 * lamp), 1.0), (mul(rock, 0.55 * lamp), 1.4))):
        x = -c.u * 0.05
        while x < c.W:  # stalactites
            w = c.u * rng.uniform(0.04, 0.09) * depth
            h = c.H * rng.uniform(0.06, 0.2) * depth
            c.d.polygon([(x, 0), (x + w / 2, h), (x + w, 0)], fill=col)
            x += w * rng.uniform(0.8, 1.6)
    _hills(c, hy + c.H * 0.04, c.H * 0.04, wall, rng.uniform(0, 6))
    floor = mul((120, 104, 100), lamp)
    _hills(c, hy + (gy - hy) * 0.5, c.H * 0.02, floor, rng.uniform(0, 6))
    for _ in range(int(4 * c.W / c.u)):  # stalagmites
        x = rng.uniform(0, c.W)
        if any(abs(x / c.W - a) < 0.08 for a in avoid):
            continue
        w, h = c.u * rng.uniform(0.04, 0.08), c.H * rng.uniform(0.08, 0.2)
        y = hy + (gy - hy) * rng.uniform(0.5, 0.8)
        c.d.polygon([(x - w / 2, y), (x, y - h), (x + w / 2, y)], fill=mul(rock, 0.75 * lamp))
    for _ in range(int(6 * c.W / c.u)):  # glowing crystals
        x, y = rng.uniform(0, c.W), rng.uniform(hy, c.H)
        k = c.u * rng.uniform(0.012, 0.025)
        col = rng.choice(((140, 220, 255), (200, 150, 255), (150, 255, 200)))
        _glow(c, x, y - k, k, col, rings=4, alpha=22)
        c.d.polygon([(x - k * 0.5, y), (x, y - k * 2.2), (x + k * 0.5, y)], fill=col)
        c.d.polygon([(x + k * 0.3, y), (x + k * 0.8, y - k * 1.3), (x + k * 1.0, y)], fill=mul(col, 0.85))
    return {"weather_box": (ox - ow / 2, oy - oh / 2, ox + ow / 2, oy + oh / 2), "ground_color": floor}


# ---------------------------------------------------------------- indoors

_INDOOR_LIGHT = {"dawn": (0.97, 0.92, 0.88), "day": (1.0, 1.0, 1.0), "dusk": (0.9, 0.8, 0.7),
                 "night": (0.74, 0.6, 0.46)}
_MOON_LIGHT = {"dawn": (0.96, 0.94, 0.93), "day": (1.0, 1.0, 1.0), "dusk": (0.9, 0.87, 0.88),
               "night": (0.66, 0.7, 0.8)}


def _window(c: _Ctx, x0: float, y0: float, x1: float, y1: float, frame: Color, arch: bool = False) -> tuple:
    """A window showing the sky; returns its glass box."""
    from PIL import Image, ImageDraw

    w, h = int(x1 - x0), int(y1 - y0)
    sub = Image.new("RGB", (w, h))
    inner = _Ctx(sub, c.outdoor, c.rng, c.ss, "sky")
    _sky(inner, h * 0.85)
    _sky_things(inner, h * 0.85, c.outdoor.weather)
    _hills(inner, h * 0.95, h * 0.12, c.outdoor.lit((120, 170, 100), 0.4), c.rng.uniform(0, 6))
    mask = Image.new("L", (w, h), 255)
    if arch:
        mask = Image.new("L", (w, h), 0)
        md = ImageDraw.Draw(mask)
        md.ellipse([0, 0, w - 1, w - 1], fill=255)
        md.rectangle([0, w / 2, w, h], fill=255)
    fw = c.u * 0.016
    fmask = mask.resize((w + int(2 * fw), h + int(2 * fw)))
    c.img.paste(frame, (int(x0 - fw), int(y0 - fw)), fmask)
    c.img.paste(sub, (int(x0), int(y0)), mask)
    bar = max(1, int(c.u * 0.01))
    c.d.line([(x0 + x1) / 2, y0 + (w / 2 if arch else 0), (x0 + x1) / 2, y1], fill=frame, width=bar)
    c.d.line([x0, (y0 + y1) / 2 + (w * 0.2 if arch else 0), x1, (y0 + y1) / 2 + (w * 0.2 if arch else 0)],
             fill=frame, width=bar)
    return (x0, y0 + (w / 2 if arch else 0), x1, y1)


def _room(c: _Ctx, gy: float, wall: Color, floor: Color, stripes: bool = True) -> float:
    floor_y = gy - (c.H - gy) * 1.2
    c.img.paste(gradient(c.W, int(floor_y) + 1, [(0, mul(c.lit(wall), 0.9)), (floor_y, c.lit(wall))]))
    if stripes:
        k = c.u * 0.06
        col = mul(c.lit(wall), 0.95)
        for i in range(int(c.W / k) + 1):
            if i % 2 == 0:
                c.d.rectangle([i * k, 0, i * k + k * 0.4, floor_y], fill=col)
    c.img.paste(gradient(c.W, int(c.H - floor_y) + 1, [(0, mul(c.lit(floor), 0.85)), (c.H - floor_y, c.lit(floor))]),
                (0, int(floor_y)))
    plank = mul(c.lit(floor), 0.8)
    for i in range(1, 8):  # floorboards
        y = floor_y + (c.H - floor_y) * (i / 8) ** 1.4
        c.d.line([0, y, c.W, y], fill=plank, width=max(1, c.ss))
    c.d.rectangle([0, floor_y - c.u * 0.02, c.W, floor_y], fill=mul(c.lit(wall), 0.7))
    return floor_y


def _lamp_glow(c: _Ctx, x: float, y: float) -> None:
    if c.dark:
        _glow(c, x, y, c.u * 0.05, (255, 210, 130), rings=8, alpha=16)


def _set_bedroom(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    wall = rng.choice(((200, 220, 240), (240, 220, 200), (220, 236, 210), (236, 214, 230)))
    floor_y = _room(c, gy, wall, (190, 140, 96))
    bed_left = rng.random() < 0.5
    wx = c.W * (0.7 if bed_left else 0.3)
    box = _window(c, wx - c.u * 0.13, c.H * 0.1, wx + c.u * 0.13, floor_y - c.H * 0.2, c.lit((250, 250, 245)))
    for side in (-1, 1):  # curtains
        cx = wx + side * c.u * 0.16
        c.d.rounded_rectangle([cx - c.u * 0.04, c.H * 0.07, cx + c.u * 0.04, floor_y - c.H * 0.16],
                              radius=c.u * 0.02, fill=c.lit(c.pal.accent(1)))
    bx = c.W * (0.02 if bed_left else 0.7)
    bw = c.W * 0.28
    top = floor_y - c.u * 0.06
    wood = c.lit((150, 100, 70))
    head_x = bx if bed_left else bx + bw - c.u * 0.045
    foot_x = bx + bw - c.u * 0.035 if bed_left else bx
    c.d.rounded_rectangle([head_x, top - c.u * 0.26, head_x + c.u * 0.045, gy], radius=c.u * 0.02, fill=wood)
    c.d.rounded_rectangle([foot_x, top - c.u * 0.06, foot_x + c.u * 0.035, gy], radius=c.u * 0.015,
                          fill=mul(wood, 0.9))
    c.d.rectangle([bx, gy - c.u * 0.1, bx + bw, gy - c.u * 0.05], fill=mul(wood, 0.85))
    px = bx + c.u * 0.055 if bed_left else bx + bw - c.u * 0.2
    c.d.rounded_rectangle([px, top - c.u * 0.06, px + c.u * 0.15, top + c.u * 0.03], radius=c.u * 0.03,
                          fill=c.lit((250, 250, 245)))
    quilt = c.lit(c.pal.accent(3))
    qx0 = bx + bw * 0.3 if bed_left else bx + c.u * 0.03
    qx1 = bx + bw - c.u * 0.03 if bed_left else bx + bw * 0.7
    c.d.rounded_rectangle([qx0, top - c.u * 0.01, qx1, gy - c.u * 0.07], radius=c.u * 0.03, fill=quilt)
    for i in range(4):  # quilt squares
        qx = qx0 + (qx1 - qx0) * (0.1 + 0.22 * i)
        c.d.rectangle([qx, top + c.u * 0.03, qx + (qx1 - qx0) * 0.12, top + c.u * 0.09],
                      fill=c.lit(c.pal.accent(4 + i)))
    # a picture on the wall and a lamp
    fx = c.W * (0.45 if bed_left else 0.55) + rng.uniform(-0.05, 0.05) * c.W
    c.d.rectangle([fx - c.u * 0.06, c.H * 0.16, fx + c.u * 0.06, c.H * 0.28], fill=c.lit((170, 120, 80)))
    c.d.rectangle([fx - c.u * 0.05, c.H * 0.175, fx + c.u * 0.05, c.H * 0.265], fill=c.lit((180, 220, 240)))
    c.d.polygon([(fx - c.u * 0.05, c.H * 0.265), (fx - c.u * 0.01, c.H * 0.2), (fx + c.u * 0.05, c.H * 0.265)],
                fill=c.lit((110, 170, 100)))
    # a rug
    rx = c.W * 0.5
    c.d.ellipse([rx - c.W * 0.25, gy - c.H * 0.04, rx + c.W * 0.25, gy + c.H * 0.08], fill=c.lit(c.pal.accent(5)))
    c.d.ellipse([rx - c.W * 0.21, gy - c.H * 0.025, rx + c.W * 0.21, gy + c.H * 0.065], fill=c.lit(c.pal.accent(6)))
    lx = c.W * (0.33 if bed_left else 0.67)
    c.d.rectangle([lx - c.u * 0.05, top - c.u * 0.02, lx + c.u * 0.05, floor_y + c.u * 0.04], fill=c.lit((170, 120, 80)))
    c.d.rectangle([lx - c.u * 0.006, top - c.u * 0.12, lx + c.u * 0.006, top - c.u * 0.02], fill=c.lit((90, 80, 70)))
    shade = (255, 220, 150) if c.dark else c.lit(c.pal.accent(2))
    c.d.polygon([(lx - c.u * 0.05, top - c.u * 0.1), (lx - c.u * 0.03, top - c.u * 0.17),
                 (lx + c.u * 0.03, top - c.u * 0.17), (lx + c.u * 0.05, top - c.u * 0.1)], fill=shade)
    _lamp_glow(c, lx, top - c.u * 0.13)
    return {"weather_box": box, "floor_y": floor_y}


def _set_kitchen(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    wall = rng.choice(((246, 236, 210), (220, 236, 230), (240, 226, 214)))
    floor_y = _room(c, gy, wall, (200, 170, 130), stripes=False)
    # tiles
    k = c.u * 0.05
    tile = mul(c.lit(wall), 0.93)
    for j in range(int(c.u * 0.3 / k) + 1):  # tiles above the counter
        for i in range(int(c.W / k) + 1):
            if (i + j) % 2 == 0:
                c.d.rectangle([i * k, floor_y - c.u * 0.3 + j * k, i * k + k, floor_y - c.u * 0.3 + (j + 1) * k],
                              fill=tile)
    k = c.u * 0.08
    light_sq, dark_sq = c.lit((236, 228, 212)), c.lit((170, 120, 90))
    c.d.rectangle([0, floor_y, c.W, c.H], fill=light_sq)
    for j in range(int((c.H - floor_y) / k) + 1):  # a checked floor
        for i in range(int(c.W / k) + 1):
            if (i + j) % 2 == 0:
                c.d.rectangle([i * k, floor_y + j * k, i * k + k, floor_y + (j + 1) * k], fill=dark_sq)
    c.d.rectangle([0, 0, c.W, floor_y - c.u * 0.3], fill=c.lit(wall))
    wx = c.W * rng.uniform(0.4, 0.6)
    box = _window(c, wx - c.u * 0.12, c.H * 0.08, wx + c.u * 0.12, c.H * 0.3, c.lit((250, 250, 245)))
    # upper cabinets
    cab = c.lit(c.pal.accent(4))
    for x in (c.W * 0.04, c.W * 0.72):
        c.d.rounded_rectangle([x, c.H * 0.06, x + c.W * 0.24, c.H * 0.28], radius=c.u * 0.01, fill=cab)
        c.d.line([x + c.W * 0.12, c.H * 0.06, x + c.W * 0.12, c.H * 0.28], fill=mul(cab, 0.8), width=max(1, c.ss * 2))
    # counter along the back wall
    ct = floor_y - c.u * 0.2
    c.d.rectangle([0, ct, c.W, floor_y], fill=mul(cab, 0.9))
    c.d.rectangle([0, ct - c.u * 0.02, c.W, ct + c.u * 0.01], fill=c.lit((236, 236, 236)))
    for i in range(int(c.W / (c.u * 0.2)) + 1):
        x = i * c.u * 0.2
        c.d.rectangle([x + c.u * 0.01, ct + c.u * 0.03, x + c.u * 0.19, floor_y - c.u * 0.02], outline=mul(cab, 0.75),
                      width=max(1, c.ss * 2))
        c.d.ellipse([x + c.u * 0.09, ct + c.u * 0.08, x + c.u * 0.11, ct + c.u * 0.1], fill=c.lit((230, 220, 180)))
    # pots and a kettle on the counter
    for j in range(3):
        px = c.W * rng.uniform(0.05, 0.95)
        r = c.u * rng.uniform(0.03, 0.05)
        col = c.lit(rng.choice(((200, 80, 60), (80, 120, 180), (240, 200, 80), (150, 150, 160))))
        c.d.rounded_rectangle([px - r, ct - c.u * 0.02 - r * 1.4, px + r, ct - c.u * 0.02], radius=r * 0.3, fill=col)
        c.d.rectangle([px - r * 1.2, ct - c.u * 0.02 - r * 1.5, px + r * 1.2, ct - c.u * 0.02 - r * 1.3], fill=mul(col, 0.8))
    # a hanging lamp
    lx = c.W * 0.5 + rng.uniform(-0.2, 0.2) * c.W
    c.d.line([lx, 0, lx, c.H * 0.12], fill=c.lit((60, 60, 60)), width=max(1, c.ss))
    c.d.chord([lx - c.u * 0.06, c.H * 0.1, lx + c.u * 0.06, c.H * 0.2], 180, 360,
              fill=(255, 220, 150) if c.dark else c.lit(c.pal.accent(0)))
    _lamp_glow(c, lx, c.H * 0.16)
    return {"weather_box": box, "floor_y": floor_y}


def _set_classroom(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    wall = rng.choice(((236, 230, 200), (214, 230, 222), (230, 220, 236)))
    floor_y = _room(c, gy, wall, (180, 150, 110), stripes=False)
    bx0, bx1 = c.W * 0.22, c.W * 0.78
    by0, by1 = c.H * 0.1, floor_y - c.u * 0.18
    c.d.rectangle([bx0 - c.u * 0.015, by0 - c.u * 0.015, bx1 + c.u * 0.015, by1 + c.u * 0.015], fill=c.lit((160, 110, 70)))
    c.d.rectangle([bx0, by0, bx1, by1], fill=c.lit((50, 90, 70)))
    chalk = c.lit((236, 240, 230))
    for i in range(4):  # chalk scribbles: letters, numbers, a sun
        y = by0 + (by1 - by0) * (0.2 + 0.18 * i)
        x = bx0 + (bx1 - bx0) * 0.08
        while x < bx0 + (bx1 - bx0) * rng.uniform(0.45, 0.6):
            w = c.u * rng.uniform(0.015, 0.035)
            c.d.arc([x, y - w, x + w, y + w * 0.2], rng.randint(0, 180), rng.randint(200, 360), fill=chalk,
                    width=max(1, int(c.u * 0.004)))
            x += w * 1.3
    sx, sy, sr = bx0 + (bx1 - bx0) * 0.8, by0 + (by1 - by0) * 0.35, c.u * 0.05
    c.d.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], outline=chalk, width=max(1, int(c.u * 0.004)))
    for a in range(8):
        ang = a * math.pi / 4
        c.d.line([sx + math.cos(ang) * sr * 1.3, sy + math.sin(ang) * sr * 1.3, sx + math.cos(ang) * sr * 1.7,
                  sy + math.sin(ang) * sr * 1.7], fill=chalk, width=max(1, int(c.u * 0.004)))
    c.d.rectangle([bx0, by1, bx1, by1 + c.u * 0.015], fill=c.lit((170, 130, 90)))
    # clock
    cx, cy, cr = c.W * 0.11, c.H * 0.16, c.u * 0.045
    c.d.ellipse([cx - cr, cy - cr, cx + cr, cy + cr], fill=c.lit((250, 250, 250)), outline=c.lit((60, 60, 60)),
                width=max(1, int(c.u * 0.006)))
    c.d.line([cx, cy, cx, cy - cr * 0.7], fill=c.lit((40, 40, 40)), width=max(1, int(c.u * 0.005)))
    c.d.line([cx, cy, cx + cr * 0.5, cy], fill=c.lit((40, 40, 40)), width=max(1, int(c.u * 0.005)))
    # bookshelf
    shx = c.W * 0.84
    c.d.rectangle([shx, c.H * 0.28, shx + c.W * 0.14, floor_y], fill=c.lit((150, 100, 66)))
    for j in range(3):
        y1 = c.H * 0.28 + (floor_y - c.H * 0.28) * (j + 1) / 3.2
        x = shx + c.W * 0.01
        while x < shx + c.W * 0.125:
            w = c.u * rng.uniform(0.012, 0.022)
            h = (floor_y - c.H * 0.28) / 3.2 * rng.uniform(0.6, 0.85)
            c.d.rectangle([x, y1 - h, x + w, y1], fill=c.lit(c.pal.accent(rng.randint(0, 9))))
            x += w + c.ss
    # desks in front
    dc = c.lit((200, 150, 100))
    for fx in (0.06, 0.94):
        if any(abs(fx - a) < 0.1 for a in avoid):
            continue
        x = c.W * fx
        c.d.rectangle([x - c.u * 0.14, gy - c.u * 0.2, x + c.u * 0.14, gy - c.u * 0.17], fill=dc)
        for lx in (x - c.u * 0.12, x + c.u * 0.11):
            c.d.rectangle([lx, gy - c.u * 0.17, lx + c.u * 0.015, gy], fill=mul(dc, 0.75))
    return {"floor_y": floor_y}


def _set_castle_hall(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    stone = (170, 160, 150)
    floor_y = _room(c, gy, stone, (150, 130, 120), stripes=False)
    # stone blocks
    k = c.u * 0.07
    mortar = mul(c.lit(stone), 0.82)
    for j in range(int(floor_y / (k * 0.5)) + 1):
        y = j * k * 0.5
        c.d.line([0, y, c.W, y], fill=mortar, width=max(1, c.ss))
        off = (j % 2) * k * 0.5
        for i in range(int(c.W / k) + 2):
            x = i * k + off
            c.d.line([x, y, x, y + k * 0.5], fill=mortar, width=max(1, c.ss))
    # tall arched windows
    n = 2 if c.W / c.H < 1.2 else 3
    box = None
    for i in range(n):
        x = c.W * (i + 1) / (n + 1)
        b = _window(c, x - c.u * 0.07, c.H * 0.08, x + c.u * 0.07, floor_y - c.H * 0.16, c.lit((110, 100, 96)),
                    arch=True)
        box = box or b
    # banners between
    for i in range(n + 1):
        x = c.W * (i + 0.5) / (n + 1)
        col = c.lit(c.pal.accent(0 if i % 2 else 5))
        c.d.rectangle([x - c.u * 0.04, c.H * 0.05, x + c.u * 0.04, c.H * 0.3], fill=col)
        c.d.polygon([(x - c.u * 0.04, c.H * 0.3), (x, c.H * 0.34), (x + c.u * 0.04, c.H * 0.3)], fill=col)
        c.d.ellipse([x - c.u * 0.02, c.H * 0.14, x + c.u * 0.02, c.H * 0.18], fill=c.lit((240, 200, 80)))
    # pillars at the sides
    for x in (c.W * 0.03, c.W * 0.97):
        c.d.rectangle([x - c.u * 0.05, 0, x + c.u * 0.05, gy + c.H * 0.05], fill=c.lit((190, 180, 170)))
        c.d.rectangle([x - c.u * 0.05, 0, x - c.u * 0.02, gy + c.H * 0.05], fill=c.lit((210, 202, 194)))
    # red carpet
    cx = c.W / 2
    c.d.polygon([(cx - c.u * 0.1, floor_y), (cx + c.u * 0.1, floor_y), (cx + c.u * 0.35, c.H), (cx - c.u * 0.35, c.H)],
                fill=c.lit((170, 40, 50)))
    # torches
    for x in (c.W * 0.12, c.W * 0.88):
        y = c.H * 0.36
        c.d.rectangle([x - c.u * 0.008, y, x + c.u * 0.008, y + c.u * 0.06], fill=c.lit((90, 70, 50)))
        c.d.ellipse([x - c.u * 0.015, y - c.u * 0.04, x + c.u * 0.015, y + c.u * 0.005], fill=(255, 180, 70))
        _glow(c, x, y - c.u * 0.015, c.u * 0.02, (255, 190, 100), rings=6, alpha=18)
    return {"weather_box": box, "floor_y": floor_y}


# ---------------------------------------------------------------- more places: helpers


def _far_x(c: _Ctx, avoid: tuple, cands: tuple) -> float:
    """The candidate x fraction furthest from where the characters stand (ties broken by the scene's rng)."""
    order = list(cands)
    c.rng.shuffle(order)
    return max(order, key=lambda f: min((abs(f - a) for a in avoid), default=1.0))


def _lw(c: _Ctx, k: float = 0.004) -> int:
    """A line width of k * the picture's short side, at least one pixel."""
    return max(1, int(c.u * k))


def _beam(c: _Ctx, x: float, y: float, direction: int, length: float, spread: float) -> None:
    """A lighthouse's light beam: nested translucent wedges from the lamp."""
    for i, alpha in enumerate((16, 20, 30)):
        k = 1.0 - i * 0.3
        c.d.polygon([(x, y - spread * 0.05), (x + direction * length, y - spread * k),
                     (x + direction * length, y + spread * k * 0.6), (x, y + spread * 0.05)],
                    fill=(255, 240, 180, alpha))


def _lighthouse(c: _Ctx, x: float, base: float, height: float) -> tuple[float, float]:
    """A red-and-white banded tower standing at (x, base); returns the lamp's centre."""
    g = height
    bw, tw = g * 0.2, g * 0.14
    red, white = c.lit((204, 48, 44), 0.1), c.lit((246, 244, 238), 0.1)
    bands = 6
    for i in range(bands):
        t0, t1 = i / bands, (i + 1) / bands
        y0, y1 = base - g * t0, base - g * t1
        w0, w1 = bw + (tw - bw) * t0, bw + (tw - bw) * t1
        c.d.polygon([(x - w0 / 2, y0), (x - w1 / 2, y1), (x + w1 / 2, y1), (x + w0 / 2, y0)],
                    fill=white if i % 2 == 0 else red)
    c.d.polygon([(x + bw * 0.16, base), (x + tw * 0.16, base - g), (x + tw / 2, base - g), (x + bw / 2, base)],
                fill=(0, 0, 0, 40))  # the shaded side
    dark = c.lit((60, 56, 60), 0.1)
    dw = bw * 0.28
    c.d.rounded_rectangle([x - dw / 2, base - bw * 0.55, x + dw / 2, base], radius=dw * 0.45, fill=dark)
    lamp_on = c.dark or _stormy(c)
    for t in (0.42, 0.7):
        wy = base - g * t
        ww = tw * 0.14
        c.d.rounded_rectangle([x - ww, wy - ww * 1.6, x + ww, wy + ww * 1.6], radius=ww * 0.8,
                              fill=(255, 214, 120) if c.night else dark)
    top = base - g
    rail = c.lit((48, 48, 54), 0.1)
    c.d.rectangle([x - tw * 0.8, top - g * 0.018, x + tw * 0.8, top + g * 0.012], fill=rail)  # gallery
    c.d.rectangle([x - tw * 0.72, top - g * 0.075, x + tw * 0.72, top - g * 0.066], fill=rail)
    for k in range(-3, 4):
        px = x + k * tw * 0.22
        c.d.line([px, top - g * 0.075, px, top - g * 0.018], fill=rail, width=max(1, int(g * 0.006)))
    lx, ly = x, top - g * 0.085
    glass = (255, 234, 150) if lamp_on else c.lit((200, 224, 234), 0.1)
    c.d.rectangle([x - tw * 0.36, top - g * 0.14, x + tw * 0.36, top - g * 0.02], fill=rail)
    c.d.rectangle([x - tw * 0.3, top - g * 0.132, x + tw * 0.3, top - g * 0.03], fill=glass)
    for k in (-0.1, 0.1):
        c.d.line([x + k * tw, top - g * 0.132, x + k * tw, top - g * 0.03], fill=rail, width=max(1, int(g * 0.008)))
    roof = c.lit((170, 40, 40), 0.1)
    c.d.chord([x - tw * 0.46, top - g * 0.22, x + tw * 0.46, top - g * 0.07], 180, 360, fill=roof)
    c.d.ellipse([x - tw * 0.07, top - g * 0.25, x + tw * 0.07, top - g * 0.21], fill=rail)
    if lamp_on:
        _glow(c, lx, ly, tw * 0.45, (255, 232, 160), rings=6, alpha=22)
    return lx, ly


def _set_lighthouse(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    storm = _stormy(c)
    far, near = _sea_colors(c)
    shore = hy + (gy - hy) * 0.45
    c.img.paste(gradient(c.W, int(shore - hy) + c.ss * 4, [(0, far), (shore - hy, near)]), (0, int(hy)))
    if storm:
        _rough_waves(c, hy + c.H * 0.006, shore, near, int(6 * c.H / u), scale=0.75)
    else:
        _waves(c, hy + c.H * 0.01, shore, c.lit((220, 240, 250), 0.2), int(7 * c.H / u), alpha=150)
    # a rocky headland at one side with the lighthouse on it
    fx = _far_x(c, avoid, (0.13, 0.87, 0.17, 0.83))
    left = fx < 0.5
    tx = fx * c.W
    top = hy - c.H * 0.03
    reach = u * 0.36

    def X(dx: float) -> float:  # measured from the tower, towards the middle of the picture
        return tx + (dx if left else -dx)

    edge = -c.W * 0.02 if left else c.W * 1.02
    rock = c.lit((118, 108, 102), 0.25)
    pts = [(edge, hy + c.H * 0.03), (edge, top + c.H * 0.01), (X(-u * 0.08), top), (X(u * 0.09), top + c.H * 0.003),
           (X(u * 0.17), top + c.H * 0.025), (X(u * 0.26), hy - c.H * 0.005), (X(reach), hy + c.H * 0.03)]
    c.d.polygon(pts, fill=rock)
    for _ in range(7):  # facets
        a = rng.uniform(-0.1, 0.3) * u
        y = rng.uniform(top + c.H * 0.01, hy + c.H * 0.02)
        s = u * rng.uniform(0.02, 0.05)
        c.d.polygon([(X(a), y), (X(a + s), y - s * 0.5), (X(a + s * 1.8), y + s * 0.1)], fill=mul(rock, 0.82))
    c.d.polygon([(edge, top + c.H * 0.006), (X(-u * 0.08), top - c.H * 0.004), (X(u * 0.09), top),
                 (X(u * 0.15), top + c.H * 0.018), (X(u * 0.1), top + c.H * 0.012), (edge, top + c.H * 0.016)],
                fill=c.lit((110, 150, 90), 0.25))  # grass on top
    foam = _foam(c)
    for _ in range(5):  # surf where the rocks meet the sea
        a = rng.uniform(0.0, 1.0) * reach
        y = hy + c.H * rng.uniform(0.01, 0.03)
        r = u * rng.uniform(0.012, 0.025)
        c.d.ellipse([X(a) - r, y - r * 0.4, X(a) + r, y + r * 0.3], fill=foam + (200,))
    if storm:  # waves bursting against the rocks
        for _ in range(3):
            a = rng.uniform(0.1, 0.9) * reach
            y = hy + c.H * rng.uniform(0.015, 0.03)
            k = u * rng.uniform(0.05, 0.09)
            for j in range(14):
                ang = math.radians(rng.uniform(-160, -20))
                dist = k * rng.uniform(0.2, 1.0)
                r = u * rng.uniform(0.003, 0.008) * (1.4 - dist / k)
                sx, sy = X(a) + math.cos(ang) * dist * 0.7, y + math.sin(ang) * dist
                c.d.ellipse([sx - r, sy - r, sx + r, sy + r], fill=foam + (rng.randint(150, 230),))
            c.d.chord([X(a) - k * 0.35, y - k * 0.25, X(a) + k * 0.35, y + k * 0.1], 180, 360, fill=foam + (170,))
    height = min(top - c.H * 0.1, u * 0.6)
    lx, ly = _lighthouse(c, tx, top + c.H * 0.006, height)
    if c.night or storm:
        _beam(c, lx, ly, 1 if left else -1, c.W * 1.2, height * 0.3)
        _beam(c, lx, ly, -1 if left else 1, c.W * 0.22, height * 0.12)
    # the shore the characters stand on: wet sand, surf, dry sand, rocks and pebbles
    sand = c.lit((230, 206, 160))
    wet = c.lit((176, 160, 130))
    _wave_band(c, shore - c.H * 0.004, c.H * (0.016 if storm else 0.006), foam, rng.uniform(0, 6), c.W / 5)
    _wave_band(c, shore + c.H * 0.01, c.H * 0.008, wet, rng.uniform(0, 6), c.W / 4)
    c.img.paste(gradient(c.W, int(c.H - shore) + 1, [(0, wet), (c.H * 0.04, sand), (c.H, c.lit((216, 190, 140)))]),
                (0, int(shore + c.H * 0.022)))
    stone = c.lit((128, 120, 116))
    for _ in range(int(5 * c.W / u)):  # pebbles and shells
        x, y = rng.uniform(0, c.W), rng.uniform(shore + c.H * 0.04, c.H)
        k = u * rng.uniform(0.006, 0.012)
        c.d.ellipse([x - k, y - k * 0.6, x + k, y + k * 0.6], fill=mix(stone, sand, rng.uniform(0.0, 0.4)))
    for _ in range(int(3 * c.W / u)):
        x, y = rng.uniform(0, c.W), rng.uniform(gy, c.H)
        k = u * 0.009
        c.d.chord([x - k, y - k, x + k, y + k], 180, 360, fill=c.lit((250, 210, 196)))
    for side_x in (X(-u * 0.02), X(u * 0.12)):  # big shore rocks below the headland
        if any(abs(side_x / c.W - a) < 0.1 for a in avoid):
            continue
        _rock(c, side_x, c.H * 0.995, u * rng.uniform(0.08, 0.12), c.lit((120, 112, 108)))
    weed = c.lit((70, 100, 60))
    for _ in range(int(4 * c.W / u)):
        x, y = rng.uniform(0, c.W), rng.uniform(shore + c.H * 0.05, c.H)
        k = u * 0.02
        for dx in (-0.5, 0.0, 0.5):
            c.d.line([x, y, x + dx * k, y - k], fill=weed, width=_lw(c, 0.003))
    # floor_y: props stand on the shore, not in the sea
    return {"water_y": hy + (shore - hy) * 0.55, "floor_y": shore + c.H * 0.02}


def _earth(c: _Ctx, x: float, y: float, r: float) -> None:
    """The Earth seen from the moon: blue oceans, green and tan land, white clouds, a night side."""
    from PIL import Image, ImageDraw

    rng = c.rng
    size = max(4, int(2 * r))
    _glow(c, x, y, r, (120, 170, 255), rings=3, alpha=16)
    disc = Image.new("RGB", (size, size), (36, 104, 206))
    dd = ImageDraw.Draw(disc, "RGBA")
    for i in range(4):  # land (mostly ocean still): the first continent green, on the sunlit side
        cx, cy, k = rng.uniform(0.1, 0.9) * size, rng.uniform(0.1, 0.9) * size, rng.uniform(0.09, 0.16) * size
        col = rng.choice(((84, 160, 80), (110, 170, 90), (190, 170, 110)))
        if i == 0:
            cx, cy, k, col = rng.uniform(0.22, 0.4) * size, rng.uniform(0.35, 0.6) * size, 0.16 * size, (84, 160, 80)
        for _ in range(3):
            ox, oy = rng.uniform(-0.6, 0.6) * k, rng.uniform(-0.6, 0.6) * k
            dd.ellipse([cx + ox - k, cy + oy - k * 0.7, cx + ox + k, cy + oy + k * 0.7], fill=col)
    for _ in range(5):  # clouds
        cx, cy, k = rng.uniform(0, 1) * size, rng.uniform(0, 1) * size, rng.uniform(0.08, 0.18) * size
        dd.ellipse([cx - k, cy - k * 0.25, cx + k, cy + k * 0.25], fill=(255, 255, 255, 170))
    dd.ellipse([size * 0.5, -size * 0.15, size * 1.6, size * 1.15], fill=(0, 6, 24, 150))  # night side
    dd.ellipse([size * 0.12, size * 0.1, size * 0.42, size * 0.36], fill=(255, 255, 255, 40))  # shine
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse([0, 0, size - 1, size - 1], fill=255)
    c.img.paste(disc, (int(x - size / 2), int(y - size / 2)), mask)


def _crater(c: _Ctx, x: float, y: float, r: float, ground: Color) -> None:
    f = 0.34  # flattened by perspective
    rim = mix(ground, (255, 255, 255), 0.12)
    c.d.ellipse([x - r * 1.12, y - r * f * 1.15, x + r * 1.12, y + r * f * 1.25], fill=rim)
    bowl = [x - r * 0.9, y - r * f * 0.85, x + r * 0.9, y + r * f * 0.9]
    c.d.ellipse(bowl, fill=mul(ground, 0.8))
    c.d.chord(bowl, 150, 330, fill=mul(ground, 0.64))  # the shadowed inner wall


def _set_moon(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    c.img.paste(gradient(c.W, c.H, [(0, (2, 2, 8)), (hy, (10, 10, 20)), (c.H, (10, 10, 20))]))
    _stars(c, hy, int(170 * c.W * c.H / (u * u)))
    ex = c.W * rng.choice((0.2, 0.28, 0.72, 0.8))
    _earth(c, ex, min(hy * 0.32, c.H * 0.2), u * 0.085)
    # jagged far ridges, rolling near ground
    far = c.lit((118, 118, 124))
    pts = []
    x, n = 0.0, 0
    while x < c.W + u * 0.1:
        pts.append((x, hy - c.H * rng.uniform(0.0, 0.06) * (1 if n % 2 else 0.3)))
        x += u * rng.uniform(0.05, 0.14)
        n += 1
    c.d.polygon(pts + [(c.W, hy + c.H * 0.1), (0, hy + c.H * 0.1)], fill=far)
    _hills(c, hy + c.H * 0.03, c.H * 0.035, c.lit((146, 146, 150)), rng.uniform(0, 6), freq=0.8)
    ground = c.lit((172, 172, 176))
    top = hy + c.H * 0.07
    c.img.paste(gradient(c.W, int(c.H - top) + 1, [(0, c.lit((154, 154, 158))), (c.H - top, ground)]), (0, int(top)))
    for _ in range(int(7 * c.W / u)):  # far craters on the ridge
        x, y = rng.uniform(0, c.W), rng.uniform(hy + c.H * 0.035, top)
        _crater(c, x, y, u * rng.uniform(0.015, 0.03), c.lit((146, 146, 150)))
    for _ in range(int(16 * c.W / u)):
        y = rng.uniform(top, c.H * 1.02)
        t = (y - top) / max(1.0, c.H - top)
        r = u * rng.uniform(0.02, 0.06) * (0.5 + 1.2 * t)
        _crater(c, rng.uniform(0, c.W), y, r, mix(c.lit((154, 154, 158)), ground, t))
    for _ in range(int(8 * c.W / u)):
        x, y = rng.uniform(0, c.W), rng.uniform(top, c.H)
        _rock(c, x, y, u * rng.uniform(0.008, 0.02) * (0.6 + (y - top) / max(1.0, c.H - top)), c.lit((130, 130, 134)))
    return {"ground_color": (172, 172, 176)}


def _barn(c: _Ctx, x: float, base: float, s: float) -> None:
    """A red gambrel-roofed barn of width s, centred on x, standing on base."""
    red, trim = c.lit((180, 52, 42), 0.15), c.lit((244, 238, 226), 0.15)
    roof = c.lit((90, 80, 84), 0.15)
    wall_h = s * 0.46
    c.d.rectangle([x - s / 2, base - wall_h, x + s / 2, base], fill=red)
    c.d.polygon([(x - s * 0.56, base - wall_h), (x - s * 0.42, base - wall_h - s * 0.24), (x, base - wall_h - s * 0.4),
                 (x + s * 0.42, base - wall_h - s * 0.24), (x + s * 0.56, base - wall_h)], fill=roof)
    c.d.polygon([(x - s * 0.48, base - wall_h), (x - s * 0.37, base - wall_h - s * 0.2), (x, base - wall_h - s * 0.33),
                 (x + s * 0.37, base - wall_h - s * 0.2), (x + s * 0.48, base - wall_h)], fill=red)
    lw = max(1, int(s * 0.018))
    for k in range(1, 9):  # boards
        bx = x - s / 2 + s * k / 9
        c.d.line([bx, base - wall_h, bx, base], fill=mul(red, 0.88), width=max(1, lw // 2))
    dw, dh = s * 0.34, wall_h * 0.78
    c.d.rectangle([x - dw / 2, base - dh, x + dw / 2, base], fill=mul(red, 0.82), outline=trim, width=lw)
    c.d.line([x - dw / 2, base - dh, x + dw / 2, base], fill=trim, width=lw)
    c.d.line([x - dw / 2, base, x + dw / 2, base - dh], fill=trim, width=lw)
    c.d.line([x, base - dh, x, base], fill=trim, width=lw)
    lh = s * 0.14  # hay loft door
    ly = base - wall_h - s * 0.08
    c.d.rectangle([x - lh / 2, ly - lh, x + lh / 2, ly], fill=c.lit((236, 196, 100), 0.15), outline=trim, width=lw)
    c.d.rectangle([x - s / 2, base - wall_h, x + s / 2, base], outline=trim, width=lw)


def _silo(c: _Ctx, x: float, base: float, w: float, h: float) -> None:
    body = c.lit((176, 184, 192), 0.15)
    c.d.rectangle([x - w / 2, base - h, x + w / 2, base], fill=body)
    c.d.rectangle([x + w * 0.12, base - h, x + w / 2, base], fill=mul(body, 0.86))
    c.d.chord([x - w / 2, base - h - w * 0.5, x + w / 2, base - h + w * 0.5], 180, 360,
              fill=c.lit((150, 150, 160), 0.15))
    for k in range(1, 6):
        c.d.line([x - w / 2, base - h * k / 6, x + w / 2, base - h * k / 6], fill=mul(body, 0.78),
                 width=max(1, int(w * 0.03)))


def _hay_bale(c: _Ctx, x: float, y: float, r: float) -> None:
    """A round hay bale seen from an angle: a rolled body and a spiral face."""
    hay = c.lit((226, 188, 96))
    c.d.rounded_rectangle([x - r * 1.6, y - r * 2, x + r * 0.2, y], radius=r * 0.5, fill=mul(hay, 0.86))
    c.d.ellipse([x - r * 0.75, y - r * 2, x + r * 0.75, y], fill=hay)
    for k in (0.25, 0.5, 0.75):
        c.d.arc([x - r * 0.75 * k, y - r - r * k, x + r * 0.75 * k, y - r + r * k], 30, 320, fill=mul(hay, 0.76),
                width=max(1, int(r * 0.07)))


def _set_farm(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    _hills(c, hy - c.H * 0.03, c.H * 0.08, c.lit((150, 186, 130), 0.6), rng.uniform(0, 6))
    _tree_row(c, hy - c.H * 0.005, u * 0.07, 0.5, int(4 * c.W / u), kinds="round", jitter=0.45)
    _hills(c, hy + c.H * 0.015, c.H * 0.035, c.lit((196, 200, 110), 0.4), rng.uniform(0, 6), bumps=(0.6, 0.2, 0.05))
    # a ploughed field: furrows running towards the hills
    f0, f1 = hy + c.H * 0.045, hy + (gy - hy) * 0.5
    soil = c.lit((150, 104, 70), 0.2)
    c.d.rectangle([0, f0, c.W, f1], fill=soil)
    vx = c.W * rng.uniform(0.3, 0.7)
    step_b = u * 0.07
    n = int(c.W / step_b) + 8
    for i in range(-n, n):
        xb = vx + i * step_b
        xt = vx + i * step_b * 0.3
        c.d.polygon([(xt, f0), (xt + step_b * 0.3 * 0.45, f0), (xb + step_b * 0.45, f1), (xb, f1)], fill=mul(soil, 0.8))
    grass_near, grass_far = (104, 168, 74), (124, 180, 88)
    hedge = c.lit((96, 146, 74), 0.3)
    c.d.rectangle([0, f0 - c.H * 0.004, c.W, f0 + c.H * 0.006], fill=hedge)
    for i in range(int(c.W / (u * 0.03)) + 1):
        c.d.ellipse([i * u * 0.03 - u * 0.012, f0 - c.H * 0.012, i * u * 0.03 + u * 0.02, f0 + c.H * 0.004], fill=hedge)
    _ground(c, f1, grass_near, grass_far)
    # barn and silo on the side away from the characters
    bf = _far_x(c, avoid, (0.16, 0.84, 0.2, 0.8))
    s = min(u * 0.4, c.W * 0.34)
    base = f1 + c.H * 0.015
    _barn(c, bf * c.W, base, s)
    out = -1 if bf < 0.5 else 1  # the silo goes on the outer side if there is room
    sx = bf * c.W + out * s * 0.72
    if not (s * 0.1 < sx < c.W - s * 0.1):
        sx = bf * c.W - out * s * 0.72
    _silo(c, sx, base, s * 0.26, s * 0.92)
    x0, x1 = (bf * c.W + s * 0.58, c.W) if bf < 0.5 else (0, bf * c.W - s * 0.58)
    _fence(c, f1 + c.H * 0.02, u * 0.05, c.lit((176, 136, 96), 0.1), x0, x1)
    for _ in range(3):  # hay bales on the field and in the grass
        fx = _far_x(c, avoid + (bf,), tuple(x / 20 for x in range(1, 20)))
        y = rng.uniform(f0 + (f1 - f0) * 0.5, f1 + c.H * 0.02)
        _hay_bale(c, fx * c.W, y, u * 0.028 * (0.8 + (y - f0) / max(1.0, f1 - f0) * 0.5))
        avoid = avoid + (fx,)
    _grass_tufts(c, f1 + c.H * 0.05, c.H, int(40 * c.W / u), c.lit((90, 150, 62)))
    _flowers(c, f1 + c.H * 0.06, c.H, int(14 * c.W / u))
    return {}


def _castle_building(c: _Ctx, cx: float, y0: float, k: float) -> None:
    """A castle of width k on a hilltop: towers with cone roofs and flags, a keep, a wall and a gate."""
    rng = c.rng
    stone = c.lit((198, 188, 172), 0.28)
    shade = mul(stone, 0.84)
    roof = c.lit(rng.choice(((72, 90, 160), (176, 64, 60), (96, 70, 140))), 0.28)
    flag_cols = [c.lit(c.pal.accent(i), 0.2) for i in (0, 2, 5)]
    lit_win = (255, 214, 120)
    dark_win = c.lit((60, 56, 66), 0.28)
    win = lit_win if c.dark else dark_win

    def merlons(x0: float, x1: float, y: float, col: Color) -> None:
        m = k * 0.035
        x = x0
        while x < x1 - m * 0.5:
            c.d.rectangle([x, y - m * 0.9, min(x1, x + m), y], fill=col)
            x += m * 2

    def tower(x: float, w: float, h: float, col: Color, flag: Color | None) -> None:
        c.d.rectangle([x - w / 2, y0 - h, x + w / 2, y0], fill=col)
        c.d.rectangle([x + w * 0.18, y0 - h, x + w / 2, y0], fill=mul(col, 0.88))
        c.d.rectangle([x - w * 0.6, y0 - h - k * 0.02, x + w * 0.6, y0 - h + k * 0.01], fill=mul(col, 0.92))
        for t in (0.35, 0.65):
            c.d.rounded_rectangle([x - w * 0.08, y0 - h * t - w * 0.2, x + w * 0.08, y0 - h * t + w * 0.2],
                                  radius=w * 0.08, fill=win)
        rh = w * 1.2
        apex = (x, y0 - h - k * 0.02 - rh)
        c.d.polygon([(x - w * 0.62, y0 - h - k * 0.02), apex, (x + w * 0.62, y0 - h - k * 0.02)], fill=roof)
        c.d.polygon([apex, (x + w * 0.62, y0 - h - k * 0.02), (x + w * 0.15, y0 - h - k * 0.02)], fill=mul(roof, 0.8))
        if flag:
            pole = apex[1] - k * 0.09
            c.d.line([x, apex[1], x, pole], fill=c.lit((70, 60, 50), 0.2), width=max(1, int(k * 0.008)))
            c.d.polygon([(x, pole), (x + k * 0.08, pole + k * 0.018), (x, pole + k * 0.036)], fill=flag)

    back = mul(stone, 0.9)
    tower(cx - k * 0.22, k * 0.1, k * 0.4, back, flag_cols[1])  # towers behind the keep
    tower(cx + k * 0.22, k * 0.1, k * 0.36, back, None)
    c.d.rectangle([cx - k * 0.15, y0 - k * 0.46, cx + k * 0.15, y0], fill=stone)  # the keep
    c.d.rectangle([cx + k * 0.06, y0 - k * 0.46, cx + k * 0.15, y0], fill=shade)
    merlons(cx - k * 0.15, cx + k * 0.15, y0 - k * 0.46, stone)
    for dx in (-0.08, 0.0, 0.08):
        c.d.rounded_rectangle([cx + dx * k - k * 0.018, y0 - k * 0.4, cx + dx * k + k * 0.018, y0 - k * 0.33],
                              radius=k * 0.018, fill=win)
    fp = y0 - k * 0.46 - k * 0.15
    c.d.line([cx, y0 - k * 0.5, cx, fp], fill=c.lit((70, 60, 50), 0.2), width=max(1, int(k * 0.008)))
    c.d.polygon([(cx, fp), (cx + k * 0.11, fp + k * 0.025), (cx, fp + k * 0.05)], fill=flag_cols[0])
    wall_h = k * 0.2
    c.d.rectangle([cx - k * 0.42, y0 - wall_h, cx + k * 0.42, y0], fill=stone)  # the curtain wall
    merlons(cx - k * 0.42, cx + k * 0.42, y0 - wall_h, stone)
    c.d.line([cx - k * 0.42, y0 - wall_h * 0.55, cx + k * 0.42, y0 - wall_h * 0.55], fill=shade,
             width=max(1, int(k * 0.004)))
    for side in (-1, 1):  # corner towers
        tower(cx + side * k * 0.42, k * 0.14, k * 0.34, stone, flag_cols[2] if side > 0 else flag_cols[1])
    gw, gh = k * 0.13, k * 0.15  # the gate
    c.d.rectangle([cx - gw * 0.75, y0 - gh * 1.15, cx + gw * 0.75, y0], fill=shade)
    c.d.rounded_rectangle([cx - gw / 2, y0 - gh, cx + gw / 2, y0 + 2], radius=gw / 2, fill=c.lit((50, 40, 40), 0.28))
    for i in range(1, 4):
        gx = cx - gw / 2 + gw * i / 4
        c.d.line([gx, y0 - gh * 0.9, gx, y0], fill=c.lit((110, 100, 90), 0.28), width=max(1, int(k * 0.005)))
    for i in range(1, 4):
        gy_ = y0 - gh * i / 4
        c.d.line([cx - gw / 2, gy_, cx + gw / 2, gy_], fill=c.lit((110, 100, 90), 0.28), width=max(1, int(k * 0.005)))
    if c.night:
        for x in (cx - k * 0.08, cx, cx + k * 0.08):
            _glow(c, x, y0 - k * 0.37, k * 0.02, (255, 210, 120), rings=3, alpha=16)


def _set_castle(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    _hills(c, hy - c.H * 0.02, c.H * 0.07, c.lit((150, 186, 140), 0.65), rng.uniform(0, 6))
    cx = c.W * rng.uniform(0.4, 0.6)
    top = hy - c.H * 0.05
    hw = min(u * 0.7, c.W * 0.55)  # the castle's hill
    pts = []
    for i in range(41):
        t = i / 40
        x = cx - hw + 2 * hw * t
        y = top + (hy + c.H * 0.06 - top) * (1 - math.cos(math.pi * (2 * t - 1) / 2) ** 1.6)
        pts.append((x, y))
    c.d.polygon([(cx - hw * 1.5, hy + c.H * 0.08)] + pts + [(cx + hw * 1.5, hy + c.H * 0.08)],
                fill=c.lit((124, 172, 92), 0.35))
    k = min(u * 0.62, c.W * 0.8, (top - c.H * 0.06) / 0.72)
    _castle_building(c, cx, top + c.H * 0.012, k)
    _tree_row(c, hy + c.H * 0.04, u * 0.07, 0.4, int(3 * c.W / u), kinds="round", jitter=0.45,
              avoid=((cx / c.W) - hw / c.W * 0.6, cx / c.W, (cx / c.W) + hw / c.W * 0.6))
    _ground(c, hy + c.H * 0.07, (104, 168, 74), (124, 180, 90))
    path = c.lit((214, 194, 150), 0.1)  # the road up to the gate
    pl, pr = [], []
    for i in range(21):
        t = i / 20
        y = top + c.H * 0.012 + (c.H - top) * t
        x = cx + math.sin(t * 3.2) * u * 0.06 * t + t * t * (c.W * 0.5 - cx)
        half = k * 0.05 + u * 0.14 * t * t
        pl.append((x - half, y))
        pr.append((x + half, y))
    c.d.polygon(pl + pr[::-1], fill=path)
    for side in (0, 1):  # trees framing the picture
        fx = rng.uniform(0.02, 0.08) if side == 0 else rng.uniform(0.92, 0.98)
        if any(abs(fx - a) < 0.1 for a in avoid):
            continue
        _tree_round(c, fx * c.W, gy + c.H * 0.02, u * 0.34, (76, 136, 70), 0.0)
    _flowers(c, hy + c.H * 0.1, c.H, int(30 * c.W / u))
    _grass_tufts(c, hy + c.H * 0.1, c.H, int(40 * c.W / u), c.lit((90, 150, 62)))
    return {}


def _awning(c: _Ctx, x0: float, x1: float, y: float, h: float, col: Color) -> None:
    """A striped shop awning from x0 to x1, hanging from y, h deep, with a scalloped edge."""
    stripes = max(3, int((x1 - x0) / (c.u * 0.04)))
    sw = (x1 - x0) / stripes
    white = c.lit((246, 242, 232), 0.1)
    for i in range(stripes):
        sx = x0 + i * sw
        fill = col if i % 2 == 0 else white
        c.d.polygon([(sx + sw * 0.15, y), (sx + sw * 1.15, y), (sx + sw, y + h), (sx, y + h)], fill=fill)
        c.d.chord([sx, y + h - sw * 0.5, sx + sw, y + h + sw * 0.5], 0, 180, fill=fill)
    c.d.rectangle([x0 + sw * 0.15, y - h * 0.08, x1 + sw * 0.15, y], fill=mul(col, 0.7))


def _street_window(c: _Ctx, x: float, y: float, w: float, h: float, wall: Color, shutters: bool) -> None:
    """A window centred at (x, y): frame, panes, sill; lit at night; optional shutters and flower box."""
    if c.dark and c.rng.random() < 0.7:
        glass = (255, 214, 120)
    else:
        glass = c.lit((90, 110, 150) if c.dark else (150, 190, 220), 0.1)
    frame = c.lit((250, 248, 240), 0.1)
    if shutters:
        sc = c.lit(c.pal.accent(c.rng.randint(0, 9)), 0.1)
        c.d.rectangle([x - w * 0.95, y - h / 2, x - w * 0.55, y + h / 2], fill=sc)
        c.d.rectangle([x + w * 0.55, y - h / 2, x + w * 0.95, y + h / 2], fill=sc)
    c.d.rectangle([x - w / 2, y - h / 2, x + w / 2, y + h / 2], fill=frame)
    b = w * 0.09
    c.d.rectangle([x - w / 2 + b, y - h / 2 + b, x + w / 2 - b, y + h / 2 - b], fill=glass)
    c.d.line([x, y - h / 2, x, y + h / 2], fill=frame, width=max(1, int(b * 0.8)))
    c.d.line([x - w / 2, y, x + w / 2, y], fill=frame, width=max(1, int(b * 0.8)))
    c.d.rectangle([x - w * 0.6, y + h / 2, x + w * 0.6, y + h / 2 + w * 0.08], fill=mul(wall, 0.8))
    if glass == (255, 214, 120) and c.night:
        _glow(c, x, y, w * 0.3, (255, 210, 120), rings=3, alpha=14)


def _street_front(c: _Ctx, x0: float, x1: float, base: float, storeys: int, shop: bool) -> float:
    """One house or shop front in a terrace, from x0 to x1 standing on base; returns its top y."""
    rng, u = c.rng, c.u
    w = x1 - x0
    gh, uh = u * 0.44, u * 0.27  # ground floor and upper storey heights; the door is about a person's height
    wall = c.lit(rng.choice(((240, 222, 190), (232, 200, 180), (214, 226, 210), (236, 214, 206), (246, 236, 214),
                             (210, 214, 230), (226, 190, 150))), 0.05)
    roof = c.lit(rng.choice(((150, 80, 66), (110, 100, 116), (96, 90, 100), (170, 100, 70))), 0.05)
    wall_top = base - gh - uh * storeys
    gable = rng.random() < 0.5
    rh = u * (0.12 if gable else 0.07)
    # chimney, roof, wall
    chx = x0 + w * rng.uniform(0.2, 0.8)
    c.d.rectangle([chx - u * 0.02, wall_top - rh - u * 0.06, chx + u * 0.02, wall_top], fill=c.lit((160, 90, 70), 0.05))
    if gable:
        c.d.polygon([(x0 - u * 0.015, wall_top), ((x0 + x1) / 2, wall_top - rh - w * 0.18), (x1 + u * 0.015, wall_top)],
                    fill=roof)
    else:
        c.d.polygon([(x0 - u * 0.01, wall_top), (x0 + u * 0.03, wall_top - rh), (x1 - u * 0.03, wall_top - rh),
                     (x1 + u * 0.01, wall_top)], fill=roof)
    c.d.rectangle([x0, wall_top, x1, base], fill=wall)
    c.d.rectangle([x0, wall_top, x1, wall_top + u * 0.014], fill=mul(wall, 0.84))  # cornice
    c.d.line([x1, wall_top, x1, base], fill=mul(wall, 0.72), width=_lw(c, 0.004))
    for s in range(storeys):  # upper windows
        wy = base - gh - uh * (s + 0.5)
        n = 2 if w > u * 0.3 else 1
        for i in range(n):
            _street_window(c, x0 + w * (i + 0.5) / n, wy, u * 0.09, uh * 0.56, wall, shutters=not shop)
    dw, dh = u * 0.15, u * 0.36
    door_col = c.lit(c.pal.accent(rng.randint(0, 9)), 0.05)
    if shop:
        left_door = rng.random() < 0.5
        dx = x0 + w * (0.18 if left_door else 0.82)
        c.d.rectangle([x0 + w * 0.04, base - gh * 0.97, x1 - w * 0.04, base - gh * 0.82],
                      fill=c.lit((50, 70, 60), 0.05))
        for i in range(int(w / (u * 0.05))):  # the shop's sign: letters as blocks
            c.d.rectangle([x0 + w * 0.12 + i * u * 0.04, base - gh * 0.93, x0 + w * 0.12 + i * u * 0.04 + u * 0.025,
                           base - gh * 0.86], fill=c.lit((236, 210, 130), 0.05))
            if x0 + w * 0.12 + (i + 2) * u * 0.04 > x1 - w * 0.12:
                break
        wx0, wx1 = (dx + dw * 0.7, x1 - w * 0.06) if left_door else (x0 + w * 0.06, dx - dw * 0.7)
        wy0, wy1 = base - gh * 0.72, base - u * 0.07
        c.d.rectangle([wx0, wy0, wx1, wy1], fill=c.lit((250, 248, 240), 0.05))
        glass = (255, 222, 150) if c.dark else c.lit((170, 204, 226), 0.05)
        c.d.rectangle([wx0 + u * 0.01, wy0 + u * 0.01, wx1 - u * 0.01, wy1 - u * 0.01], fill=glass)
        gx = wx0 + u * 0.025
        while gx < wx1 - u * 0.05:  # goods on display
            gw_ = u * rng.uniform(0.025, 0.045)
            c.d.rounded_rectangle([gx, wy1 - u * 0.01 - gw_ * rng.uniform(0.8, 1.6), gx + gw_, wy1 - u * 0.01],
                                  radius=gw_ * 0.2, fill=c.lit(c.pal.accent(rng.randint(0, 9)), 0.05))
            gx += gw_ + u * 0.012
        if c.dark:
            _glow(c, (wx0 + wx1) / 2, (wy0 + wy1) / 2, (wx1 - wx0) * 0.25, (255, 214, 140), rings=4, alpha=14)
        _awning(c, x0 + w * 0.02, x1 - w * 0.06, base - gh * 0.8, u * 0.07,
                c.lit(c.pal.accent(rng.randint(0, 9)), 0.05))
    else:
        dx = x0 + w * rng.choice((0.28, 0.72))
        _street_window(c, x0 + w * (0.74 if dx < x0 + w / 2 else 0.26), base - gh * 0.5, u * 0.1, u * 0.14, wall,
                       shutters=True)
        c.d.rectangle([dx - dw * 0.8, base - dh - u * 0.04, dx + dw * 0.8, base - dh - u * 0.02], fill=mul(wall, 0.8))
    c.d.rounded_rectangle([dx - dw / 2 - u * 0.01, base - dh - u * 0.01, dx + dw / 2 + u * 0.01, base],
                          radius=dw * 0.3, fill=c.lit((250, 248, 240), 0.05))
    c.d.rounded_rectangle([dx - dw / 2, base - dh, dx + dw / 2, base], radius=dw * 0.28, fill=door_col)
    c.d.rectangle([dx - dw * 0.3, base - dh * 0.8, dx + dw * 0.3, base - dh * 0.55],
                  fill=(255, 220, 140) if c.night else mul(door_col, 0.8))
    c.d.rectangle([dx - dw * 0.3, base - dh * 0.45, dx + dw * 0.3, base - dh * 0.1], fill=mul(door_col, 0.85))
    c.d.ellipse([dx + dw * 0.28, base - dh * 0.5, dx + dw * 0.4, base - dh * 0.44], fill=c.lit((230, 190, 80)))
    c.d.rectangle([dx - dw * 0.7, base - u * 0.004, dx + dw * 0.7, base + u * 0.018], fill=c.lit((170, 166, 160)))
    return wall_top - rh


def _street_lamp(c: _Ctx, x: float, base: float, h: float) -> None:
    iron = c.lit((44, 46, 54))
    u = c.u
    c.d.polygon([(x - u * 0.022, base), (x - u * 0.01, base - u * 0.06), (x + u * 0.01, base - u * 0.06),
                 (x + u * 0.022, base)], fill=iron)
    c.d.rectangle([x - u * 0.007, base - h, x + u * 0.007, base - u * 0.05], fill=iron)
    c.d.rectangle([x - u * 0.016, base - h * 0.72, x + u * 0.016, base - h * 0.7], fill=iron)
    top = base - h
    on = c.dark or _stormy(c)
    glass = (255, 226, 140) if on else c.lit((236, 240, 230))
    c.d.polygon([(x - u * 0.022, top - u * 0.075), (x + u * 0.022, top - u * 0.075), (x + u * 0.014, top),
                 (x - u * 0.014, top)], fill=glass)
    c.d.polygon([(x - u * 0.034, top - u * 0.075), (x, top - u * 0.105), (x + u * 0.034, top - u * 0.075)], fill=iron)
    c.d.rectangle([x - u * 0.018, top - u * 0.004, x + u * 0.018, top + u * 0.004], fill=iron)
    if on:
        _glow(c, x, top - u * 0.04, u * 0.04, (255, 220, 140), rings=6, alpha=20)


def _set_street(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    base = gy - (c.H - gy) * 0.5  # the foot of the house fronts
    curb = gy + (c.H - gy) * 0.32
    gh, uh = u * 0.44, u * 0.27
    # a terrace of houses and shops along the pavement
    x = -rng.uniform(0.05, 0.2) * u
    fronts = []
    while x < c.W:
        w = u * rng.uniform(0.32, 0.46)
        fronts.append((x, x + w))
        x += w
    shops = set(rng.sample(range(len(fronts)), max(1, len(fronts) // 2)))
    sky_room = base - c.H * 0.04 - gh - u * 0.12
    for i, (x0, x1) in enumerate(fronts):
        most = max(0, int(sky_room / uh))
        storeys = min(most, rng.choice((0, 1, 1, 2)))
        _street_front(c, x0, x1, base, storeys, i in shops)
    # pavement, kerb and a cobbled road
    pave = c.lit((186, 180, 170))
    c.d.rectangle([0, base, c.W, curb], fill=pave)
    step = u * 0.1
    for i in range(int(c.W / step) + 1):
        c.d.line([i * step, base, i * step - u * 0.03, curb], fill=mul(pave, 0.86), width=_lw(c, 0.002))
    c.d.line([0, (base + curb) / 2, c.W, (base + curb) / 2], fill=mul(pave, 0.86), width=_lw(c, 0.002))
    c.d.rectangle([0, curb, c.W, curb + u * 0.018], fill=c.lit((210, 206, 198)))
    road_top = curb + u * 0.018
    road = c.lit((128, 120, 116))
    c.d.rectangle([0, road_top, c.W, c.H], fill=road)
    y, row = road_top + u * 0.004, 0
    while y < c.H:
        t = (y - road_top) / max(1.0, c.H - road_top)
        ch = u * (0.018 + 0.03 * t)
        cw = ch * 1.5
        x = -cw * (0.5 if row % 2 else 0.0)
        while x < c.W:
            col = mix(road, (186, 176, 168), rng.uniform(0.15, 0.4))
            c.d.rounded_rectangle([x + cw * 0.06, y, x + cw * 0.94, y + ch * 0.86], radius=ch * 0.35, fill=c.lit(col))
            x += cw
        y += ch
        row += 1
    lf = _far_x(c, avoid, (0.06, 0.94, 0.5, 0.28, 0.72))
    _street_lamp(c, lf * c.W, curb - u * 0.01, u * 0.66)
    return {"ground_color": (186, 180, 170), "floor_y": base}  # props stand on the pavement


def _side_flip(c: _Ctx, avoid: tuple, big_at: tuple = (0.1, 0.9)) -> tuple:
    """Where the room's big piece of furniture goes (the side away from the characters), and an x mapper
    that mirrors a layout drawn with that piece on the right."""
    f = _far_x(c, avoid, big_at)
    right = f >= 0.5

    def X(frac: float) -> float:
        return c.W * (frac if right else 1.0 - frac)

    return right, X


def _span(a: float, b: float) -> tuple[float, float]:
    return min(a, b), max(a, b)


def _clock(c: _Ctx, x: float, y: float, r: float, case: Color, face: Color = (250, 246, 232)) -> None:
    """A round wall clock: case, face, hour marks and hands at some time."""
    c.d.ellipse([x - r, y - r, x + r, y + r], fill=case)
    c.d.ellipse([x - r * 0.8, y - r * 0.8, x + r * 0.8, y + r * 0.8], fill=c.lit(face))
    ink = c.lit((40, 36, 34))
    for i in range(12):
        a = i * math.pi / 6
        k0 = 0.62 if i % 3 else 0.52
        c.d.line([x + math.cos(a) * r * k0, y + math.sin(a) * r * k0, x + math.cos(a) * r * 0.72,
                  y + math.sin(a) * r * 0.72], fill=ink, width=max(1, int(r * 0.05)))
    h, m = c.rng.uniform(0, 2 * math.pi), c.rng.uniform(0, 2 * math.pi)
    c.d.line([x, y, x + math.sin(h) * r * 0.38, y - math.cos(h) * r * 0.38], fill=ink, width=max(1, int(r * 0.1)))
    c.d.line([x, y, x + math.sin(m) * r * 0.6, y - math.cos(m) * r * 0.6], fill=ink, width=max(1, int(r * 0.06)))
    c.d.ellipse([x - r * 0.07, y - r * 0.07, x + r * 0.07, y + r * 0.07], fill=ink)


def _grandfather_clock(c: _Ctx, x: float, base: float, h: float) -> None:
    """A tall case clock standing on base: plinth, trunk with a swinging pendulum behind glass, hood and dial."""
    wood = c.lit((120, 70, 40))
    dark = mul(wood, 0.75)
    brass = c.lit((214, 174, 80))
    w = h * 0.24
    c.d.rectangle([x - w / 2, base - h * 0.16, x + w / 2, base], fill=wood)  # plinth
    c.d.rectangle([x - w * 0.56, base - h * 0.03, x + w * 0.56, base], fill=dark)
    c.d.rectangle([x - w * 0.4, base - h * 0.7, x + w * 0.4, base - h * 0.16], fill=wood)  # trunk
    c.d.rounded_rectangle([x - w * 0.26, base - h * 0.64, x + w * 0.26, base - h * 0.22], radius=w * 0.1,
                          fill=mul(wood, 0.55))
    swing = c.rng.uniform(-0.12, 0.12) * w
    c.d.line([x, base - h * 0.63, x + swing, base - h * 0.33], fill=brass, width=max(1, int(w * 0.04)))
    c.d.ellipse([x + swing - w * 0.12, base - h * 0.36, x + swing + w * 0.12, base - h * 0.26], fill=brass)
    c.d.rectangle([x - w / 2, base - h * 0.94, x + w / 2, base - h * 0.7], fill=wood)  # hood
    c.d.chord([x - w / 2, base - h * 1.02, x + w / 2, base - h * 0.88], 180, 360, fill=dark)
    c.d.ellipse([x - w * 0.06, base - h * 1.04, x + w * 0.06, base - h * 1.0], fill=brass)
    _clock(c, x, base - h * 0.82, w * 0.36, brass)
    c.d.rectangle([x + w * 0.3, base - h * 0.94, x + w / 2, base], fill=(0, 0, 0, 34))  # shaded side


def _shelf_goods(c: _Ctx, x0: float, x1: float, y: float, h: float, kind: str) -> None:
    """Goods standing on a shelf at y (jars, boxes, bottles, toys; or loaves of bread)."""
    rng = c.rng
    x = x0 + c.u * 0.008
    while x < x1 - c.u * 0.03:
        if kind == "bread":
            w = c.u * rng.uniform(0.045, 0.07)
            crust = c.lit(rng.choice(((196, 130, 66), (176, 108, 54), (214, 160, 90))))
            style = rng.random()
            if style < 0.45:  # a round loaf with cuts
                c.d.chord([x, y - h * 0.55, x + w, y + h * 0.2], 180, 360, fill=crust)
                for k in (0.35, 0.55, 0.75):
                    c.d.line([x + w * (k - 0.08), y - h * 0.12, x + w * (k + 0.06), y - h * 0.28],
                             fill=mix(crust, (250, 230, 190), 0.5), width=max(1, int(w * 0.05)))
            elif style < 0.75:  # a long loaf
                c.d.rounded_rectangle([x, y - h * 0.28, x + w * 1.3, y], radius=h * 0.14, fill=crust)
                for k in (0.3, 0.55, 0.8):
                    c.d.line([x + w * 1.3 * k - w * 0.05, y - h * 0.05, x + w * 1.3 * k + w * 0.05, y - h * 0.24],
                             fill=mix(crust, (250, 230, 190), 0.5), width=max(1, int(w * 0.05)))
                w *= 1.3
            else:  # a small roll pile
                r = w * 0.28
                for dx, dy in ((0.25, 0), (0.75, 0), (0.5, -1.2)):
                    c.d.ellipse([x + w * dx - r, y - r * 1.6 + dy * r, x + w * dx + r, y + dy * r], fill=crust)
        else:
            w = c.u * rng.uniform(0.02, 0.045)
            col = c.lit(c.pal.accent(rng.randint(0, 9)))
            style = rng.random()
            hh = h * rng.uniform(0.45, 0.85)
            if style < 0.35:  # a jar with a lid
                c.d.rounded_rectangle([x, y - hh, x + w, y], radius=w * 0.25, fill=mix(col, (255, 255, 255), 0.3))
                c.d.rectangle([x - w * 0.05, y - hh - w * 0.15, x + w * 1.05, y - hh + w * 0.1], fill=mul(col, 0.7))
            elif style < 0.65:  # a box
                c.d.rectangle([x, y - hh * 0.8, x + w * 1.3, y], fill=col)
                c.d.rectangle([x + w * 0.2, y - hh * 0.55, x + w * 1.1, y - hh * 0.35],
                              fill=mix(col, (255, 255, 255), 0.5))
                w *= 1.3
            else:  # a bottle
                c.d.rounded_rectangle([x, y - hh * 0.75, x + w * 0.8, y], radius=w * 0.2, fill=mul(col, 0.85))
                c.d.rectangle([x + w * 0.28, y - hh, x + w * 0.52, y - hh * 0.7], fill=mul(col, 0.7))
                w *= 0.8
        x += w + c.u * rng.uniform(0.006, 0.016)


def _shelves(c: _Ctx, x0: float, x1: float, ys: list, kind: str, wood: Color, h: float = 0.11) -> None:
    for y in ys:
        _shelf_goods(c, x0, x1, y, c.u * h, kind)
        c.d.rectangle([x0 - c.u * 0.01, y, x1 + c.u * 0.01, y + c.u * 0.016], fill=wood)
        for bx in (x0 + c.u * 0.02, x1 - c.u * 0.03):  # brackets
            c.d.polygon([(bx, y + c.u * 0.016), (bx + c.u * 0.012, y + c.u * 0.016),
                         (bx + c.u * 0.012, y + c.u * 0.04)], fill=mul(wood, 0.8))


def _counter(c: _Ctx, x0: float, x1: float, top: float, bottom: float, wood: Color) -> None:
    c.d.rectangle([x0, top, x1, bottom], fill=wood)
    c.d.rectangle([x0 - c.u * 0.012, top - c.u * 0.022, x1 + c.u * 0.012, top + c.u * 0.004],
                  fill=mix(wood, (255, 240, 220), 0.2))
    n = max(1, int((x1 - x0) / (c.u * 0.16)))
    pw = (x1 - x0) / n
    for i in range(n):
        c.d.rectangle([x0 + i * pw + c.u * 0.015, top + c.u * 0.025, x0 + (i + 1) * pw - c.u * 0.015,
                       bottom - c.u * 0.02], outline=mul(wood, 0.78), width=_lw(c, 0.004))


def _hanging_lamp(c: _Ctx, x: float, y: float, shade: Color) -> None:
    c.d.line([x, 0, x, y], fill=c.lit((60, 60, 60)), width=_lw(c, 0.003))
    c.d.polygon([(x - c.u * 0.05, y + c.u * 0.05), (x - c.u * 0.015, y), (x + c.u * 0.015, y),
                 (x + c.u * 0.05, y + c.u * 0.05)], fill=shade)
    c.d.chord([x - c.u * 0.02, y + c.u * 0.035, x + c.u * 0.02, y + c.u * 0.07], 0, 180,
              fill=(255, 230, 160) if c.dark else c.lit((250, 246, 230)))
    _lamp_glow(c, x, y + c.u * 0.06)


def _set_shop(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    wall = rng.choice(((214, 226, 200), (236, 222, 196), (210, 222, 226)))
    floor_y = _room(c, gy, wall, (168, 114, 72))
    wood = c.lit((150, 96, 58))
    c.d.rectangle([0, floor_y - u * 0.15, c.W, floor_y - u * 0.02], fill=mul(wood, 1.08))  # wainscot
    c.d.rectangle([0, floor_y - u * 0.155, c.W, floor_y - u * 0.14], fill=mul(wood, 0.8))
    right, X = _side_flip(c, avoid)
    # the shop window, with an OPEN sign hanging in it
    ww = min(u * 0.38, c.W * 0.3)
    wx = X(0.2)
    wy0, wy1 = c.H * 0.08, floor_y - u * 0.2
    box = _window(c, wx - ww / 2, wy0, wx + ww / 2, wy1, c.lit((60, 96, 80)))
    sy = wy0 + (wy1 - wy0) * 0.22
    c.d.line([wx - ww * 0.12, wy0, wx - ww * 0.14, sy], fill=c.lit((80, 60, 40)), width=_lw(c, 0.002))
    c.d.line([wx + ww * 0.12, wy0, wx + ww * 0.14, sy], fill=c.lit((80, 60, 40)), width=_lw(c, 0.002))
    c.d.rounded_rectangle([wx - ww * 0.2, sy, wx + ww * 0.2, sy + ww * 0.14], radius=ww * 0.02,
                          fill=c.lit((250, 246, 230)), outline=c.lit((180, 50, 40)), width=_lw(c, 0.004))
    for i in range(4):
        lx = wx - ww * 0.14 + i * ww * 0.075
        c.d.rectangle([lx, sy + ww * 0.04, lx + ww * 0.05, sy + ww * 0.1], fill=c.lit((180, 50, 40)))
    # shelves of goods behind the counter, clocks above them
    s0, s1 = _span(X(0.36), X(0.76))
    _shelves(c, s0, s1, [floor_y - u * 0.25, floor_y - u * 0.37], "goods", wood, h=0.09)
    cases = [c.lit((120, 70, 40)), c.lit((214, 174, 80)), c.lit((70, 60, 56)), c.lit(c.pal.accent(3)),
             c.lit((170, 110, 60))]
    n = max(3, int((s1 - s0) / (u * 0.1)))
    row_y = floor_y - u * 0.56
    for i in range(n):  # a row of wall clocks above the shelves
        x = s0 + (s1 - s0) * (i + 0.5) / n + rng.uniform(-0.008, 0.008) * u
        y = row_y + rng.uniform(-0.015, 0.01) * u
        r = u * rng.uniform(0.03, 0.044)
        if i % 3 == 1:  # a pendulum clock: a case with a face and a swinging bob
            c.d.rounded_rectangle([x - r * 1.05, y - r * 1.1, x + r * 1.05, y + r * 1.9], radius=r * 0.3,
                                  fill=cases[i % 5])
            c.d.line([x, y, x + r * 0.25, y + r * 1.45], fill=c.lit((214, 174, 80)), width=max(1, int(r * 0.08)))
            c.d.ellipse([x + r * 0.05, y + r * 1.3, x + r * 0.45, y + r * 1.7], fill=c.lit((214, 174, 80)))
        _clock(c, x, y, r, cases[i % 5])
    win_edge = X(0.2) + (ww / 2 if right else -ww / 2)
    gap = abs(X(0.36) - win_edge)
    if gap > u * 0.1:  # one more between the window and the shelves
        _clock(c, (win_edge + X(0.36)) / 2, floor_y - u * 0.4, min(u * 0.045, gap * 0.35), cases[2])
    # the counter, with a till and a bell
    c0, c1 = _span(X(0.34), X(0.7))
    top = floor_y - u * 0.15
    _counter(c, c0, c1, top, floor_y + u * 0.03, wood)
    brass = c.lit((214, 174, 80))
    tx = c0 + (c1 - c0) * 0.72
    c.d.polygon([(tx - u * 0.05, top - u * 0.022), (tx - u * 0.04, top - u * 0.1), (tx + u * 0.04, top - u * 0.1),
                 (tx + u * 0.05, top - u * 0.022)], fill=brass)
    c.d.rectangle([tx - u * 0.03, top - u * 0.13, tx + u * 0.03, top - u * 0.1], fill=mul(brass, 0.8))
    for i in range(3):
        for j in range(2):
            kx, ky = tx - u * 0.025 + i * u * 0.025, top - u * 0.08 + j * u * 0.025
            c.d.ellipse([kx - u * 0.007, ky - u * 0.007, kx + u * 0.007, ky + u * 0.007], fill=c.lit((250, 246, 230)))
    bx = c0 + (c1 - c0) * 0.25
    c.d.chord([bx - u * 0.02, top - u * 0.05, bx + u * 0.02, top - u * 0.01], 180, 360, fill=brass)
    c.d.rectangle([bx - u * 0.026, top - u * 0.03, bx + u * 0.026, top - u * 0.022], fill=mul(brass, 0.8))
    _grandfather_clock(c, X(0.9), floor_y + u * 0.03, u * 0.52)
    lx, ly = (win_edge + X(0.36)) / 2, floor_y - u * 0.22  # a wall lamp by the counter
    c.d.rectangle([lx - u * 0.004, ly, lx + u * 0.004, ly + u * 0.05], fill=c.lit((60, 60, 60)))
    c.d.polygon([(lx - u * 0.03, ly + u * 0.005), (lx - u * 0.015, ly - u * 0.035), (lx + u * 0.015, ly - u * 0.035),
                 (lx + u * 0.03, ly + u * 0.005)], fill=(255, 226, 150) if c.dark else c.lit((60, 96, 80)))
    _lamp_glow(c, lx, ly - u * 0.01)
    return {"weather_box": box, "floor_y": floor_y}


def _brick_wall(c: _Ctx, x0: float, y0: float, x1: float, y1: float, brick: Color, k: float) -> None:
    mortar = mix(brick, (230, 220, 200), 0.45)
    c.d.rectangle([x0, y0, x1, y1], fill=mortar)
    j = 0
    y = y0
    while y < y1:
        x = x0 - (k * 0.5 if j % 2 else 0)
        while x < x1:
            col = mul(brick, 0.9 + 0.2 * c.rng.random())
            bx0, by0, bx1, by1 = max(x0, x + k * 0.05), y + k * 0.05, min(x1, x + k * 0.95), min(y1, y + k * 0.45)
            if bx1 > bx0 and by1 > by0:
                c.d.rectangle([bx0, by0, bx1, by1], fill=col)
            x += k
        y += k * 0.5
        j += 1


def _set_bakery(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    wall = rng.choice(((246, 232, 206), (240, 224, 214), (236, 230, 204)))
    floor_y = _room(c, gy, wall, (196, 130, 96), stripes=False)
    k = u * 0.08  # terracotta floor tiles
    tile_line = mul(c.lit((196, 130, 96)), 0.82)
    for i in range(int(c.W / k) + 2):
        c.d.line([i * k - (c.H - floor_y) * 0.3, c.H, i * k, floor_y], fill=tile_line, width=_lw(c, 0.002))
    _, X = _side_flip(c, avoid, (0.14, 0.86))
    wood = c.lit((160, 110, 70))
    # the window and shelves of loaves
    ww = min(u * 0.3, c.W * 0.26)
    wx = X(0.16)
    box = _window(c, wx - ww / 2, c.H * 0.08, wx + ww / 2, floor_y - u * 0.26, c.lit((250, 248, 240)))
    s0, s1 = _span(X(0.34), X(0.66))
    _shelves(c, s0, s1, [floor_y - u * 0.28, floor_y - u * 0.43, floor_y - u * 0.58], "bread", wood)
    # the brick oven with its glowing mouth, and its chimney
    ox, ow, oh = X(0.86), min(u * 0.46, c.W * 0.3), u * 0.44
    base = floor_y + u * 0.03
    brick = c.lit((176, 84, 58))
    c.d.rectangle([ox - ow * 0.18, 0, ox + ow * 0.18, base - oh], fill=mul(brick, 0.9))
    _brick_wall(c, ox - ow * 0.18, 0, ox + ow * 0.18, base - oh + ow * 0.1, mul(brick, 0.9), u * 0.05)
    from PIL import Image, ImageDraw

    body = Image.new("L", (int(ow), int(oh)), 0)
    bd = ImageDraw.Draw(body)
    bd.ellipse([0, 0, ow - 1, oh * 0.9], fill=255)
    bd.rectangle([0, oh * 0.45, ow, oh], fill=255)
    bricks = Image.new("RGB", (int(ow), int(oh)))
    _brick_wall(_Ctx(bricks, c.pal, rng, c.ss, "bakery"), 0, 0, ow, oh, brick, u * 0.05)
    c.img.paste(bricks, (int(ox - ow / 2), int(base - oh)), body)
    c.d.rectangle([ox - ow * 0.54, base - oh * 0.3, ox + ow * 0.54, base - oh * 0.25], fill=c.lit((150, 140, 130)))
    mw, mh = ow * 0.5, oh * 0.36
    mx0, my0 = ox - mw / 2, base - oh * 0.3 - mh
    c.d.rounded_rectangle([mx0 - u * 0.012, my0 - u * 0.012, mx0 + mw + u * 0.012, my0 + mh + u * 0.002],
                          radius=mw / 2, fill=c.lit((120, 60, 44)))
    fire = Image.new("L", (int(mw), int(mh)), 0)
    ImageDraw.Draw(fire).rounded_rectangle([0, 0, mw - 1, mh * 1.6], radius=mw / 2, fill=255)
    glow_img = gradient(int(mw), int(mh), [(0, (120, 30, 10)), (mh * 0.5, (240, 120, 30)), (mh, (255, 210, 90))])
    c.img.paste(glow_img, (int(mx0), int(my0)), fire)
    for i in range(5):  # flames
        fx = mx0 + mw * (0.15 + 0.175 * i)
        fh = mh * rng.uniform(0.35, 0.6)
        c.d.polygon([(fx - mw * 0.07, my0 + mh), (fx, my0 + mh - fh), (fx + mw * 0.07, my0 + mh)],
                    fill=(255, 226, 110) if i % 2 else (255, 170, 60))
    _glow(c, ox, my0 + mh * 0.6, mw * 0.35, (255, 170, 80), rings=6, alpha=14 if not c.dark else 22)
    for i in range(3):  # logs by the oven
        lx = ox - ow * 0.4 + i * u * 0.03
        c.d.ellipse([lx, base - u * 0.02 - (i % 2) * u * 0.02, lx + u * 0.035, base + u * 0.005 - (i % 2) * u * 0.02],
                    fill=c.lit((130, 84, 50)))
    # the counter with cakes and bread
    c0, c1 = _span(X(0.3), X(0.68))
    top = floor_y - u * 0.16
    _counter(c, c0, c1, top, floor_y + u * 0.03, c.lit((236, 226, 210)))
    cx = c0 + (c1 - c0) * 0.3  # a two-tier cake on a stand
    cake, icing = c.lit((246, 226, 196)), c.lit((246, 170, 190))
    c.d.rectangle([cx - u * 0.004, top - u * 0.05, cx + u * 0.004, top - u * 0.02], fill=c.lit((220, 220, 226)))
    c.d.rectangle([cx - u * 0.05, top - u * 0.058, cx + u * 0.05, top - u * 0.05], fill=c.lit((220, 220, 226)))
    c.d.rectangle([cx - u * 0.03, top - u * 0.022, cx + u * 0.03, top - u * 0.02], fill=c.lit((220, 220, 226)))
    c.d.rounded_rectangle([cx - u * 0.045, top - u * 0.11, cx + u * 0.045, top - u * 0.058], radius=u * 0.008,
                          fill=cake)
    c.d.rounded_rectangle([cx - u * 0.03, top - u * 0.15, cx + u * 0.03, top - u * 0.11], radius=u * 0.008, fill=cake)
    for y0, hw in ((top - u * 0.11, 0.045), (top - u * 0.15, 0.03)):
        c.d.rounded_rectangle([cx - u * hw, y0, cx + u * hw, y0 + u * 0.014], radius=u * 0.006, fill=icing)
        for j in range(int(hw * 100 / 1.5)):
            dx = cx - u * hw + (j + 0.5) * u * 0.015
            c.d.ellipse([dx - u * 0.005, y0 + u * 0.008, dx + u * 0.005, y0 + u * 0.02], fill=icing)
    c.d.ellipse([cx - u * 0.009, top - u * 0.168, cx + u * 0.009, top - u * 0.15], fill=c.lit((200, 30, 40)))
    for j in range(3):  # cupcakes
        px = c0 + (c1 - c0) * (0.52 + 0.1 * j)
        c.d.polygon([(px - u * 0.018, top - u * 0.035), (px + u * 0.018, top - u * 0.035),
                     (px + u * 0.013, top - u * 0.004), (px - u * 0.013, top - u * 0.004)],
                    fill=c.lit(c.pal.accent(j + 4)))
        c.d.ellipse([px - u * 0.021, top - u * 0.06, px + u * 0.021, top - u * 0.028],
                    fill=c.lit(((250, 240, 230), (240, 180, 200), (130, 90, 70))[j]))
    bx = c0 + (c1 - c0) * 0.88  # a basket of long loaves
    for a in (-0.3, 0.0, 0.3):
        c.d.line([bx, top - u * 0.03, bx + math.sin(a) * u * 0.08, top - u * 0.03 - math.cos(a) * u * 0.08],
                 fill=c.lit((200, 140, 70)), width=_lw(c, 0.016))
    c.d.chord([bx - u * 0.045, top - u * 0.06, bx + u * 0.045, top], 0, 180, fill=c.lit((170, 120, 70)))
    _hanging_lamp(c, X(0.5), c.H * 0.05, c.lit((200, 110, 70)))
    return {"weather_box": box, "floor_y": floor_y}


def _gear(c: _Ctx, x: float, y: float, r: float, teeth: int, color: Color, phase: float = 0.0) -> None:
    """A cog wheel: toothed rim, a darker ring, spokes and a hole."""
    pts = []
    for i in range(teeth):
        a = phase + 2 * math.pi * i / teeth
        da = math.pi / teeth
        for ang, rr in ((a - da * 0.5, r * 0.82), (a - da * 0.3, r), (a + da * 0.3, r), (a + da * 0.5, r * 0.82)):
            pts.append((x + math.cos(ang) * rr, y + math.sin(ang) * rr))
    c.d.polygon(pts, fill=color)
    c.d.ellipse([x - r * 0.82, y - r * 0.82, x + r * 0.82, y + r * 0.82], fill=color)
    c.d.ellipse([x - r * 0.62, y - r * 0.62, x + r * 0.62, y + r * 0.62], fill=mul(color, 0.78))
    for i in range(4):
        a = phase + i * math.pi / 2
        c.d.line([x, y, x + math.cos(a) * r * 0.65, y + math.sin(a) * r * 0.65], fill=color, width=max(1, int(r * 0.2)))
    c.d.ellipse([x - r * 0.24, y - r * 0.24, x + r * 0.24, y + r * 0.24], fill=color)
    c.d.ellipse([x - r * 0.1, y - r * 0.1, x + r * 0.1, y + r * 0.1], fill=mul(color, 0.45))


def _tool(c: _Ctx, kind: str, x: float, y: float, s: float) -> None:
    """A tool hanging on a pegboard, its top at (x, y), about s long."""
    steel, handle = c.lit((150, 156, 166)), c.lit(c.pal.accent(c.rng.randint(0, 9)))
    wood = c.lit((176, 120, 70))
    peg = c.lit((60, 56, 52))
    c.d.ellipse([x - s * 0.03, y - s * 0.03, x + s * 0.03, y + s * 0.03], fill=peg)
    if kind == "hammer":
        c.d.rectangle([x - s * 0.035, y + s * 0.08, x + s * 0.035, y + s], fill=wood)
        c.d.polygon([(x - s * 0.22, y + s * 0.02), (x + s * 0.18, y + s * 0.02), (x + s * 0.24, y + s * 0.1),
                     (x + s * 0.18, y + s * 0.16), (x - s * 0.22, y + s * 0.16)], fill=steel)
    elif kind == "saw":
        c.d.polygon([(x - s * 0.1, y + s * 0.22), (x + s * 0.1, y + s * 0.22), (x + s * 0.06, y + s),
                     (x - s * 0.12, y + s)], fill=steel)
        for i in range(8):
            ty = y + s * (0.26 + 0.09 * i)
            c.d.polygon([(x - s * 0.1 - i * s * 0.002, ty), (x - s * 0.15, ty + s * 0.045),
                         (x - s * 0.1, ty + s * 0.09)], fill=steel)
        c.d.rounded_rectangle([x - s * 0.12, y, x + s * 0.12, y + s * 0.24], radius=s * 0.05, fill=handle)
        c.d.rounded_rectangle([x - s * 0.06, y + s * 0.05, x + s * 0.06, y + s * 0.16], radius=s * 0.03,
                              fill=c.lit((210, 190, 150)))
    elif kind == "wrench":
        c.d.rectangle([x - s * 0.04, y + s * 0.12, x + s * 0.04, y + s * 0.9], fill=steel)
        for yy in (y + s * 0.1, y + s * 0.92):
            c.d.ellipse([x - s * 0.11, yy - s * 0.1, x + s * 0.11, yy + s * 0.1], fill=steel)
            c.d.rectangle([x - s * 0.04, yy - s * 0.11 if yy < y + s / 2 else yy, x + s * 0.04,
                           yy if yy < y + s / 2 else yy + s * 0.11], fill=c.lit((216, 190, 146)))
    elif kind == "screwdriver":
        c.d.rounded_rectangle([x - s * 0.06, y + s * 0.04, x + s * 0.06, y + s * 0.42], radius=s * 0.05, fill=handle)
        c.d.rectangle([x - s * 0.018, y + s * 0.42, x + s * 0.018, y + s * 0.92], fill=steel)
    else:  # pliers
        c.d.polygon([(x - s * 0.04, y + s * 0.05), (x + s * 0.04, y + s * 0.05), (x + s * 0.05, y + s * 0.35),
                     (x - s * 0.05, y + s * 0.35)], fill=steel)
        c.d.polygon([(x - s * 0.04, y + s * 0.35), (x - s * 0.16, y + s * 0.95), (x - s * 0.08, y + s * 0.95),
                     (x + s * 0.01, y + s * 0.4)], fill=handle)
        c.d.polygon([(x + s * 0.04, y + s * 0.35), (x + s * 0.16, y + s * 0.95), (x + s * 0.08, y + s * 0.95),
                     (x - s * 0.01, y + s * 0.4)], fill=handle)
        c.d.ellipse([x - s * 0.04, y + s * 0.32, x + s * 0.04, y + s * 0.4], fill=mul(steel, 0.7))


def _set_workshop(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng, u = c.rng, c.u
    wall = rng.choice(((200, 164, 120), (190, 156, 118), (206, 176, 134)))
    floor_y = _room(c, gy, wall, (150, 120, 92), stripes=False)
    k = u * 0.07  # wall planks
    for i in range(int(c.W / k) + 1):
        c.d.line([i * k, 0, i * k, floor_y - u * 0.02], fill=mul(c.lit(wall), 0.84), width=_lw(c, 0.003))
    right, X = _side_flip(c, avoid, (0.14, 0.86))
    ww = min(u * 0.3, c.W * 0.24)
    wx = X(0.14)
    box = _window(c, wx - ww / 2, c.H * 0.08, wx + ww / 2, floor_y - u * 0.3, c.lit((110, 90, 70)))
    # a pegboard of tools over the workbench
    p0, p1 = _span(X(0.32), X(0.72))
    pt, pb = c.H * 0.07, floor_y - u * 0.26
    board = c.lit((214, 186, 140))
    c.d.rectangle([p0 - u * 0.01, pt - u * 0.01, p1 + u * 0.01, pb + u * 0.01], fill=c.lit((140, 100, 66)))
    c.d.rectangle([p0, pt, p1, pb], fill=board)
    hole = mul(board, 0.7)
    step = u * 0.03
    for i in range(int((p1 - p0) / step)):
        for j in range(int((pb - pt) / step)):
            hx, hy_ = p0 + (i + 0.5) * step, pt + (j + 0.5) * step
            c.d.ellipse([hx - u * 0.003, hy_ - u * 0.003, hx + u * 0.003, hy_ + u * 0.003], fill=hole)
    kinds = ["hammer", "saw", "wrench", "screwdriver", "pliers", "wrench", "screwdriver", "hammer"]
    n = max(3, min(len(kinds), int((p1 - p0) / (u * 0.08))))
    s = min((pb - pt) * 0.75, u * 0.2)
    for i in range(n):
        _tool(c, kinds[i], p0 + (p1 - p0) * (i + 0.5) / n, pt + (pb - pt) * 0.1,
              s * (0.8 if kinds[i] == "screwdriver" else 1.0))
    # cogs on the wall beyond the bench
    gx, gy_ = X(0.88), c.H * 0.08 + u * 0.12
    brass, iron = c.lit((206, 164, 76)), c.lit((130, 136, 146))
    r = u * 0.09
    _gear(c, gx, gy_, r, 12, brass, rng.uniform(0, 1))
    _gear(c, gx - (r * 1.0 if right else -r * 1.0), gy_ + r * 1.35, r * 0.62, 8, iron, rng.uniform(0, 1))
    _gear(c, gx + (r * 0.55 if right else -r * 0.55), gy_ + r * 2.3, r * 0.45, 7, brass, rng.uniform(0, 1))
    # the workbench: thick top, legs, a shelf, a vice, cogs and a can on top
    b0, b1 = _span(X(0.26), X(0.78))
    top = floor_y - u * 0.17
    bench = c.lit((170, 120, 74))
    for lx in (b0 + u * 0.02, b1 - u * 0.05):
        c.d.rectangle([lx, top, lx + u * 0.03, floor_y + u * 0.04], fill=mul(bench, 0.8))
    c.d.rectangle([b0 + u * 0.02, floor_y - u * 0.04, b1 - u * 0.02, floor_y - u * 0.02], fill=mul(bench, 0.85))
    bx = b0 + u * 0.07
    while bx < b1 - u * 0.12:  # boxes on the low shelf
        bw_ = u * rng.uniform(0.05, 0.09)
        c.d.rectangle([bx, floor_y - u * 0.04 - u * rng.uniform(0.04, 0.07), bx + bw_, floor_y - u * 0.04],
                      fill=c.lit(rng.choice(((170, 130, 90), (120, 140, 170), (190, 90, 70)))))
        bx += bw_ + u * 0.02
    c.d.rectangle([b0, top - u * 0.03, b1, top], fill=bench)
    c.d.line([b0, top - u * 0.03, b1, top - u * 0.03], fill=mix(bench, (255, 240, 210), 0.3), width=_lw(c, 0.004))
    vx = b1 - u * 0.07 if right else b0 + u * 0.03
    c.d.rectangle([vx, top - u * 0.075, vx + u * 0.045, top - u * 0.03], fill=iron)
    c.d.rectangle([vx - u * 0.01, top - u * 0.06, vx + u * 0.055, top - u * 0.05], fill=mul(iron, 0.8))
    _gear(c, b0 + (b1 - b0) * 0.35, top - u * 0.045, u * 0.035, 9, brass, rng.uniform(0, 1))
    _gear(c, b0 + (b1 - b0) * 0.45, top - u * 0.03, u * 0.022, 7, iron, rng.uniform(0, 1))
    cx = b0 + (b1 - b0) * 0.6
    c.d.rectangle([cx - u * 0.02, top - u * 0.075, cx + u * 0.02, top - u * 0.03], fill=c.lit((200, 70, 60)))
    c.d.rectangle([cx - u * 0.02, top - u * 0.06, cx + u * 0.02, top - u * 0.05], fill=c.lit((240, 230, 200)))
    for i in range(4):  # sawdust and shavings on the floor
        sx = rng.uniform(0, c.W)
        c.d.arc([sx, gy + u * 0.02 * i, sx + u * 0.03, gy + u * 0.02 * i + u * 0.015], 180, 360,
                fill=c.lit((230, 200, 150)), width=_lw(c, 0.003))
    _hanging_lamp(c, (b0 + b1) / 2, c.H * 0.04, c.lit((70, 90, 80)))
    return {"weather_box": box, "floor_y": floor_y}


_SETTERS = {
    "forest": _set_forest, "meadow": _set_meadow, "hills": _set_hills, "mountains": _set_mountains,
    "sea": _set_sea, "beach": _set_beach, "river": _set_river, "city": _set_city, "village": _set_village,
    "snow": _set_snow, "desert": _set_desert, "cave": _set_cave, "space": _set_space, "sky": _set_sky,
    "garden": _set_garden, "lake": _set_lake, "bedroom": _set_bedroom, "kitchen": _set_kitchen,
    "classroom": _set_classroom, "castle hall": _set_castle_hall, "lighthouse": _set_lighthouse, "shop": _set_shop,
    "bakery": _set_bakery, "workshop": _set_workshop, "farm": _set_farm, "castle": _set_castle,
    "street": _set_street, "moon": _set_moon,
}
_GROUND = {
    "forest": (84, 140, 62), "meadow": (104, 168, 74), "hills": (110, 170, 76), "mountains": (108, 156, 80),
    "sea": (40, 110, 170), "beach": (236, 212, 160), "river": (100, 164, 72), "city": (176, 172, 168),
    "village": (214, 188, 140), "snow": (236, 242, 252), "desert": (226, 176, 110), "cave": (120, 104, 100),
    "space": (176, 172, 190), "sky": (255, 255, 255), "garden": (112, 176, 82), "lake": (100, 164, 72),
    "bedroom": (190, 140, 96), "kitchen": (200, 170, 130), "classroom": (180, 150, 110),
    "castle hall": (150, 130, 120), "lighthouse": (230, 206, 160), "shop": (168, 114, 72), "bakery": (196, 130, 96),
    "workshop": (150, 120, 92), "farm": (104, 168, 74), "castle": (104, 168, 74), "street": (186, 180, 170),
    "moon": (172, 172, 176),
}


def layout(width: int, height: int, rng: random.Random) -> tuple[int, int]:
    """(horizon_y, ground_y) in final pixels, with a small per-scene camera shift."""
    portrait = height > width * 1.1
    hf = (0.58 if portrait else 0.52) + rng.uniform(-0.03, 0.03)
    gf = (0.8 if portrait else 0.84) + rng.uniform(-0.015, 0.015)
    return int(height * hf), int(height * gf)


def render(setting: str, pal: Palette, rng: random.Random, width: int, height: int, ss: int = 2,
           avoid: tuple = ()) -> tuple[object, Stage]:
    """The background for a setting (already resolved) as an RGB image, and its Stage."""
    from PIL import Image

    setting = setting if setting in _SETTERS else FALLBACK
    hy_f, gy_f = layout(width, height, rng)
    W, H = width * ss, height * ss
    img = Image.new("RGB", (W, H), pal.sky_horizon)
    indoor = setting in INDOOR
    cpal = pal
    if indoor:
        cpal = copy.copy(pal)
        cpal.light = _INDOOR_LIGHT[pal.time_of_day]
        cpal.haze = mul((236, 226, 210), cpal.light)
    elif setting in NO_WEATHER:  # airless: lit by the time of day only
        cpal = copy.copy(pal)
        cpal.weather = "clear"
        cpal.light = _MOON_LIGHT[pal.time_of_day]
        cpal.haze = (26, 26, 34)
    c = _Ctx(img, cpal, rng, ss, setting)
    c.outdoor = pal
    hy, gy = hy_f * ss, gy_f * ss
    if not indoor and setting not in ("space", "cave", "moon"):
        _sky(c, hy)
        if setting != "sky":
            _sky_things(c, hy, pal.weather)
    sky_before = img.copy() if pal.weather == "storm" and not indoor and setting not in NO_WEATHER else None
    info = _SETTERS[setting](c, hy, gy, avoid) or {}
    front = None
    if info.get("front") == "sea":
        front = Image.new("RGBA", (W, H), c.lit((40, 110, 170)) + (0,))
        from PIL import ImageDraw

        fc = _Ctx(front, pal, random.Random(rng.random()), ss, setting)
        fc.d = ImageDraw.Draw(front)
        if pal.weather == "storm":  # tall, breaking swells in front of the characters
            near = c.lit((58, 106, 124))
            _wave_band(fc, gy - H * 0.06, H * 0.03, near + (255,), rng.uniform(0, 6), W / 4)
            fc.d = ImageDraw.Draw(front, "RGBA")
            _rough_waves(fc, gy - H * 0.02, H, near, 3, scale=0.9)
        else:
            near = c.lit((50, 124, 184))
            _wave_band(fc, gy - H * 0.05, H * 0.012, near + (255,), rng.uniform(0, 6), W / 6)
            _waves(fc, gy - H * 0.03, H, c.lit((220, 240, 250)), 5, alpha=200)
        front = front.reduce(ss) if ss > 1 else front
    if ss > 1:
        img = img.reduce(ss)
    wb = info.get("weather_box")
    if wb is not None:
        wb = tuple(int(v / ss) for v in wb)
    elif indoor:
        wb = (0, 0, 0, 0)
    weather = pal.weather
    if setting in NO_WEATHER:
        weather = "clear"
    notes = {}
    if sky_before is not None and info.get("weather_box") is None:
        notes["sky_mask"] = _sky_mask(sky_before, c.img, ss)
    ground_color = cpal.lit(info.get("ground_color", _GROUND[setting]))
    water_y = info.get("water_y")
    floor_y = info.get("floor_y")
    back_top = int((floor_y / ss + 0.02 * height) if floor_y else hy_f + (gy_f - hy_f) * 0.12)
    stage = Stage(
        width=width, height=height, horizon_y=hy_f, ground_y=gy_f, ground_color=ground_color,
        back_band=(back_top, int(hy_f + (gy_f - hy_f) * 0.7) if not floor_y else max(back_top + 1, int(gy_f - 0.05 * height))),
        sky_band=(int(height * 0.08), int(hy_f * 0.7)),
        water_y=int(water_y / ss) if water_y else None, front=front, weather_box=wb, indoor=indoor,
        setting=setting, weather=weather, notes=notes,
    )
    return img, stage


def _sky_mask(before, after, ss: int):
    """An L mask (final size): 255 where the setting left the sky as it was painted (clouds included)."""
    import numpy as np
    from PIL import Image

    same = np.all(np.asarray(before) == np.asarray(after), axis=2)
    mask = Image.fromarray((same * 255).astype(np.uint8))
    return mask.reduce(ss) if ss > 1 else mask


# ---------------------------------------------------------------- weather over everything


@functools.lru_cache(maxsize=16)
def _fog_mask(width: int, height: int, horizon: int, strength: float):
    import numpy as np
    from PIL import Image

    ys = np.arange(height, dtype=np.float32)
    a = strength * (0.35 + 0.65 * np.exp(-(((ys - horizon) / (0.28 * height)) ** 2)))
    col = Image.fromarray((a.clip(0, 1) * 255).astype(np.uint8).reshape(height, 1))
    return col.resize((width, height), Image.Resampling.NEAREST)


def _bolt_points(x: float, y0: float, y1: float, u: float, rng: random.Random) -> list[tuple[float, float]]:
    pts = [(x, y0)]
    y = y0
    while y < y1:
        y = min(y1, y + (y1 - y0) * rng.uniform(0.08, 0.17))
        x += u * rng.uniform(-0.045, 0.045)
        pts.append((x, y))
    return pts


def _lightning(region, x0: float, y0: float, x1: float, y1: float, u: float, rng: random.Random,
               sky_mask=None, flash: int = 0) -> None:
    """A jagged lightning bolt with branches and a glow, from the top of (x0, y0, x1, y1) down to y1; where a
    sky mask is given it shows only where the background was sky (behind towers, hills and roofs)."""
    from PIL import Image, ImageDraw

    w, h = region.size
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer, "RGBA")
    xs = [x0 + (x1 - x0) * rng.uniform(0.15, 0.85) for _ in range(6)]
    x = xs[0]
    if sky_mask is not None:  # strike where most of the sky is open, not behind a roof or tower
        import numpy as np

        open_sky = np.asarray(sky_mask.crop((0, 0, w, max(1, int(y1)))), dtype=np.float32)
        x = max(xs, key=lambda v: open_sky[:, max(0, min(w - 1, int(v)))].mean())
    main = _bolt_points(x, y0 - 0.02 * u, y1, u, rng)
    branches = []
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(1, max(1, len(main) - 2))
        bx, by = main[i]
        end = by + (y1 - by) * rng.uniform(0.4, 0.8)
        if end - by > 0.03 * u:
            pts = _bolt_points(bx, by, end, u * 0.7, rng)
            drift = rng.choice((-1, 1)) * u * 0.012
            branches.append([(px + drift * j, py) for j, (px, py) in enumerate(pts)])
    core = max(1, int(round(u / 240)))
    mx, my = main[len(main) // 2]
    glow = glow_mask(max(4, int(u * 0.16)) // 4 * 4, 70)
    layer.paste((200, 210, 255, 255), (int(mx - glow.width / 2), int(my - glow.height / 2)), glow)
    for pts, k in [(main, 1.0)] + [(b, 0.6) for b in branches]:
        for width, alpha in ((9, 26), (5, 50), (3, 110)):  # the glow around the stroke
            d.line(pts, fill=(190, 205, 255, alpha), width=max(1, int(core * width * k)), joint="curve")
        d.line(pts, fill=(255, 255, 250, 255), width=max(1, int(round(core * k))), joint="curve")
    if sky_mask is not None:
        from PIL import ImageChops

        layer.putalpha(ImageChops.multiply(layer.getchannel("A"), sky_mask.crop((0, 0, w, h))))
    if flash:  # the bolt lights up the land around it a little
        r = max(4, int(u * 0.9)) // 4 * 4
        region.paste((170, 180, 220), (int(main[-1][0] - r), int(main[-1][1] - r)), glow_mask(r, flash))
    region.paste(layer, (0, 0), layer)


def apply_weather(img, stage: Stage, pal: Palette, rng: random.Random) -> None:
    """Rain, snow, wind, fog or storm drawn over the finished picture (indoors: only in the window)."""
    from PIL import ImageDraw

    weather = stage.weather
    if weather in ("clear", "clouds"):
        return
    box = stage.weather_box or (0, 0, img.width, img.height)
    x0, y0, x1, y1 = (max(0, box[0]), max(0, box[1]), min(img.width, box[2]), min(img.height, box[3]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    region = img.crop((x0, y0, x1, y1)) if stage.weather_box else img
    w, h = region.size
    u = min(stage.width, stage.height)
    d = ImageDraw.Draw(region, "RGBA")
    night = pal.time_of_day == "night"
    if weather == "rain":
        col = (200, 214, 230, 120) if not night else (150, 164, 200, 110)
        n = int(w * h / (u * u) * 260)
        slant = rng.uniform(0.15, 0.3)
        for _ in range(n):
            x, y = rng.uniform(-0.1 * w, w), rng.uniform(-0.05 * h, h)
            L = u * rng.uniform(0.03, 0.06)
            d.line([x, y, x + L * slant, y + L], fill=col, width=max(1, int(u / 500)))
        if not stage.weather_box:
            for _ in range(int(n / 8)):
                x, y = rng.uniform(0, w), rng.uniform(stage.ground_y - 0.05 * h, h)
                r = u * 0.008
                d.arc([x - r, y - r * 0.35, x + r, y + r * 0.35], 180, 360, fill=col, width=max(1, int(u / 600)))
    elif weather == "snow":
        n = int(w * h / (u * u) * 220)
        for _ in range(n):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            r = u * rng.choice((0.002, 0.003, 0.004, 0.006, 0.008))
            d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, rng.randint(170, 240)))
    elif weather == "wind":
        col = (255, 255, 255, 130)
        for _ in range(int(7 * w / u)):
            x, y = rng.uniform(-0.1 * w, w), rng.uniform(0.05 * h, 0.75 * h)
            L = u * rng.uniform(0.12, 0.25)
            d.arc([x, y, x + L, y + L * 0.25], 190, 350, fill=col, width=max(1, int(u / 300)))
            d.arc([x + L * 0.7, y - L * 0.06, x + L * 0.95, y + L * 0.14], 100, 360, fill=col, width=max(1, int(u / 300)))
        for _ in range(int(12 * w / u)):
            x, y = rng.uniform(0, w), rng.uniform(0.05 * h, 0.85 * h)
            k = u * 0.012
            leaf = rng.choice(((120, 170, 70), (220, 150, 60), (200, 90, 50)))
            a = rng.uniform(0, math.pi)
            dx, dy = math.cos(a) * k, math.sin(a) * k
            d.polygon([(x - dx, y - dy), (x - dy * 0.4, y + dx * 0.4), (x + dx, y + dy), (x + dy * 0.4, y - dx * 0.4)],
                      fill=leaf + (230,))
    elif weather == "storm":
        if stage.weather_box:  # lightning in the window, above its view of the hills
            _lightning(region, 0, 0, w, h * rng.uniform(0.55, 0.75), max(u * 0.3, min(w, h) * 1.2), rng)
        else:  # lightning in the sky, ending above the characters' heads
            low = max(stage.horizon_y * 0.35, min(stage.horizon_y * 0.85, stage.ground_y - 0.52 * u))
            _lightning(region, 0, 0, w, low, u, rng, sky_mask=stage.notes.get("sky_mask"),
                       flash=70 if pal.time_of_day == "night" else 30)
        night = pal.time_of_day == "night"
        fade = max(0.3, min(1.0, math.sqrt(u / 420)))  # one-pixel streaks would swamp a small picture
        col = (176, 188, 208, int(135 * fade)) if not night else (140, 152, 190, int(120 * fade))
        n = int(w * h / (u * u) * 520)
        slant = rng.uniform(0.45, 0.6)
        for _ in range(n):  # heavy, wind-driven rain
            x, y = rng.uniform(-0.4 * w, w), rng.uniform(-0.08 * h, h)
            L = u * rng.uniform(0.04, 0.08)
            d.line([x, y, x + L * slant, y + L], fill=col, width=max(1, int(u / 420)))
        streak = (220, 226, 236, int(70 * fade))
        for _ in range(int(9 * w / u) + 1):  # wind streaks
            x, y = rng.uniform(-0.3 * w, w), rng.uniform(0.0, 0.9 * h)
            L = u * rng.uniform(0.25, 0.5)
            d.arc([x, y, x + L, y + L * 0.16], 195, 335, fill=streak, width=max(1, int(u / 360)))
        if not stage.weather_box:
            for _ in range(int(n / 6)):  # splashes on the ground
                x, y = rng.uniform(0, w), rng.uniform(stage.ground_y - 0.05 * h, h)
                r = u * 0.01
                d.arc([x - r, y - r * 0.4, x + r, y + r * 0.4], 180, 360, fill=col, width=max(1, int(u / 500)))
    elif weather == "fog":
        col = mix(pal.sky_horizon, (230, 230, 232), 0.5)
        mask = _fog_mask(w, h, int(stage.horizon_y - y0), 0.55 if not stage.weather_box else 0.5)
        region.paste(col, (0, 0), mask)
    if stage.weather_box:
        img.paste(region, (x0, y0))
