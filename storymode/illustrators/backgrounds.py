"""Procedural storybook backgrounds: settings, sky by time of day, weather.

Everything is drawn with Pillow at ``ss`` times the final size and box-reduced, which gives soft,
anti-aliased shapes. Coordinates inside the drawing functions are in supersampled pixels.
"""
from __future__ import annotations

import copy
import functools
import math
import random
import re
from dataclasses import dataclass, field

from .palette import Color, Palette, mix, mul

SETTINGS: tuple[str, ...] = (
    "forest", "meadow", "hills", "mountains", "sea", "beach", "river", "city", "village", "snow", "desert",
    "cave", "space", "sky", "garden", "lake", "bedroom", "kitchen", "classroom", "castle hall",
)
INDOOR = frozenset({"bedroom", "kitchen", "classroom", "castle hall"})
FALLBACK = "meadow"

KEYWORDS: dict[str, tuple[str, ...]] = {
    "forest": ("forest", "woods", "wood", "woodland", "jungle", "grove", "tree", "trees", "rainforest",
               "thicket", "clearing", "treehouse", "oak", "pine", "pines"),
    "meadow": ("meadow", "field", "fields", "grass", "grassland", "farm", "farmyard", "park", "countryside",
               "prairie", "pasture", "picnic", "barn", "playground"),
    "hills": ("hill", "hills", "hillside", "valley", "slope", "path", "road", "trail", "hilltop"),
    "mountains": ("mountain", "mountains", "peak", "peaks", "cliff", "cliffs", "volcano", "alps", "summit",
                  "canyon", "rocky"),
    "sea": ("sea", "ocean", "waves", "ship", "boat", "underwater", "reef", "harbor", "harbour", "port", "sail",
            "sailing", "voyage", "bay"),
    "beach": ("beach", "shore", "seashore", "coast", "sand", "sandy", "island", "seaside", "dock", "pier"),
    "river": ("river", "stream", "brook", "creek", "bridge", "riverbank", "waterfall", "canal"),
    "city": ("city", "street", "streets", "downtown", "town square", "square", "market", "shop", "store",
             "rooftop", "rooftops", "station", "zoo", "museum", "skyscraper"),
    "village": ("village", "town", "cottage", "farmhouse", "hut", "houses", "neighborhood", "neighbourhood",
                "home", "house", "yard"),
    "snow": ("snow", "snowy", "arctic", "antarctic", "ice", "icy", "winter", "glacier", "igloo", "frozen",
             "north pole", "tundra", "sled", "ski"),
    "desert": ("desert", "dune", "dunes", "sahara", "oasis", "pyramid", "pyramids", "cactus", "savanna",
               "savannah"),
    "cave": ("cave", "cavern", "caves", "tunnel", "underground", "mine", "den", "burrow", "lair", "grotto",
             "dungeon"),
    "space": ("space", "outer space", "moon", "planet", "planets", "galaxy", "rocket", "spaceship", "orbit",
              "mars", "stars", "universe", "asteroid", "comet"),
    "sky": ("sky", "clouds", "cloud", "air", "flying", "heaven", "balloon", "rainbow", "above"),
    "garden": ("garden", "gardens", "flowers", "flower", "backyard", "orchard", "greenhouse", "patch"),
    "lake": ("lake", "pond", "lagoon", "pool", "swamp", "marsh"),
    "bedroom": ("bedroom", "bed", "nursery", "room", "attic", "indoors", "inside", "living room",
                "playroom", "bath", "bathroom"),
    "kitchen": ("kitchen", "bakery", "dining", "cafe", "restaurant", "pantry", "table"),
    "classroom": ("classroom", "school", "class", "library", "lesson", "lab", "laboratory", "study",
                  "office", "workshop"),
    "castle hall": ("castle", "palace", "throne", "hall", "ballroom", "kingdom", "tower", "fortress",
                    "court", "throne room", "castle hall"),
}


def resolve_setting(text: str) -> str:
    """The setting this text names, by keyword (the earliest keyword in the text wins); fallback meadow."""
    low = (text or "").strip().lower().replace("_", " ").replace("-", " ")
    if low in SETTINGS:
        return low
    words = re.findall(r"[a-z]+", low)
    if not words:
        return FALLBACK
    lookup: dict[str, str] = {}
    for setting, keys in KEYWORDS.items():
        for k in keys:
            lookup.setdefault(k, setting)
    best: tuple[int, int, str] | None = None
    for i in range(len(words)):
        for n in (2, 1):
            piece = " ".join(words[i:i + n])
            cands = [piece]
            if n == 1 and piece.endswith("s") and len(piece) > 3:
                cands.append(piece[:-1])
            for cand in cands:
                if cand in lookup:
                    rank = (i, -n, lookup[cand])
                    if best is None or rank < best:
                        best = rank
    return best[2] if best else FALLBACK


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
    notes: dict = field(default_factory=dict)


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
def _glow_mask(radius: int, peak: int):
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
    mask = _glow_mask(big, min(255, int(rings * alpha * 1.1)))
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
    overcast = weather in ("rain", "snow", "fog")
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
    n = {"clear": 2, "wind": 3, "clouds": 5, "rain": 6, "snow": 4, "fog": 3}.get(weather, 2)
    n = max(n, clouds_min)
    base = {"day": (255, 255, 255), "dawn": (255, 236, 232), "dusk": (250, 190, 180), "night": (70, 80, 120)}[tod]
    if weather in ("rain", "clouds"):
        base = mix(base, (150, 156, 170), 0.45 if weather == "rain" else 0.2)
    aspect = c.W / c.H
    for i in range(int(round(n * max(0.7, min(1.6, aspect))))):
        s = u * rng.uniform(0.1, 0.18) * (1.2 if weather in ("rain", "clouds") else 1.0)
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
    return c.lit((120, 190, 220), 0.4), c.lit((40, 110, 170))


