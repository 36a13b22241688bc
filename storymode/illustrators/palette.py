"""Colours for the storybook illustrator: one palette per story (from the seed), lit by time of day and weather."""
from __future__ import annotations

import colorsys
import random
import zlib

Color = tuple[int, int, int]

# (top, middle, horizon) sky colours by time of day.
SKY: dict[str, tuple[Color, Color, Color]] = {
    "dawn": ((122, 140, 204), (236, 176, 178), (255, 214, 160)),
    "day": ((92, 160, 230), (140, 196, 240), (206, 232, 246)),
    "dusk": ((58, 52, 120), (196, 96, 120), (250, 160, 90)),
    "night": ((8, 12, 36), (20, 30, 70), (46, 56, 104)),
}
# How the land is lit: RGB multipliers.
LIGHT: dict[str, tuple[float, float, float]] = {
    "dawn": (1.0, 0.9, 0.9),
    "day": (1.0, 1.0, 1.0),
    "dusk": (0.92, 0.72, 0.72),
    "night": (0.30, 0.36, 0.58),
}
# Sprites are lit less strongly than the land so the characters stay readable.
SPRITE_LIGHT: dict[str, tuple[float, float, float]] = {
    "dawn": (1.0, 0.95, 0.94),
    "day": (1.0, 1.0, 1.0),
    "dusk": (0.97, 0.84, 0.82),
    "night": (0.62, 0.66, 0.86),
}
WEATHER_SKY: dict[str, tuple[Color, float, float]] = {  # colour the sky is pulled to, how far, light factor
    "clear": ((0, 0, 0), 0.0, 1.0),
    "clouds": ((176, 184, 196), 0.35, 0.93),
    "rain": ((112, 122, 136), 0.6, 0.78),
    "snow": ((206, 212, 224), 0.5, 0.95),
    "wind": ((190, 200, 210), 0.12, 1.0),
    "fog": ((214, 214, 216), 0.65, 0.95),
    "storm": ((54, 60, 76), 0.8, 0.6),  # dark slate, low light
}
ACCENTS: tuple[Color, ...] = (
    (214, 84, 72), (236, 160, 64), (244, 206, 92), (120, 176, 96), (84, 150, 196), (140, 110, 190),
    (226, 120, 160), (96, 188, 180), (186, 120, 76), (250, 240, 220),
)
TINTS: tuple[Color, ...] = (
    (255, 170, 120), (255, 220, 140), (170, 220, 140), (140, 200, 255), (200, 170, 255), (255, 170, 200),
)


def mix(a: Color, b: Color, t: float) -> Color:
    """a blended toward b by t (0..1)."""
    t = min(1.0, max(0.0, t))
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def mul(c: Color, f: tuple[float, float, float] | float) -> Color:
    """c multiplied channel by channel."""
    if isinstance(f, (int, float)):
        f = (f, f, f)
    return tuple(max(0, min(255, int(round(x * k)))) for x, k in zip(c, f))  # type: ignore[return-value]


def shift(c: Color, dh: float = 0.0, ds: float = 1.0, dv: float = 1.0) -> Color:
    """c with hue turned by dh (0..1 = full circle), saturation and value scaled."""
    h, s, v = colorsys.rgb_to_hsv(*(x / 255 for x in c))
    r, g, b = colorsys.hsv_to_rgb((h + dh) % 1.0, min(1.0, s * ds), min(1.0, v * dv))
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def stable_hash(*parts: object) -> int:
    """A hash that is the same in every process (unlike hash())."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode("utf-8"))


class Palette:
    """A story's colours: a small hue/saturation twist from the seed, lit by time of day and weather."""

    def __init__(self, seed: int, time_of_day: str = "day", weather: str = "clear") -> None:
        rng = random.Random(stable_hash("palette", seed))
        self.seed = seed
        self.time_of_day = time_of_day if time_of_day in SKY else "day"
        self.weather = weather if weather in WEATHER_SKY else "clear"
        self.hue = rng.uniform(-0.035, 0.035)
        self.sat = rng.uniform(0.86, 1.08)
        self.warmth = rng.uniform(-0.5, 1.0)
        accents = list(ACCENTS)
        rng.shuffle(accents)
        self.accents = [self.base(c) for c in accents]
        pull, amount, dim = WEATHER_SKY[self.weather]
        light = LIGHT[self.time_of_day]
        self.light = tuple(k * dim for k in light)
        sprite_light = SPRITE_LIGHT[self.time_of_day]
        self.sprite_light = tuple(min(1.0, k * (0.5 + 0.5 * dim)) for k in sprite_light)
        sky = [self.base(c, hue=0.4) for c in SKY[self.time_of_day]]
        if amount:
            weather_col = mul(pull, light) if self.time_of_day != "day" else pull
            sky = [mix(c, weather_col, amount * (0.8 + 0.2 * i)) for i, c in enumerate(sky)]
        self.sky_top, self.sky_mid, self.sky_horizon = sky
        self.haze = self.sky_horizon
        self.paper = mix((250, 243, 226), (255, 236, 210), max(0.0, self.warmth))

    def base(self, c: Color, hue: float = 1.0) -> Color:
        """c with the story's hue and saturation twist."""
        return shift(c, self.hue * hue, self.sat)

    def lit(self, c: Color, depth: float = 0.0) -> Color:
        """A land colour as it looks here: story twist, lighting, then haze by depth (0 near .. 1 far)."""
        out = mul(self.base(c), self.light)
        return mix(out, self.haze, depth * 0.85) if depth else out

    def accent(self, i: int) -> Color:
        return self.accents[i % len(self.accents)]
