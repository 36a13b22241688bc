"""Pull a story premise out of a free-text prompt: hero, trait, goal, setting, companions, props.

Only the first ~300 characters are read. Parsing is plain word matching (no model), so it never fails:
anything it cannot place falls back to sensible defaults chosen later by the planner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..story import clean_text
from ..understanding import vocabulary as _vocab
from ..understanding.vocabulary import EMOJI_WORDS, TRAITS

PARSE_CHARS = 300


# kind -> (is human, default pronoun or "")
KINDS: dict[str, tuple[bool, str]] = {k: (False, "") for k in (
    "fox owl cat kitten dog puppy rabbit bunny hare mouse bear panda wolf lion tiger elephant monkey horse pony "
    "unicorn pig piglet cow sheep lamb goat hen chicken duck duckling goose swan bird robin sparrow crow raven "
    "parrot penguin eagle hawk seagull gull pelican heron stork frog toad turtle tortoise snail snake dragon dinosaur fish goldfish whale dolphin "
    "shark octopus crab squirrel hedgehog badger raccoon otter beaver deer reindeer moose donkey giraffe zebra "
    "hippo bee bumblebee butterfly caterpillar ladybug ant spider bat kangaroo koala sloth camel llama flamingo "
    "peacock seal mole robot moon star sun cloud tree train car boat rocket kite balloon snowman teddy ghost "
    "monster alien troll giant fairy elf gnome mermaid volcano"
).split()}
KINDS.update({k: (True, "") for k in "child kid baby person wizard witch pirate knight astronaut chef "
              "farmer baker painter artist teacher doctor sailor explorer scientist inventor detective keeper "
              "builder gardener musician dancer singer student".split()})
KINDS.update({k: (True, "she") for k in "girl princess queen woman grandma granny grandmother mother mum mom "
              "sister lady".split()})
KINDS.update({k: (True, "he") for k in "boy prince king man grandpa grandfather father dad brother".split()})
KINDS["moon"] = (False, "she")
ALIASES = {"ai": "robot", "bot": "robot", "puppy": "puppy", "kitty": "kitten", "dino": "dinosaur",
           "bunnies": "bunny", "mice": "mouse", "geese": "goose", "wolves": "wolf", "children": "child",
           "fishes": "fish", "sheep": "sheep", "deer": "deer", "people": "person", "elves": "elf",
           "fairies": "fairy", "ponies": "pony", "butterflies": "butterfly", "ladybugs": "ladybug"}


SETTING_WORDS: dict[str, str] = {}
for _setting, _words in {
    "forest": "forest woods wood jungle trees tree woodland rainforest",
    "meadow": "meadow field fields flowers grass prairie",
    "hills": "hill hills valley",
    "mountains": "mountain mountains peak cliff cliffs",
    "sea": "sea ocean underwater reef waves ship pirate pirates island",
    "beach": "beach shore seaside sand sandcastle",
    "river": "river stream brook",
    "city": "city town street streets skyscraper",
    "village": "village farm farmyard barn market",
    "snow": "snow snowy ice icy winter arctic north snowman frozen",
    "desert": "desert dunes cactus",
    "cave": "cave caves underground tunnel tunnels mine",
    "space": "space planet planets rocket astronaut galaxy alien mars",
    "sky": "sky clouds cloud fly flying moon stars star kite balloon",
    "bedroom": "bedroom bed bedtime",
    "kitchen": "kitchen bake baking cake cook cooking oven",
    "classroom": "school classroom class teacher",
    "castle hall": "castle palace king queen princess prince knight throne",
    "garden": "garden vegetables greenhouse",
    "lake": "lake pond",
}.items():
    for _w in _words.split():
        SETTING_WORDS.setdefault(_w, _setting)
# words that also name a hero kind should not steer the home setting when they are the hero
KIND_HOME = {
    "fish": "sea", "goldfish": "lake", "whale": "sea", "dolphin": "sea", "shark": "sea", "octopus": "sea",
    "crab": "beach", "seal": "snow", "penguin": "snow", "robot": "city", "duck": "lake", "duckling": "lake",
    "frog": "lake", "toad": "lake", "swan": "lake", "camel": "desert", "bat": "cave", "astronaut": "space",
    "alien": "space", "rocket": "space", "moon": "sky", "star": "sky", "sun": "sky", "cloud": "sky",
    "cow": "village", "pig": "village", "sheep": "village", "hen": "village", "chicken": "village",
    "horse": "meadow", "pony": "meadow", "goat": "mountains", "dragon": "hills", "troll": "hills",
    "mermaid": "sea", "pirate": "sea", "sailor": "sea", "princess": "castle hall", "prince": "castle hall",
    "king": "castle hall", "queen": "castle hall", "knight": "castle hall", "snowman": "snow",
    "reindeer": "snow", "chef": "kitchen", "baker": "kitchen", "teacher": "classroom", "lighthouse": "beach",
    "otter": "river", "beaver": "river", "train": "hills", "car": "city", "boat": "sea", "kite": "meadow",
    "bee": "garden", "butterfly": "garden", "caterpillar": "garden", "ladybug": "garden", "snail": "garden",
}

PROP_WORDS = set(
    "kite lantern treasure map boat balloon cake cookies apples honey cheese pizza paintbrush paint brush easel "
    "book books hat scarf umbrella drum guitar violin flute piano song ball football crown sword shield key "
    "door box chest shell shells feather feathers rocket telescope star stars moon flower flowers seed seeds "
    "acorn acorns bell blanket pillow teddy candle letter compass rope ladder bicycle bike wagon basket berries "
    "carrot carrots cupcake pie bread sandcastle snowman sled wand potion egg eggs bone bridge tower clock "
    "jar button buttons pebble pebbles ribbon mirror necklace ring crayons pencil camera tent raft net".split()
)

STOP = set(
    "a an the and or but of to in on at by for with from into onto under over about who that which what when "
    "where while is are was were be been being has have had do does did will would can could should may might "
    "must shall not no yes very really so too just this these those there their they them he she his her him "
    "it its i me my we our you your story tale write tell make once upon time one day bedtime please about "
    "wants want wanted learns learn learned learnt loves love loved tries try tried lost loses lose finds find "
    "found goes go went who's named called lesson some any all every each like likes".split()
)
NAME_STOP = set("A An The And Once Upon Write Tell Make Story I My Please Our One Every Some This That Who "
                "When Where What Why How Little Big Old Young Mr Mrs Ms Dr Sir".split())

FEMALE_NAMES = set("Mia Lila Ada Nora Rosa Ivy Emma Olivia Ava Sophia Isla Amelia Lily Chloe Grace Zoe Ella Lucy "
                   "Ruby Alice Anna Maya Sara Sarah Hannah Leah Luna Stella Clara Eva Iris Hazel Mila Nina Julia "
                   "Elsa Anya Priya Aisha Fatima Yuki Mei Sofia Lea Emily Daisy Poppy Rose Molly".split())
MALE_NAMES = set("Leo Sam Theo Omar Finn Kai Max Noah Liam Oliver Jack Harry Ben Tom Lucas Ethan Oscar Arlo Hugo "
                 "Felix Jonah Ravi Arjun Kenji Mateo Diego Ali Adam Henry George Charlie Alfie Rory Toby Milo "
                 "Jamie Danny Peter Paul John James Luke".split())

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_META = re.compile(
    r"^\s*(?:please\s+)?(?:(?:write|tell|make|create|give)\s+(?:me\s+|us\s+)?)?(?:a\s+|an\s+)?"
    r"(?:short\s+|little\s+|bedtime\s+|funny\s+|kids'?\s+|children'?s\s+)*(?:story|tale|fable)\s+"
    r"(?:about|of|where|in which|with)\s+", re.I)
_GOAL = re.compile(
    r"\b(?:wants?|wanted|wishes|wished|longs?|longed|learns?|learned|learnt|tries|tried|tries hard|hopes?|hoped|"
    r"needs?|needed|decides?|decided|dreams? of|dreamed of|dreamt of|can't|cannot|couldn't|could not|"
    r"is learning|is trying|quest|mission|journey|adventure)\s+(?:to\s+)?(?:how to\s+)?([^.,;!?:]+)",
    re.I)
_LOVES = re.compile(r"\b(?:loves?|loved|adores?|likes?)\s+([^.,;!?:]+)", re.I)
_LOST = re.compile(r"\b(?:lost|loses|lose|misplaced|can't find|cannot find)\s+((?:the|her|his|its|their|my|a|an)\s[^.,;!?:]+)", re.I)
_AFRAID = re.compile(r"\b(?:afraid|scared|frightened|terrified)\s+of\s+([^.,;!?:]+)", re.I)
_LEARNS_THAT = re.compile(r"\blearn(?:s|ed|t)?\s+that\s+([^.;!?]+)", re.I)
_CUT = re.compile(r"\s+(?:and then|and|but|because|so|until|when|while|who|which|with (?:a|an|the|his|her)|"
                  r"in the|on the|under the|at the|by the)\s+.*$", re.I)

FOODS = set("cake cakes cookies cookie pie pies honey cheese pizza apples apple berries bread cupcakes cupcake "
            "carrots carrot soup pancakes sweets candy chocolate ice-cream icecream".split())


_THINGS = {"moon", "star", "sun", "kite", "balloon", "boat", "rocket", "tree", "cloud", "car", "train"}


@dataclass
class Premise:
    """What the prompt says, as far as plain word matching can tell."""

    text: str = ""
    raw_words: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    hero_kind: str | None = None
    hero_name: str | None = None
    human: bool = False
    pronoun: str | None = None
    trait: str | None = None
    trait_word: str | None = None
    goal: str | None = None  # an infinitive phrase; {his}/{him} stand for the hero
    moral: str | None = None
    companions: list[str] = field(default_factory=list)
    setting: str | None = None
    props: list[str] = field(default_factory=list)
    nouns: list[str] = field(default_factory=list)
    hero_base: str | None = None  # the kind a picture shows ("girl" for "lighthouse keeper's daughter")
    place_noun: str | None = None  # the prompt's own word for the place ("lighthouse")
    weather: str | None = None
    time_of_day: str | None = None
    request: object = None  # the StoryRequest spaCy's reading made (storymode.understanding)


def singular(word: str) -> str:
    """A plural noun's singular, for the few shapes prompts use ('dragons' -> 'dragon')."""
    w = word.lower()
    if w in ALIASES:
        return ALIASES[w]
    if w in KINDS or len(w) < 4:
        return w
    for end, rep in (("ies", "y"), ("ves", "f"), ("oes", "o"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"),
                     ("shes", "sh")):
        if w.endswith(end) and w[: -len(end)] + rep in KINDS:
            return w[: -len(end)] + rep
    if w.endswith("s") and not w.endswith("ss") and w[:-1] in KINDS:
        return w[:-1]
    return w


def prepare(prompt: str) -> str:
    """The prompt's first characters, cleaned: emoji named as words, meta phrases like 'a story about' dropped."""
    text = clean_text(prompt[: PARSE_CHARS * 4])[:PARSE_CHARS]
    for emo, word in EMOJI_WORDS.items():
        text = text.replace(emo, f" {word} ")
    text = re.sub(r"[\uFE0F\u200D]", "", text)
    text = "".join(ch if ch.isalnum() or ch in " '’-.,!?;:" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _META.sub("", text)
    text = re.sub(r"\b(?:prompt|AI generated|story)\b", " ", text, flags=re.I)
    return re.sub(r"\s+", " ", text).strip()


def _phrase(raw: str, max_words: int = 6) -> str:
    raw = _CUT.sub("", raw.strip())
    words = [w for w in raw.split() if w][:max_words]
    while words and words[-1].lower() in STOP - {"it", "them", "her", "him"}:
        words.pop()
    return " ".join(words)


def _own(phrase: str) -> str:
    """Replace the hero's own pronouns in a goal phrase by slots ('find her shine' -> 'find {his} shine')."""
    phrase = re.sub(r"\b(?:herself|himself|themselves|itself)\b", "{him}self", phrase, flags=re.I)
    return re.sub(r"\b(?:her|his|their|its)\b", "{his}", phrase, flags=re.I)


def degerund(word: str) -> str:
    """The base form of an -ing word ('flying' -> 'fly', 'baking' -> 'bake', 'swimming' -> 'swim')."""
    w = word.lower()
    if not w.endswith("ing") or len(w) < 5:
        return w
    stem = w[:-3]
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    if stem.endswith("y") and len(stem) <= 2:
        return stem[:-1] + "ie"
    if stem + "e" in NEEDS_E or (len(stem) <= 4 and re.search(r"[^aeiou][aeiou][bcdgkmprstvz]$", stem)
                                 and not stem.endswith(("ck", "nt"))):
        return stem + "e"
    return stem


def _goal_from(raw: str) -> str | None:
    phrase = _phrase(raw)
    if not phrase:
        return None
    low = phrase.lower()
    low = re.sub(r"^(?:learn|learns)\s+(?:how\s+)?to\s+", "", low)
    phrase = phrase[len(phrase) - len(low):] if len(low) < len(phrase) else phrase
    first = phrase.split()[0].lower()
    if first in ("a", "an") and "lesson" in low:
        return None
    if first in ("a", "an", "the", "some", "my", "his", "her", "their") and len(phrase.split()) > 1:
        return _own("find " + phrase)
    if first in ("a", "an", "the", "some", "lots", "many", "no", "that", "on", "be") or first in FOODS:
        return None
    if first in PROP_WORDS and first not in ("paint", "drum", "sled", "knit"):
        return _own("find " + article(phrase))
    if first.endswith("ing"):
        phrase = " ".join([degerund(first)] + phrase.split()[1:])
    return _own(phrase)


def parse_prompt(prompt: str) -> Premise:
    """Read a prompt into a Premise: who, where, when and the weather from spaCy's reading
    (storymode.understanding), the wish's wording and the moral from word patterns; never raises on odd text."""
    from ..understanding.prompt import read_prompt

    p = _parse_words(prompt)
    return apply_request(p, read_prompt(prompt))


def apply_request(p: Premise, req) -> Premise:  # type: ignore[no-untyped-def]
    """The premise with the hero, companions, place, time, weather and props the reader understood."""
    p.request = req
    hero = req.hero
    if hero is not None:
        p.hero_name = hero.name
        p.hero_kind = hero.noun if len(hero.noun.split()) <= 4 else hero.kind
        p.hero_base = hero.kind
        kind = _vocab.kind_of(hero.kind) or _vocab.kind_of(hero.noun.split()[-1])
        p.human = bool(kind and kind.human) or hero.kind in ("girl", "boy", "child", "man", "woman", "person")
        p.pronoun = hero.gender or (p.pronoun if p.pronoun in ("she", "he") else None)
        if hero.trait:
            p.trait, p.trait_word = TRAITS.get(hero.trait, hero.trait), hero.trait
    if not p.goal and req.wish:
        p.goal = _own(req.wish)
    p.companions = [c.noun if len(c.noun.split()) <= 3 else c.kind for c in req.companions]
    if req.place:
        p.setting = req.place
    p.place_noun = req.place_noun
    p.weather = req.weather
    p.time_of_day = req.time_of_day
    for prop in req.props:
        if prop not in p.props and prop != p.hero_kind:
            p.props.append(prop)
    return p


def _parse_words(prompt: str) -> Premise:
    """The word-pattern reading: the wish's wording, the moral, a trait; the fallback for everything else."""
    text = prepare(prompt)
    p = Premise(text=text)
    tokens = [(m.group(0), m.start()) for m in _WORD.finditer(text)]
    p.words = [t.lower().strip("'’-") for t, _ in tokens]
    p.raw_words = [w.lower() for w in _WORD.findall(clean_text(prompt[: PARSE_CHARS * 4])[:PARSE_CHARS])]
    low = text.lower()

    # hero name: a capitalised word that is not a common word
    for i, (tok, _) in enumerate(tokens):
        if (tok[0].isupper() and tok not in NAME_STOP and tok.lower() not in STOP and singular(tok) not in KINDS
                and tok.lower() not in TRAITS and tok.lower() not in SETTING_WORDS and len(tok) <= 20):
            p.hero_name = tok.strip("'’-")
            break

    # kinds mentioned, in order
    kinds: list[tuple[str, int]] = []
    for i, w in enumerate(p.words):
        k = singular(w)
        if k in KINDS and k not in [x for x, _ in kinds]:
            kinds.append((k, i))
    if p.hero_name:
        name_i = next(i for i, (t, _) in enumerate(tokens) if t.strip("'’-") == p.hero_name)
        own = [k for k, i in kinds if i in (name_i + 2, name_i + 3) and p.words[name_i + 1] in ("the", "a", "an")]
        if own:
            p.hero_kind = own[0]
        elif kinds and kinds[0][1] < name_i:
            p.hero_kind = kinds[0][0]
        else:
            p.hero_kind = "girl" if p.hero_name in FEMALE_NAMES else "boy" if p.hero_name in MALE_NAMES else "child"
        p.companions = [k for k, _ in kinds if k != p.hero_kind and k not in _THINGS][:2]
    elif kinds:
        p.hero_kind = kinds[0][0]
        p.companions = [k for k, _ in kinds[1:] if k not in _THINGS][:2]
    else:
        p.hero_kind = _first_noun(p.words)
    if p.hero_kind and not p.hero_name and p.hero_kind in p.words:
        i = p.words.index(p.hero_kind)
        prev = p.words[i - 1] if i else ""
        if (prev.isalpha() and len(prev) > 2 and prev not in STOP and prev not in TRAITS and prev not in KINDS
                and prev not in SETTING_WORDS and i >= 2 and (p.words[i - 2] in ("a", "an", "the") or p.words[i - 2] in TRAITS)):
            p.hero_kind = f"{prev} {p.hero_kind}"
    if p.hero_kind and len(p.hero_kind) > 24:
        p.hero_kind = None
    if p.hero_kind:
        p.human, p.pronoun = KINDS.get(p.hero_kind.split()[-1], (False, ""))
        p.pronoun = p.pronoun or None
    if p.hero_name in FEMALE_NAMES:
        p.pronoun = "she"
    elif p.hero_name in MALE_NAMES:
        p.pronoun = "he"
    if not p.pronoun:
        she = len(re.findall(r"\b(?:she|her|hers|herself)\b", low))
        he = len(re.findall(r"\b(?:he|his|him|himself)\b", low))
        p.pronoun = "she" if she > he else "he" if he > she else None

    for w in p.words:
        if w in TRAITS:
            p.trait, p.trait_word = TRAITS[w], w
            break

    m = _LEARNS_THAT.search(text)
    if m:
        p.moral = _phrase(m.group(1), 14)
    for rx in (_AFRAID, _LOST, _GOAL, _LOVES):
        m = rx.search(text)
        if not m or p.goal:
            continue
        if rx is _AFRAID or rx is _LOST:
            obj = _phrase(m.group(1))
            if not obj:
                continue
            if obj.lower() in ("dark", "water", "night", "sea", "ocean", "thunder", "wind", "rain", "snow"):
                obj = "the " + obj
            p.goal = _own(f"face {obj}" if rx is _AFRAID else f"find {obj} again")
        elif rx is _LOVES:
            obj = _phrase(m.group(1))
            if obj:
                first = obj.split()[0].lower()
                if first.endswith("ing"):
                    p.goal = _goal_from(obj)
                elif first in FOODS:
                    p.goal = f"bake the most wonderful {obj} in the world"
                    p.props.append(singular(obj.split()[-1]))
                else:
                    p.goal = _own(f"find the most wonderful {obj} of all")
        else:
            p.goal = _goal_from(m.group(1))

    for w in p.words:
        if w in SETTING_WORDS and not (w == p.hero_kind) and singular(w) not in (p.hero_kind,):
            if w in ("fly", "flying", "moon", "star", "stars", "kite", "balloon", "cloud", "clouds", "rocket"):
                continue  # these steer a scene, not the home
            p.setting = SETTING_WORDS[w]
            break
    if p.setting is None and p.hero_kind in KIND_HOME:
        p.setting = KIND_HOME[p.hero_kind]

    for w in p.words:
        s = singular(w)
        if (w in PROP_WORDS or s in PROP_WORDS) and s not in p.props and s != p.hero_kind and w not in ("moon",
                                                                                                     "star", "paint"):
            p.props.append(w if w in PROP_WORDS else s)
    p.nouns = [w for w in p.words if (singular(w) in KINDS or w in PROP_WORDS) and w not in STOP]
    return p


def _first_noun(words: list[str]) -> str | None:
    """The noun after the first article ('a lonely lighthouse keeper' -> 'lighthouse keeper'), if any."""
    for i, w in enumerate(words):
        if w in ("a", "an", "the"):
            phrase = []
            for x in words[i + 1:]:
                if x in STOP:
                    break
                phrase.append(x)
            phrase = [x for x in phrase if x not in TRAITS]
            if phrase:
                return " ".join(phrase[-2:])
    content = [w for w in words if w not in STOP and w not in TRAITS and len(w) > 2]
    if len(content) == 1:
        return singular(content[0])
    return None


# ---- word forms -------------------------------------------------------------------------------------------

NEEDS_E = set("make bake dance ride write skate race dive hide explore share care smile move prove save love "
              "live rescue escape juggle whistle giggle tickle cycle create imagine face come become shine "
              "chase trade wave glide slide drive invite solve breathe believe sneeze bounce change arrange "
              "please tease use close compose sculpte dine hike wade".split())
IRREGULAR = {
    "be": "was", "fly": "flew", "find": "found", "make": "made", "swim": "swam", "sing": "sang", "build": "built",
    "catch": "caught", "see": "saw", "get": "got", "go": "went", "win": "won", "ride": "rode", "write": "wrote",
    "draw": "drew", "dig": "dug", "run": "ran", "become": "became", "read": "read", "tell": "told",
    "grow": "grew", "keep": "kept", "take": "took", "give": "gave", "bring": "brought", "think": "thought",
    "sleep": "slept", "meet": "met", "hold": "held", "leave": "left", "light": "lit", "speak": "spoke",
    "steal": "stole", "wake": "woke", "throw": "threw", "fight": "fought", "teach": "taught", "buy": "bought",
    "stand": "stood", "feel": "felt", "fall": "fell", "have": "had", "do": "did", "say": "said",
    "shine": "shone", "come": "came", "eat": "ate", "know": "knew", "lose": "lost", "sit": "sat",
    "begin": "began", "drink": "drank", "forget": "forgot", "hear": "heard", "send": "sent", "spend": "spent",
    "swing": "swung", "blow": "blew", "dream": "dreamed", "learn": "learned", "spin": "spun", "bake": "baked",
    "cook": "cooked", "tell a joke": "told a joke", "sail": "sailed", "skate": "skated", "ski": "skied",
}
_DOUBLE = set("stop hop skip plan dip drop jog hug clap trip step wrap grab drum chat tap nap pat rub scrub "
              "stir plot knit shop".split())


def _first_rest(phrase: str) -> tuple[str, str]:
    parts = phrase.split(" ", 1)
    return parts[0], (" " + parts[1] if len(parts) > 1 else "")


def past(phrase: str) -> str:
    """The simple past of a verb phrase ('fly high' -> 'flew high', 'paint' -> 'painted')."""
    verb, rest = _first_rest(phrase)
    v = verb.lower()
    if v in IRREGULAR:
        out = IRREGULAR[v]
    elif v.endswith("e"):
        out = v + "d"
    elif v.endswith("y") and len(v) > 2 and v[-2] not in "aeiou":
        out = v[:-1] + "ied"
    elif v in _DOUBLE:
        out = v + v[-1] + "ed"
    else:
        out = v + "ed"
    return out + rest


def gerund(phrase: str) -> str:
    """The -ing form of a verb phrase ('fly high' -> 'flying high', 'bake a cake' -> 'baking a cake')."""
    verb, rest = _first_rest(phrase)
    v = verb.lower()
    if v == "be":
        out = "being"
    elif v.endswith("ie"):
        out = v[:-2] + "ying"
    elif v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        out = v[:-1] + "ing"
    elif v in _DOUBLE or v in ("swim", "run", "dig", "win", "sit", "spin", "begin", "forget", "get", "shop"):
        out = v + v[-1] + "ing"
    else:
        out = v + "ing"
    return out + rest


def article(phrase: str) -> str:
    """'a' or 'an' before the phrase, with the phrase ('owl' -> 'an owl', 'unicorn' -> 'a unicorn')."""
    w = phrase.strip().lower()
    vowel = w[:1] in "aeiou" and not w.startswith(("uni", "use", "one", "eu", "ufo"))
    vowel = vowel or w.startswith(("hour", "honest", "honour", "heir"))
    return ("an " if vowel else "a ") + phrase


_SMALL = set("a an the and or of to in on at by for with from under over but".split())


def title_case(text: str) -> str:
    """Title Case with short words kept lower inside ('pip and the wide blue sky' -> 'Pip and the Wide Blue Sky')."""
    words = text.split()
    out = []
    for i, w in enumerate(words):
        if i and w.lower() in _SMALL:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:])
    return " ".join(out)
