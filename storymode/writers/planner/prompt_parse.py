"""The planner's premise: who, where, when and the weather as storymode.understanding read them, with the wording
of the wish, the moral and a trait taken from the prompt's own phrases; plus the word forms the templates need.

Only the first ~300 characters are read for the wording. It never fails: anything it cannot place falls back to
sensible defaults chosen later by the planner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...story import clean_text
from ...understanding import vocabulary as _vocab
from ...understanding.vocabulary import EMOJI_WORDS, TRAITS

PARSE_CHARS = 300


PROP_WORDS = _vocab.PROP_WORDS

STOP = set(
    "a an the and or but of to in on at by for with from into onto under over about who that which what when "
    "where while is are was were be been being has have had do does did will would can could should may might "
    "must shall not no yes very really so too just this these those there their they them he she his her him "
    "it its i me my we our you your story tale write tell make once upon time one day bedtime please about "
    "wants want wanted learns learn learned learnt loves love loved tries try tried lost loses lose finds find "
    "found goes go went who's named called lesson some any all every each like likes".split()
)
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
    """A plural noun's singular when the vocabulary knows it ('dragons' -> 'dragon', 'mice' -> 'mouse')."""
    w = word.lower()
    kind = _vocab.kind_of(w)
    if kind is not None and kind.word != w:
        return kind.word
    if w in ("mice", "geese", "wolves"):
        return _vocab.IS_A[w]
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
    from ...understanding.prompt import read_prompt

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
    figures = ([req.hero] if req.hero else []) + list(req.companions)
    p.nouns = [w for f in figures for w in f.noun.lower().replace("'s", "").split()] + list(req.props)
    return p


def _parse_words(prompt: str) -> Premise:
    """The wording the templates reuse: the wish as a verb phrase, the moral, a trait, the prompt's words."""
    text = prepare(prompt)
    p = Premise(text=text)
    p.words = [t.lower().strip("'’-") for t in _WORD.findall(text)]
    p.raw_words = [w.lower() for w in _WORD.findall(clean_text(prompt[: PARSE_CHARS * 4])[:PARSE_CHARS])]
    p.trait, p.trait_word = next(((TRAITS[w], w) for w in p.words if w in TRAITS), (None, None))
    m = _LEARNS_THAT.search(text)
    if m:
        p.moral = _phrase(m.group(1), 14)
    p.goal, food = _wish(text)
    if food:
        p.props.append(food)
    return p


def _wish(text: str) -> tuple[str | None, str | None]:
    """The hero's wish as a verb phrase, from the first pattern that gives one (afraid of, lost, wants to, loves),
    and the food the hero loves when the wish is to bake it (a prop for the pictures)."""
    for rx in (_AFRAID, _LOST, _GOAL, _LOVES):
        m = rx.search(text)
        if not m:
            continue
        food = None
        if rx is _GOAL:
            goal = _goal_from(m.group(1))
        elif rx is _LOVES:
            goal, food = _loved_goal(_phrase(m.group(1)))
        else:
            goal = _brave_goal(_phrase(m.group(1)), afraid=rx is _AFRAID)
        if goal:
            return goal, food
    return None, None


def _brave_goal(obj: str, afraid: bool) -> str | None:
    """'face the dark' for what the hero is afraid of, 'find her kite again' for what the hero lost."""
    if not obj:
        return None
    if obj.lower() in ("dark", "water", "night", "sea", "ocean", "thunder", "wind", "rain", "snow"):
        obj = "the " + obj
    return _own(f"face {obj}" if afraid else f"find {obj} again")


def _loved_goal(obj: str) -> tuple[str | None, str | None]:
    """The wish made of what the hero loves (doing it, baking it, or finding the most wonderful one), and the
    food when it is one."""
    if not obj:
        return None, None
    first = obj.split()[0].lower()
    if first.endswith("ing"):
        return _goal_from(obj), None
    if first in FOODS:
        return f"bake the most wonderful {obj} in the world", singular(obj.split()[-1])
    return _own(f"find the most wonderful {obj} of all"), None


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