def _set_sea(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    far, near = _sea_colors(c)
    c.img.paste(gradient(c.W, int(c.H - hy) + 1, [(0, far), (c.H - hy, near)]), (0, int(hy)))
    if rng.random() < 0.6:  # a small island far away
        x = c.W * rng.uniform(0.1, 0.9)
        r = c.u * 0.08
        c.d.chord([x - r, hy - r * 0.3, x + r, hy + r * 0.3], 180, 360, fill=c.lit((120, 160, 110), 0.6))
    _waves(c, hy + c.H * 0.01, c.H, c.lit((220, 240, 250), 0.2), int(14 * c.H / c.u), alpha=150)
    return {"water_y": hy + (gy - hy) * 0.35, "front": "sea"}


def _set_beach(c: _Ctx, hy: float, gy: float, avoid: tuple) -> dict:
    rng = c.rng
    far, near = _sea_colors(c)
    shore = hy + (gy - hy) * 0.42
    c.img.paste(gradient(c.W, int(c.H - hy) + 1, [(0, far), (shore - hy, near)]), (0, int(hy)))
    _waves(c, hy + c.H * 0.01, shore, c.lit((220, 240, 250), 0.2), int(6 * c.H / c.u), alpha=140)
    sand = c.lit((236, 212, 160))
    _wave_band(c, shore + c.H * 0.01, c.H * 0.008, c.lit((250, 250, 245), 0.1), rng.uniform(0, 6), c.W / 5)
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
    if c.pal.time_of_day in ("day", "dawn"):  # a rainbow
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


_SETTERS = {
    "forest": _set_forest, "meadow": _set_meadow, "hills": _set_hills, "mountains": _set_mountains,
    "sea": _set_sea, "beach": _set_beach, "river": _set_river, "city": _set_city, "village": _set_village,
    "snow": _set_snow, "desert": _set_desert, "cave": _set_cave, "space": _set_space, "sky": _set_sky,
    "garden": _set_garden, "lake": _set_lake, "bedroom": _set_bedroom, "kitchen": _set_kitchen,
    "classroom": _set_classroom, "castle hall": _set_castle_hall,
}
_GROUND = {
    "forest": (84, 140, 62), "meadow": (104, 168, 74), "hills": (110, 170, 76), "mountains": (108, 156, 80),
    "sea": (40, 110, 170), "beach": (236, 212, 160), "river": (100, 164, 72), "city": (176, 172, 168),
    "village": (214, 188, 140), "snow": (236, 242, 252), "desert": (226, 176, 110), "cave": (120, 104, 100),
    "space": (176, 172, 190), "sky": (255, 255, 255), "garden": (112, 176, 82), "lake": (100, 164, 72),
    "bedroom": (190, 140, 96), "kitchen": (200, 170, 130), "classroom": (180, 150, 110),
    "castle hall": (150, 130, 120),
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
    c = _Ctx(img, cpal, rng, ss, setting)
    c.outdoor = pal
    hy, gy = hy_f * ss, gy_f * ss
    if not indoor and setting not in ("space", "cave"):
        _sky(c, hy)
        if setting != "sky":
            _sky_things(c, hy, pal.weather)
    info = _SETTERS[setting](c, hy, gy, avoid) or {}
    front = None
    if info.get("front") == "sea":
        front = Image.new("RGBA", (W, H), c.lit((40, 110, 170)) + (0,))
        from PIL import ImageDraw

        fc = _Ctx(front, pal, random.Random(rng.random()), ss, setting)
        fc.d = ImageDraw.Draw(front)
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
    if setting == "space":
        weather = "clear"
    ground_color = cpal.lit(info.get("ground_color", _GROUND[setting]))
    water_y = info.get("water_y")
    floor_y = info.get("floor_y")
    back_top = int((floor_y / ss + 0.02 * height) if floor_y else hy_f + (gy_f - hy_f) * 0.12)
    stage = Stage(
        width=width, height=height, horizon_y=hy_f, ground_y=gy_f, ground_color=ground_color,
        back_band=(back_top, int(hy_f + (gy_f - hy_f) * 0.7) if not floor_y else max(back_top + 1, int(gy_f - 0.05 * height))),
        sky_band=(int(height * 0.08), int(hy_f * 0.7)),
        water_y=int(water_y / ss) if water_y else None, front=front, weather_box=wb, indoor=indoor,
        setting=setting, weather=weather,
    )
    return img, stage


# ---------------------------------------------------------------- weather over everything


@functools.lru_cache(maxsize=16)
def _fog_mask(width: int, height: int, horizon: int, strength: float):
    import numpy as np
    from PIL import Image

    ys = np.arange(height, dtype=np.float32)
    a = strength * (0.35 + 0.65 * np.exp(-(((ys - horizon) / (0.28 * height)) ** 2)))
    col = Image.fromarray((a.clip(0, 1) * 255).astype(np.uint8).reshape(height, 1))
    return col.resize((width, height), Image.Resampling.NEAREST)


def apply_weather(img, stage: Stage, pal: Palette, rng: random.Random) -> None:
    """Rain, snow, wind or fog drawn over the finished picture (indoors: only in the window)."""
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
    elif weather == "fog":
        col = mix(pal.sky_horizon, (230, 230, 232), 0.5)
        mask = _fog_mask(w, h, int(stage.horizon_y - y0), 0.55 if not stage.weather_box else 0.5)
        region.paste(col, (0, 0), mask)
    if stage.weather_box:
        img.paste(region, (x0, y0))
