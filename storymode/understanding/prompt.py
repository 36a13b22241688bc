"""Read a prompt into a StoryRequest with spaCy's parse and the shared vocabulary.

The subject of the prompt is the hero; the one it befriends, is helped by or goes with is a companion.
Names attach to figures through the parse (apposition "Mila the otter", "a girl called Ada") and a token
pattern for what the small parser gets wrong ("Tilly the mouse" at the start of a sentence).
"""
from __future__ import annotations

import re

from ..story import clean_text
from . import vocabulary as V
from .request import Figure, StoryRequest

READ_CHARS = 400  # a prompt longer than this is read from its start: the premise comes first
_META = re.compile(
    r"^\s*(?:please\s+)?(?:(?:write|tell|make|create|give|generate)\s+(?:me\s+|us\s+)?)?(?:a\s+|an\s+)?"
    r"(?:short\s+|little\s+|bedtime\s+|funny\s+|silly\s+|sweet\s+|cosy\s+|cozy\s+|spooky\s+|kids'?\s+|"
    r"children'?s\s+)*(?:story|tale|fable)\s+(?:about|of|where|in which|with|for)\s+", re.I)
_LOCATIVE = V.LOCATIVE_WORDS
_WISH_VERBS = frozenset("want wish long dream hope learn try need decide plan set seek yearn aim refuse "
                        "promise vow start begin".split())
_DEED_VERBS = frozenset("befriend help save rescue find search look chase build bake fix mend win meet visit "
                        "explore climb cross catch protect guard free follow discover deliver carry paint "
                        "sail fly swim escape solve".split())
_STATE_VERBS = frozenset("be have live love like own know seem become get".split())  # not deeds to tell of
_COMPANION_VERBS = frozenset("befriend meet help save rescue follow join accompany adopt visit".split())
_GOING = frozenset("explore visit reach cross climb sail roam tour discover enter leave".split())
_SKYISH = frozenset({"moon", "star", "stars", "sky", "clouds", "cloud", "rainbow", "balloon", "sun", "air"})
_HONORIFICS = frozenset("mr mrs ms miss dr sir lady lord captain professor aunt auntie uncle grandma grandpa "
                         "granny king queen prince princess".split())
_TITLE_KINDS = frozenset("sir lady lord mr mrs miss grandpa grandma granny captain man woman person".split())
_THINGS = frozenset({"moon", "star", "sun", "kite", "balloon", "boat", "rocket", "tree", "cloud", "car", "train"})
FEMALE_NAMES = frozenset(
    "Mia Lila Ada Nora Rosa Ivy Emma Olivia Ava Sophia Isla Amelia Lily Chloe Grace Zoe Ella Lucy Ruby Alice Anna "
    "Maya Sara Sarah Hannah Leah Luna Stella Clara Eva Iris Hazel Mila Nina Julia Elsa Anya Priya Aisha Fatima "
    "Yuki Mei Sofia Lea Emily Daisy Poppy Rose Molly Tilly Matilda Greta Freya Elsie Zara Amara Beatrix Edith "
    "Martha Mary Jane Kate Alma Wren Juniper Fern Marigold Clementine Hattie Bess Polly Agnes Ingrid Ines "
    "Lucia Amira Noor Leila Ayla Esme".split())
MALE_NAMES = frozenset(
    "Leo Sam Theo Omar Finn Kai Max Noah Liam Oliver Jack Harry Ben Tom Lucas Ethan Oscar Arlo Hugo Felix Jonah "
    "Ravi Arjun Kenji Mateo Diego Ali Adam Henry George Charlie Alfie Rory Toby Milo Jamie Danny Peter Paul John "
    "James Luke Otto Bruno Barnaby Jasper Rufus Ned Fred Albert Arthur Walter Tobias Hamish Sven Pedro Marco "
    "Ahmed Yusuf Idris Bertie Percy Basil".split())
_NOT_NAMES = frozenset("A An The And Once Upon Write Tell Make Story I My Please Our One Every Some This That Who "
                       "When Where What Why How Little Big Old Young Mr Mrs Ms Dr Sir Miss Lady Lord Then But "
                       "So He She They It We You Create Give Generate".split())


def prepare(prompt: str) -> str:
    """The prompt's first characters, cleaned: emoji named as words, a leading 'write a story about' dropped."""
    text = clean_text((prompt or "")[: READ_CHARS * 4])[:READ_CHARS]
    text = re.sub(r"[\u200D][^\s]*", "", text)  # "🐻‍❄️" is read as its first emoji
    have = set(re.findall(r"[a-z]+", text.lower()))
    only_emoji = not have
    for emo, word in V.EMOJI_WORDS.items():
        if emo in text:  # "a dragon 🐉": no second dragon; "🦊🌙": a list of words, the first is the hero
            text = text.replace(emo, " " if word in have else f" {word}, " if only_emoji else f" {word} ")
    text = re.sub(r"[\uFE0F\u200D]", "", text)
    text = "".join(ch if ch.isalnum() or ch in " '’-.,!?;:\"“”" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    return _META.sub("", text).strip()


def _kind_token(tok) -> V.Kind | None:  # type: ignore[no-untyped-def]
    """The kind a token names, if it is a noun-like word the vocabulary knows."""
    if tok.pos_ in ("VERB", "AUX", "ADP", "DET", "PRON", "CCONJ", "PART", "NUM") and tok.dep_ != "compound":
        return None
    word = tok.text.lower()
    if word in V.RELATION_WORDS:
        return None
    return V.kind_of(word) or V.kind_of(tok.lemma_.lower())


def _is_name(tok) -> bool:  # type: ignore[no-untyped-def]
    """Whether a token looks like a proper name (capitalised, not a common or kind word)."""
    text = tok.text.strip("'’")
    if not text[:1].isupper() or text in _NOT_NAMES or len(text) > 24 or not text.isalpha():
        return False
    low = text.lower()
    if tok.i > 0 and tok.doc[tok.i - 1].text.rstrip(".").lower() in _HONORIFICS:
        return True  # "Mrs. Brook", "Captain Juno": a name whatever else the word means
    called = tok.head.lemma_ in ("name", "call") or tok.dep_ in ("appos", "oprd")
    bare = not tok.is_sent_start and not any(c.dep_ in ("det", "poss") for c in tok.children) and \
        tok.doc[tok.i - 1].lower_ not in ("the", "a", "an", "this", "that", "my", "his", "her", "their", "our")
    if V.kind_of(low) and (called or bare) and not V.setting_of(low):
        return True  # "a girl named Wren", "said Robin": a kind word used as a name
    if V.kind_of(low) or V.setting_of(low) or low in V.TRAITS or low in V.PROP_WORDS or \
            tok.lemma_.lower() in V.PROP_WORDS:
        return False  # "the Fox", "some fine bunches of Grapes": a fable's capitals name kinds and things
    if text in FEMALE_NAMES or text in MALE_NAMES or tok.ent_type_ == "PERSON":
        return True
    return tok.pos_ == "PROPN" or (not tok.is_sent_start and tok.pos_ not in ("VERB", "ADJ"))


def _phrase(tok) -> str:  # type: ignore[no-untyped-def]
    """The figure's own noun phrase: its compounds and possessors, without articles or adjectives of trait."""
    keep = []
    for t in tok.subtree:
        if t.i > tok.i:
            break
        if t.dep_ in ("det", "predet") or t.text.lower() in V.TRAITS or t.pos_ in ("PRON", "PUNCT", "NUM"):
            continue
        if t.dep_ in ("amod", "advmod") and t.head.i == tok.i and t.i != tok.i:
            continue
        keep.append(t)
    text = " ".join(t.text for t in keep).replace(" 's", "'s").replace(" ’s", "’s")
    return text.lower() if keep and not keep[0].text[:1].isupper() else text or tok.text


def _trait(tok) -> str | None:  # type: ignore[no-untyped-def]
    """A trait adjective said of the figure ('a shy fox', 'a fox who is shy')."""
    for t in tok.children:
        if t.dep_ == "amod" and t.text.lower() in V.TRAITS:
            return t.text.lower()
    for t in tok.doc[max(tok.sent.start, tok.i - 3):tok.i]:
        if t.text.lower() in V.TRAITS:
            return t.text.lower()
    return None


def _gender_of_name(name: str | None) -> str | None:
    if name in FEMALE_NAMES:
        return "she"
    if name in MALE_NAMES:
        return "he"
    return None


class _Mention:
    """A figure found in the parse, before the hero is chosen."""

    def __init__(self, tok, kind: V.Kind | None, name: str | None) -> None:  # type: ignore[no-untyped-def]
        self.tok, self.kind, self.name = tok, kind, name

    def figure(self) -> Figure:
        """The mention as a Figure: its noun phrase, picture kind, name, role, gender, age and trait."""
        kind = self.kind
        gender = (kind.gender if kind else None) or _gender_of_name(self.name)
        if kind is None:  # a name alone ("Ada wants to fly"): a child, a girl or a boy by the name
            noun = {"she": "girl", "he": "boy"}.get(gender or "", "child")
        else:
            noun = _phrase(self.tok)
        base = kind.base if kind else noun
        if base == "child" and gender:
            base = "girl" if gender == "she" else "boy"
        elif base == "person" and gender:
            base = "woman" if gender == "she" else "man"
        return Figure(noun=noun[:80], kind=base[:40], name=self.name, role=kind.role if kind else None,
                      gender=gender, age=kind.age if kind else "child", trait=_trait(self.tok))


def _mentions(doc) -> list[_Mention]:  # type: ignore[no-untyped-def]
    """Figures in text order: kind nouns (with their names) and names without a kind."""
    out: list[_Mention] = []
    named: set[int] = set()
    for tok in doc:
        kind = _kind_token(tok)
        if kind is None:
            continue
        if tok.dep_ in ("poss", "compound") and _kind_token(tok.head) is not None:
            continue  # "keeper's daughter", "bear cub": the head is the figure
        if tok.dep_ == "amod" or tok.dep_ not in ("nsubj", "nsubjpass") and tok.head.lemma_ in ("be", "become"):
            continue  # "a giant cake"; "wants to be a baker" is a wish, not a companion
        name = None
        for t in list(tok.children) + [tok.head]:
            is_head = t.i == tok.head.i and t.i != tok.i
            linked = (tok.dep_ == "appos" if is_head else t.dep_ in ("appos", "oprd", "attr"))
            if linked and _is_name(t) or (not is_head and t.dep_ == "acl" and t.lemma_ in ("call", "name")):
                cand = t if t.dep_ != "acl" or is_head else next((c for c in t.children if _is_name(c)), None)
                if cand is not None and _is_name(cand):
                    name = cand.text
                    named.add(cand.i)
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        if name is None and tok.text[:1].isupper() and nxt is not None and _is_name(nxt):
            name = nxt.text  # "Grandpa Joe", "Captain Juno"
            named.add(nxt.i)
        # "Tilly the mouse", "Pip the brave fox": a name just before "the [adj]* kind"
        left = tok.i - 1
        while left >= 0 and doc[left].pos_ == "ADJ":
            left -= 1
        if name is None and left >= 1 and doc[left].lower_ == "the" and _is_name(doc[left - 1]):
            name = doc[left - 1].text
            named.add(left - 1)
        same = next((m for m in out if name is not None and m.name == name), None)
        if same is not None:  # "Grandpa Joe the fisherman", "Sir Bramble, a knight": one figure
            if same.kind is None or same.kind.word in _TITLE_KINDS:
                same.kind = kind  # the title says less than the kind
            continue
        out.append(_Mention(tok, kind, name))
    for tok in doc:
        if tok.i in named or not _is_name(tok):
            continue
        if any(m.name == tok.text for m in out):
            continue
        # a name that is the head of an apposition with a kind ("Mila, the otter") was taken above
        out.append(_Mention(tok, None, tok.text))
    out.sort(key=lambda m: m.tok.i)
    return out


def _place(doc, hero_tok) -> tuple[str | None, str | None]:  # type: ignore[no-untyped-def]
    """(setting, the prompt's word for it): locative phrases weigh most, words inside the hero's name least."""
    best: tuple[float, int, str, str] | None = None
    for tok in doc:
        words = [tok.lower_, tok.lemma_.lower()]
        if tok.i + 1 < len(doc):
            words.insert(0, f"{tok.lower_} {doc[tok.i + 1].lower_}")
        for w in words:
            setting = V.setting_of(w)
            if setting is None:
                continue
            locative = tok.dep_ == "pobj" and tok.head.lower_ in _LOCATIVE or (
                tok.dep_ == "compound" and tok.head.dep_ == "pobj" and tok.head.head.lower_ in _LOCATIVE) or (
                tok.dep_ == "dobj" and tok.head.lemma_ in _GOING)  # "explore the moon", "cross the desert"
            if w.split()[0] in _SKYISH and not locative or tok.pos_ == "ADJ":
                continue  # "a snowy afternoon" is weather, not a place
            in_hero = hero_tok is not None and tok.i in {t.i for t in hero_tok.subtree} and tok.i != hero_tok.i
            score = 3.0 if locative else 2.0 if in_hero else 1.0
            if " " in w:
                score += 1.0  # "a space station", "the village square": the two words together say more
            elif tok.dep_ == "compound" and tok.head.lower_ in V.SETTLEMENT_WORDS and setting not in V.INDOOR_SETTINGS:
                score += 0.5  # "a desert town" is the desert, with a town in it
            elif tok.dep_ == "compound" and V.setting_of(tok.head.lower_):
                score -= 0.5  # "the village street" is a street
            if tok.pos_ == "VERB":
                score -= 0.5
            rank = (score, -tok.i, setting, w)
            if best is None or rank > best:
                best = rank
            break
    return (best[2], best[3]) if best else (None, None)


def _wish(doc, hero_tok) -> str | None:  # type: ignore[no-untyped-def]
    """What the hero wants: the verb phrase after 'wants to / learns to / dreams of', or the hero's own deed."""
    for tok in doc:
        if tok.lemma_ in _WISH_VERBS:
            for child in tok.children:
                if child.dep_ in ("xcomp", "ccomp") and child.pos_ == "VERB":
                    return _verb_phrase(child)
                if child.dep_ == "prep" and child.lower_ in ("of", "about"):
                    for g in child.children:
                        if g.dep_ == "pcomp" and g.pos_ == "VERB":
                            return _verb_phrase(g)
    for tok in doc:
        if tok.lemma_ in _DEED_VERBS and tok.pos_ == "VERB" and not any(c.dep_ == "auxpass" for c in tok.children):
            return _verb_phrase(tok)
    for tok in doc:  # any deed of the hero's own: 'a robot who plants a garden', 'a bear who knits hats'
        if (hero_tok is not None and tok.dep_ == "relcl" and tok.head.i == hero_tok.i and tok.pos_ == "VERB"
                and tok.lemma_ not in _STATE_VERBS and any(c.dep_ == "dobj" for c in tok.children)):
            return _verb_phrase(tok)
    return None


def _verb_phrase(verb) -> str:  # type: ignore[no-untyped-def]
    """A verb with its objects and particles in the base form ('fixes the great clock' -> 'fix the great clock')."""
    words = [verb.lemma_]
    for t in verb.subtree:
        if t.i <= verb.i:
            continue
        if t.dep_ in ("relcl", "advcl", "cc", "conj", "punct", "mark") and t.head.i == verb.i:
            break
        if t.lower_ in ("during", "while", "because", "until", "when", "in", "at", "on") and t.head.i == verb.i:
            break
        words.append(t.text)
    return " ".join(words[:8])[:120]


def _companion_head(tok) -> bool:  # type: ignore[no-untyped-def]
    """Whether the figure is befriended, met, helped or played with ('befriends a comet', 'plays with the sun')."""
    head = tok.head
    if head.lemma_ in _COMPANION_VERBS:
        return True
    return head.dep_ == "prep" and head.lower_ == "with" and head.head.lemma_ in _COMPANION_VERBS | {
        "play", "talk", "dance", "race", "go", "travel", "walk", "live"}


def _weather(doc) -> str | None:
    found = [V.WEATHER_WORDS[t.lower_] for t in doc if t.lower_ in V.WEATHER_WORDS]
    found += [V.WEATHER_WORDS[t.lemma_.lower()] for t in doc if t.lemma_.lower() in V.WEATHER_WORDS]
    return min(found, key=lambda w: V.WEATHER_RANK[w]) if found else None


def _time(doc) -> str | None:
    for t in doc:
        if t.lower_ in V.TIME_WORDS and not (t.lower_ == "dark" and t.head.lemma_ not in ("of", "in", "after")):
            return V.TIME_WORDS[t.lower_]
    return None


def _activity_place(doc) -> str | None:  # type: ignore[no-untyped-def]
    """The place an activity or an aspiration implies: 'bake bread' -> kitchen, 'wants to be a baker' -> bakery."""
    for tok in doc:
        if tok.lemma_ in V.ACTIVITY_PLACES and tok.pos_ == "VERB":
            return V.ACTIVITY_PLACES[tok.lemma_]
        if tok.dep_ == "attr" and tok.head.lemma_ in ("be", "become"):
            home = V.home_of(V.kind_of(tok.lower_))
            if home:
                return home
    return None


def _bedtime(prompt: str) -> str | None:
    """Night, for a bedtime story (the words the reader drops as 'story about ...')."""
    return "night" if re.search(r"\bbedtime\b|\bgoodnight\b|\bgood night\b", (prompt or "")[:READ_CHARS],
                                re.I) else None


def read_prompt(prompt: str) -> StoryRequest:
    """A prompt, understood: hero, companions, place, time, weather, wish and props. Never raises on odd text."""
    from .nlp import parse

    text = prepare(prompt)
    if not re.search(r"[^\W\d_]", text):
        return StoryRequest()
    doc = parse(text)
    mentions = _mentions(doc)
    hero_m = next((m for m in mentions if m.kind is None or m.kind.animate or m.tok.dep_ in ("ROOT", "nsubj")),
                  None)
    hero = hero_m.figure() if hero_m else None
    if hero is not None and hero.gender is None:  # "the moon lost her shine"
        she = sum(t.lower_ in ("she", "her", "hers", "herself") for t in doc)
        he = sum(t.lower_ in ("he", "his", "him", "himself") for t in doc)
        if she != he:
            hero = hero.model_copy(update={"gender": "she" if she > he else "he"})
    companions: list[Figure] = []
    for m in mentions:
        if m is hero_m or len(companions) >= 2:
            continue
        befriended = _companion_head(m.tok)
        if m.kind is not None and (not m.kind.animate or m.kind.word in _THINGS) and not (
                befriended and "toy" not in m.kind.chain):
            continue
        if m.tok.tag_ in ("NNS", "NNPS") and not befriended:
            continue  # "sings to the sailors", "keeps bees": a crowd, not a companion
        if m.tok.dep_ == "poss" and m.name is None:
            continue  # "the king's birthday"
        if hero_m is not None and m.kind is not None and hero_m.kind is not None and m.kind.word == hero_m.kind.word \
                and not m.name:
            continue
        if m.name and hero and m.name == hero.name:
            continue
        fig = m.figure()
        if all(c.noun != fig.noun or c.name != fig.name for c in companions):
            companions.append(fig)
    place, place_noun = _place(doc, hero_m.tok if hero_m else None)
    wish = _wish(doc, hero_m.tok if hero_m else None)
    if place is None and hero_m is not None and hero_m.kind is not None and hero_m.kind.role:
        place = V.home_of(hero_m.kind)  # a baker's place is the bakery, whatever she bakes
    if place is None and hero_m is not None:
        for c in hero_m.tok.children:  # a farmer's son lives on the farm; an astronaut girl in space
            if c.dep_ in ("poss", "compound") and V.kind_of(c.lower_) is not None:
                place = V.home_of(V.kind_of(c.lower_)) or place
    if place is None:
        place = _activity_place(doc)
    if place is None and hero_m is not None:
        place = V.home_of(hero_m.kind)
    props = []
    for t in doc:
        w = t.lemma_.lower()
        if (w in V.PROP_WORDS or t.lower_ in V.PROP_WORDS) and w not in props and t.pos_ in ("NOUN", "PROPN") and (
                hero_m is None or t.i != hero_m.tok.i):
            props.append(w)
    return StoryRequest(hero=hero, companions=companions, place=place, place_noun=place_noun,
                        time_of_day=_time(doc) or _bedtime(prompt), weather=_weather(doc), wish=wish,
                        props=props[:8])
