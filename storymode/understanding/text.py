"""Read a user's text: its characters (named or not, with kind, gender and aliases), the speaker of every quote,
and the places, weather and time each sentence names.

The segmenter cuts the text into sentences (word for word) and hands them here paragraph by paragraph; this
module parses each paragraph with spaCy and answers per sentence and per quote, so the two never disagree about
where a quote is. Attribution, in order: a speech verb next to the quote and its subject ("said Tilly", "she
whispered" -> the last female character mentioned, "said the lion"); the character who acts in the sentence just
before a bare quote ("Tilly looked up. “Who's there?”"); turn-taking in a run of bare quotes.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from ..story import NARRATOR, slug
from . import vocabulary as V
from .prompt import FEMALE_NAMES, MALE_NAMES, _is_name, _kind_token

QUOTE = re.compile(r"“([^”]*)”|\"([^\"]*)\"")
CAST_MAX = 20
SPEECH_VERBS = frozenset(
    "say ask reply cry shout whisper call answer exclaim yell add sing laugh squeak cluck mutter murmur growl roar "
    "sigh gasp giggle grumble bark chirp hiss snap tell beg wonder explain insist declare announce agree suggest "
    "squeal boom rumble whimper sob chuckle huff protest continue repeat warn plead promise scream bellow purr "
    "quack hoot squawk moan groan mumble whine shriek sniff snort tweet bleat neigh moo croak trumpet call "
    "demand wail cheer sniffle stammer stutter breathe lament grunt puff pant hum chatter retort admit "
    "chant recite boast complain observe remark note gulp".split())
_TITLES = {"mr": "man", "mr.": "man", "mrs": "woman", "mrs.": "woman", "miss": "woman", "ms": "woman", "ms.": "woman",
           "dr": "person", "dr.": "person", "sir": "knight", "lady": "woman", "lord": "man", "grandma": "grandma",
           "grandpa": "grandpa", "granny": "grandma", "aunt": "woman", "uncle": "man", "auntie": "woman",
           "captain": "captain", "king": "king", "queen": "queen", "prince": "prince", "princess": "princess",
           "old": "person", "mother": "woman", "father": "man", "professor": "teacher", "farmer": "farmer"}
_PRONOUN_GENDER = {"she": "she", "her": "she", "hers": "she", "herself": "she",
                   "he": "he", "him": "he", "his": "he", "himself": "he"}
_LOCATIVE = V.LOCATIVE_WORDS
_MOTION = frozenset("go fly travel sail rocket journey float climb walk run race ride zoom blast land".split())
_GENERIC_PEOPLE = frozenset({"man", "woman", "person", "lady", "gentleman", "child", "girl", "boy", "kid"})
_NOT_CHARACTERS = frozenset({"voice", "someone", "everyone", "nobody", "anyone", "thing", "people", "crowd",
                             "moon", "sun", "star", "stars", "tree", "cloud", "kite", "balloon", "boat", "train",
                             "car", "rocket", "teddy", "doll", "toy", "puppet"})
_MONTHS_DAYS = frozenset("January February March April May June July August September October November December "
                         "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Christmas Easter God".split())


@dataclass
class Person:
    """A character found in the text."""

    id: str
    name: str  # what the story calls them: "Tilly", "Mr. Alder", "the lion"
    kind: str  # what they are: "mouse", "clockmaker", "lion"
    gender: str | None = None
    aliases: list[str] = field(default_factory=list)
    human: bool = False
    mentions: int = 0
    first: int = 0  # the order of the first mention
    votes: dict = field(default_factory=lambda: {"she": 0, "he": 0})

    def chain(self) -> tuple[str, ...]:
        """The person's kind and its parents in the vocabulary ('clockmaker', 'person')."""
        k = V.kind_of(self.kind)
        return k.chain if k else (self.kind,)


@dataclass
class TextReading:
    """What the reader understood, indexed by the segmenter's sentence numbers."""

    characters: list[Person]
    speakers: dict[tuple[int, int], str]  # (sentence index, quote index in the sentence) -> character id
    cast: dict[int, list[str]]  # sentence index -> ids of the characters it mentions
    places: dict[int, list[tuple[str, float]]]  # sentence index -> [(setting, weight)]
    weather: dict[int, str]
    time_of_day: dict[int, str]


_PLACE_NAMES = frozenset("street road lane avenue point hill hills bay wood woods farm castle river lake mountain "
                         "mountains valley island forest square park bridge harbour harbor beach cove tower "
                         "village town city market school house hall gardens garden moor green way".split())
_NOT_NAME_WORDS = frozenset("I He She It They We You The A An And But Then So Everyone Nobody Someone Nothing "
                            "Something Yes No Oh Well Please Thank".split())
_FAMILY = frozenset("mother mum mom mummy mommy father dad daddy grandfather grandmother grandpa grandma granny "
                    "nana grandad granddad brother sister son daughter aunt uncle cousin granddaughter grandson "
                    "husband wife parents master mistress owner".split())


def _is_heading(paragraph: str) -> bool:
    """A one-line paragraph with no closing punctuation: a title or a chapter heading."""
    text = paragraph.strip()
    return bool(text) and len(text.split()) <= 12 and text[-1] not in ".!?…\"”:;,"


def quote_spans(sentence: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the double-quoted parts of one sentence, marks included."""
    return [(m.start(), m.end()) for m in QUOTE.finditer(sentence)]


class _Reader:
    def __init__(self, paragraphs: list[list[str]]) -> None:
        self.paragraphs = paragraphs
        self.people: list[Person] = []
        self.by_key: dict[str, Person] = {}  # lowercase name, alias or kind word -> person
        self.history: list[str] = []  # person ids, most recent last
        self.salient: list[str] = []  # the same for subjects, possessors and speakers

    # -- characters ---------------------------------------------------------------------------------------------

    def _add(self, name: str, kind: str, human: bool, gender: str | None) -> Person:
        base = slug(name, "character")
        cid = "narrator-char" if base == NARRATOR else base
        n = 2
        while any(p.id == cid for p in self.people):
            cid = f"{base[:36]}-{n}"
            n += 1
        person = Person(id=cid, name=name, kind=kind, gender=gender, human=human)
        self.people.append(person)
        self._alias(person, name)
        return person

    def _alias(self, person: Person, alias: str) -> None:
        key = alias.lower().strip()
        if key and key not in self.by_key:
            self.by_key[key] = person
            if alias not in person.aliases and alias != person.name:
                person.aliases.append(alias)

    def discover(self, docs, in_quote) -> None:  # type: ignore[no-untyped-def]
        """Find the characters: names (with the kind they are linked to) and animate kind nouns."""
        names: dict[str, dict] = {}
        kinds: dict[str, dict] = {}
        order = 0
        common = {t.text for doc in docs for t in doc if t.text.islower()}  # "splash" makes "Splash," no name
        for d, doc in enumerate(docs):
            if _is_heading(doc.text):
                continue  # "Morning on the Harbour" names no one
            for tok in doc:
                order += 1
                if in_quote(d, tok.idx):
                    continue
                name = self._name_at(tok)
                if name and name.lower() in common and name not in FEMALE_NAMES | MALE_NAMES and \
                        tok.ent_type_ != "PERSON":
                    name = None
                if name:
                    info = names.setdefault(name, {"count": 0, "kind": None, "title": None, "first": order})
                    info["count"] += 1
                    title = tok.doc[tok.i - 1].lower_ if tok.i > 0 else ""
                    if title in _TITLES and info["title"] is None:
                        info["title"] = title
                    linked = self._linked_kind(tok)
                    if linked and info["kind"] is None:
                        info["kind"] = linked
                    continue
                kind = self._kind_at(tok)
                if kind:
                    definite = any(c.dep_ == "det" and c.lower_ == "the" for c in tok.children)
                    info = kinds.setdefault(kind.word, {"count": 0, "adjs": [], "named": None, "first": order,
                                                        "family": True, "definite": definite})
                    info["count"] += 1
                    if not (kind.word in _FAMILY and any(c.dep_ == "poss" for c in tok.children)):
                        info["family"] = False
                    adjs = [c.lower_ for c in tok.children if c.dep_ == "amod"]
                    if adjs:
                        info["adjs"].append(f"the {' '.join(adjs)} {tok.lower_}")
                    linked = self._linked_name(tok)
                    if linked and info["named"] is None:
                        info["named"] = linked
        # a name that appears only at the start of sentences is still a name when spaCy tags it PROPN
        for name, info in sorted(names.items(), key=lambda kv: -kv[1]["count"]):
            kind_word = info["kind"]
            given = [k for k, ki in kinds.items() if ki["named"] == name]
            trade = [k for k in given if (V.kind_of(k) and V.kind_of(k).role)]
            if trade and (kind_word is None or kind_word in _GENERIC_PEOPLE):
                kind_word = trade[0]  # "the farmer, a tall woman named Mrs. Brook": a farmer
            elif kind_word is None and given:
                kind_word = given[0]
            title = info["title"]
            if kind_word is None and title:
                kind_word = _TITLES[title]
            gender = "she" if name.split()[-1] in FEMALE_NAMES or title in ("mrs", "mrs.", "miss", "ms", "ms.",
                                                                            "lady", "aunt", "grandma", "queen") \
                else "he" if name.split()[-1] in MALE_NAMES or title in ("mr", "mr.", "sir", "lord", "uncle",
                                                                         "grandpa", "king") else None
            k = V.kind_of(kind_word) if kind_word else None
            if k and k.gender:
                gender = gender or k.gender
            display = f"{title.capitalize()} {name}" if title in ("mr", "mr.", "mrs", "mrs.", "miss", "dr", "dr.",
                                                                   "ms", "ms.") else name
            display = display.replace("Mr ", "Mr. ").replace("Mrs ", "Mrs. ").replace("Dr ", "Dr. ")
            person = self._add(display, kind_word or "", bool(k.human) if k else kind_word is None, gender)
            person.mentions, person.first = info["count"], info["first"]
            self._alias(person, name)
            if kind_word:
                self._alias(person, f"the {kind_word}")
                self._alias(person, kind_word)
        for word, info in sorted(kinds.items(), key=lambda kv: kv[1]["first"]):
            owner = self.by_key.get(word) or self.by_key.get(f"the {word}")
            if owner is None and info["named"]:
                owner = self.by_key.get(info["named"].lower())
            if owner is not None:
                for a in info["adjs"]:
                    self._alias(owner, a)
                continue
            k = V.kind_of(word)
            if k is None or k.word in _GENERIC_PEOPLE and self._generic_taken(k):
                continue  # "the old man" when Mr. Alder is the only man: resolved later, not a new character
            if info["family"]:
                same = self._family_match(k, info["first"])
                if same is not None:  # "her grandfather" after "an old fisherman": the same person
                    self._alias(same, word)
                    continue
            if k.role and k.human and info["definite"]:
                same = self._role_match(k, info["first"])
                if same is not None:  # "Mrs. Pike ran the bakery ... said the baker": her trade
                    same.kind = word
                    self._alias(same, f"the {word}")
                    self._alias(same, word)
                    continue
            person = self._add(f"the {word}", word, k.human, k.gender)
            person.mentions, person.first = info["count"], info["first"]
            self._alias(person, word)
            for a in info["adjs"]:
                self._alias(person, a)
        for p in self.people:  # names with no kind are people; which kind waits for their pronouns
            if not p.kind:
                p.human = True
        self.people.sort(key=lambda p: -p.mentions)
        del self.people[CAST_MAX:]
        keep = {p.id for p in self.people}
        self.by_key = {k: p for k, p in self.by_key.items() if p.id in keep}

    def _generic_taken(self, k: V.Kind) -> bool:
        """Whether a person already in the cast could be the one this generic noun ('the man') names."""
        grown = k.age in ("adult", "old")
        for p in self.people:
            pk = V.kind_of(p.kind) if p.kind else None
            if p.human and (not k.gender or p.gender in (None, k.gender)) and (
                    pk is None or (pk.age in ("adult", "old")) == grown):
                return True
        return False

    def _role_match(self, k: V.Kind, before: int) -> Person | None:
        """The person met earlier, of no trade yet, whom 'the baker' or 'the violinist' most likely names."""
        for p in sorted(self.people, key=lambda x: x.first):
            if p.human and p.first < before and p.kind in ("", "man", "woman", "person") and (
                    not k.gender or p.gender in (None, k.gender)):
                return p
        return None

    def _family_match(self, k: V.Kind, before: int) -> Person | None:
        """The person met earlier whom a family noun ('her grandfather') most likely names: same gender and age."""
        for p in self.people:
            pk = V.kind_of(p.kind)
            if p.human and p.first < before and k.gender and p.gender == k.gender and pk is not None and \
                    (pk.age in ("adult", "old")) == (k.age in ("adult", "old")):
                return p
        return None

    def _name_at(self, tok) -> str | None:  # type: ignore[no-untyped-def]
        if tok.text in _MONTHS_DAYS or tok.ent_type_ in ("GPE", "LOC", "DATE", "TIME", "NORP", "FAC"):
            return None
        nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
        if nxt is not None and nxt.text[:1].isupper() and nxt.lower_ in _PLACE_NAMES:
            return None  # "Bell Street", "Gull Point"
        if tok.lower_ in _PLACE_NAMES and tok.i > 0 and tok.doc[tok.i - 1].text[:1].isupper():
            return None
        if not _is_name(tok):
            capital = tok.text[:1].isupper() and tok.text.isalpha() and len(tok.text) > 1 and \
                not V.kind_of(tok.lower_) and tok.text not in _NOT_NAME_WORDS
            beside_speech = any(0 <= j < len(tok.doc) and tok.doc[j].lemma_.lower() in SPEECH_VERBS
                                for j in (tok.i - 1, tok.i + 1))
            if not (capital and (tok.pos_ == "PROPN" or beside_speech)):
                return None
        if tok.dep_ == "compound" and tok.head.pos_ == "PROPN" and tok.head.ent_type_ == "PERSON":
            return None  # first part of a two-word name is read with the second
        if tok.lower_ in _TITLES or tok.text.lower().rstrip(".") in ("mr", "mrs", "ms", "dr", "miss"):
            return None
        return tok.text

    def _kind_at(self, tok) -> V.Kind | None:  # type: ignore[no-untyped-def]
        kind = _kind_token(tok)
        if kind is None or not kind.animate or kind.word in _NOT_CHARACTERS:
            return None
        if tok.pos_ not in ("NOUN", "PROPN"):
            return None
        if tok.dep_ in ("poss", "compound") and tok.head.pos_ in ("NOUN", "PROPN") and \
                tok.head.lower_ not in V.RELATION_WORDS:
            if not (tok.dep_ == "poss" and V.kind_of(tok.head.lower_) is None):
                return None  # "lighthouse keeper", "mouse hole"; but "the clockmaker's shop" names the clockmaker
        return kind

    def _linked_kind(self, tok) -> str | None:  # type: ignore[no-untyped-def]
        """The kind a name is said to be: 'Tilly the mouse', 'Mr. Alder, the clockmaker', 'Ada was a girl'."""
        doc = tok.doc
        for t in list(tok.children) + [tok.head]:
            if (t.dep_ == "appos" and t.head.i == tok.i) or (t.i == tok.head.i and tok.dep_ == "appos"):
                k = self._kind_at(t) if t.i != tok.i else None
                if k:
                    return k.word
        j = tok.i + 1
        if j < len(doc) and doc[j].lower_ in (",", "the", "a", "an"):
            j += 1
            if j < len(doc) and doc[j].lower_ in ("the", "a", "an"):
                j += 1
            while j < len(doc) and doc[j].pos_ == "ADJ":
                j += 1
            if j < len(doc):
                k = self._kind_at(doc[j]) or (_kind_token(doc[j]) if doc[j].pos_ in ("NOUN", "PROPN") else None)
                if k and k.animate:
                    return k.word
        return None

    def _linked_name(self, tok, depth: int = 0) -> str | None:  # type: ignore[no-untyped-def]
        """The name a kind noun is given: 'a mouse called Tilly', 'the clockmaker, Mr. Alder'."""
        for t in tok.children:
            if t.dep_ == "appos" and _is_name(t):
                return t.text
            if t.dep_ == "acl" and t.lemma_ in ("call", "name"):
                for c in t.children:
                    if _is_name(c):
                        return c.text
            if t.dep_ == "appos" and _kind_token(t) is not None and depth < 2:
                found = self._linked_name(t, depth + 1)  # "the farmer, a tall woman named Mrs. Brook"
                if found:
                    return found
        doc, j = tok.doc, tok.i + 1  # the same, read from the words when the parser missed the apposition
        if depth < 2 and j < len(doc) and doc[j].text == ",":
            j += 1
            while j < len(doc) and (doc[j].dep_ == "det" or doc[j].pos_ == "ADJ"):
                j += 1
            if j < len(doc) and _kind_token(doc[j]) is not None and doc[j].i != tok.i:
                return self._linked_name(doc[j], depth + 1)
        return None

    # -- resolving mentions ---------------------------------------------------------------------------------------

    def resolve(self, tok, exclude: str | None = None) -> str | None:  # type: ignore[no-untyped-def]
        """The character a token refers to (a name, a kind noun, he/she), or None."""
        low = tok.lower_
        if low in _PRONOUN_GENDER:
            return self.recent(_PRONOUN_GENDER[low], exclude, salient=True) or \
                self.recent(_PRONOUN_GENDER[low], exclude)
        person = self.by_key.get(tok.text.lower()) if tok.text[:1].isupper() else None
        if person is None and tok.pos_ in ("NOUN", "PROPN"):
            person = self.by_key.get(low) or self.by_key.get(tok.lemma_.lower())
            if person is not None and person.id == exclude:
                person = None
            if person is None:
                k = V.kind_of(low) or V.kind_of(tok.lemma_.lower())
                if k is not None and k.animate:
                    cands = [p for p in self.people if p.id != exclude and k.word in p.chain() or p.id != exclude and (
                        k.human and p.human and k.base in _GENERIC_PEOPLE and (not k.gender or p.gender in (None, k.gender)))]
                    if cands:
                        order = {pid: i for i, pid in enumerate(self.history)}
                        person = max(cands, key=lambda p: order.get(p.id, -1))
        return person.id if person else None

    def recent(self, gender: str | None = None, exclude: str | None = None, salient: bool = False) -> str | None:
        """The most recently mentioned character of this gender (when given), else of unknown gender."""
        for loose in (False, True):
            for pid in reversed(self.salient if salient else self.history):
                if pid == exclude:
                    continue
                p = next((x for x in self.people if x.id == pid), None)
                if p is None:
                    continue
                if gender is None or p.gender == gender or (loose and p.gender is None):
                    return pid
            if gender is None:
                break
        return None

    def mention(self, pid: str | None, salient: bool = False) -> None:
        """Note a mention; subjects, possessors and speakers also go on the salient list pronouns look at first."""
        if not pid:
            return
        if not self.history or self.history[-1] != pid:
            self.history.append(pid)
        if salient and (not self.salient or self.salient[-1] != pid):
            self.salient.append(pid)


def read_text(paragraphs: list[list[str]]) -> TextReading:
    """Characters, quote speakers, and per-sentence cast, places, weather and time for the paragraphs' sentences."""
    from .nlp import parse_many

    texts, starts, quotes = [], [], []
    for para in paragraphs:
        offs, pos, qs = [], 0, []
        for s in para:
            offs.append(pos)
            qs.append([(pos + a, pos + b) for a, b in quote_spans(s)])
            pos += len(s) + 1
        texts.append(" ".join(para))
        starts.append(offs)
        quotes.append(qs)
    docs = parse_many(texts)
    flat = [sorted(span for spans in qs for span in spans) for qs in quotes]
    opens = [[a for a, _ in spans] for spans in flat]
    tokens = [list(doc) for doc in docs]
    offsets = [[t.idx for t in toks] for toks in tokens]

    def in_quote(d: int, idx: int) -> bool:
        """Whether character offset idx of paragraph d lies inside a quote."""
        k = bisect.bisect_right(opens[d], idx) - 1
        return k >= 0 and idx < flat[d][k][1]

    def between(d: int, lo: int, hi: int) -> list:
        """The tokens of paragraph d that start at character offsets lo to hi."""
        return tokens[d][bisect.bisect_left(offsets[d], lo):bisect.bisect_left(offsets[d], hi)]

    reader = _Reader(paragraphs)
    reader.discover(docs, in_quote)
    _vote_genders(reader, docs, in_quote)
    for p in reader.people:  # kinds for names with none: a girl or a boy by their pronouns, else a child
        if not p.kind:
            p.kind = {"she": "girl", "he": "boy"}.get(p.gender or "", "child")
        elif p.kind == "person" and p.gender:
            p.kind = "woman" if p.gender == "she" else "man"

    speakers: dict[tuple[int, int], str] = {}
    cast: dict[int, list[str]] = {}
    places: dict[int, list[tuple[str, float]]] = {}
    weather: dict[int, str] = {}
    time_of_day: dict[int, str] = {}
    sent_no = 0
    last_speakers: list[str] = []
    last_subject: str | None = None  # the subject of the latest sentence of pure narration
    told: dict[int, str] = {}  # sentences that said who spoke the quote before them ('Zara asked.')
    for d, doc in enumerate(docs):
        offs = starts[d]
        bare_paragraph = all(_only_quotes(s) for s in paragraphs[d]) if paragraphs[d] else False
        heading = _is_heading(doc.text)
        for si, sentence in enumerate(paragraphs[d]):
            g = sent_no + si
            lo = offs[si]
            hi = lo + len(sentence)
            subject: str | None = None
            for t in between(d, lo, hi):
                if in_quote(d, t.idx):
                    continue
                pid = reader.resolve(t) if (t.pos_ in ("NOUN", "PROPN", "PRON") or t.text[:1].isupper()) else None
                if pid and subject is None and t.dep_ not in ("pobj", "dobj", "poss") and t.is_sent_start and \
                        t.text[:1].isupper() and t.lower_ not in _PRONOUN_GENDER:
                    subject = pid  # a name opening the sentence is its subject, whatever the tagger says
                if pid:
                    cast.setdefault(g, [])
                    if pid not in cast[g]:
                        cast[g].append(pid)
                    salient = t.dep_ in ("nsubj", "nsubjpass", "poss")
                    reader.mention(pid, salient)
                    if subject is None and t.dep_ in ("nsubj", "nsubjpass"):
                        subject = pid
                _place_of(t, g, places, weather, time_of_day, heading)
            spans = quotes[d][si]
            for qi, (qa, qb) in enumerate(spans):
                who = _attributed(reader, doc, d, spans, qi, lo, hi, in_quote, between)
                if who is None and qi == len(spans) - 1 and si + 1 < len(paragraphs[d]) and \
                        not quotes[d][si + 1] and _opens_with_speech(
                        between(d, offs[si + 1], offs[si + 1] + len(paragraphs[d][si + 1]))):
                    nlo = offs[si + 1]  # "Can you show me the way?" / Zara asked.
                    who = _attributed(reader, doc, d, [(nlo, nlo)], 0, nlo, nlo + len(paragraphs[d][si + 1]),
                                      in_quote, between)
                    if who:
                        told[g + 1] = who
                if who is None and _only_quotes(sentence) and si > 0 and (g - 1, len(quotes[d][si - 1]) - 1) in speakers:
                    who = speakers[(g - 1, len(quotes[d][si - 1]) - 1)]  # the same speaker goes on
                if who is None and _only_quotes(sentence) and si > 0 and g - 1 in told:
                    who = told[g - 1]  # “A lost hoot?” Mrs. Brook laughed. “Try the well.”
                if who is None and _only_quotes(sentence) and last_subject:
                    who = last_subject  # "Tilly looked up. “Who's there?”"
                if who is None and bare_paragraph and last_speakers:
                    who = reader.recent(exclude=last_speakers[-1])  # turn-taking: the one spoken to answers
                if who:
                    speakers[(g, qi)] = who
                    if not last_speakers or last_speakers[-1] != who:
                        last_speakers.append(who)
                    cast.setdefault(g, [])
                    if who not in cast[g]:
                        cast[g].append(who)
                    reader.mention(who, True)
            last_subject = subject if not spans and g not in told else None
        sent_no += len(paragraphs[d])
    return TextReading(characters=reader.people, speakers=speakers, cast=cast, places=places, weather=weather,
                       time_of_day=time_of_day)


def _opens_with_speech(toks: list) -> bool:
    """Whether a sentence (its first tokens) opens with a speech verb in its first three words
    ('Zara asked.', 'Bolt asked as soon as the hatch opened.')."""
    first = [t for t in toks if not t.is_punct][:3]
    return any(t.lemma_.lower() in SPEECH_VERBS and t.pos_ in ("VERB", "AUX") for t in first)


def _only_quotes(sentence: str) -> bool:
    return bool(QUOTE.search(sentence)) and not re.search(r"[^\W\d_]", QUOTE.sub("", sentence))


def _attributed(reader: _Reader, doc, d: int, spans, qi: int, lo: int, hi: int, in_quote,  # type: ignore[no-untyped-def]
                between) -> str | None:
    """The speaker a speech verb next to the quote names, within the quote's sentence."""
    qa, qb = spans[qi]
    left = spans[qi - 1][1] if qi > 0 else lo
    right = spans[qi + 1][0] if qi + 1 < len(spans) else hi
    window = [t for t in between(d, left, qa) + between(d, qb, right) if not in_quote(d, t.idx)]
    verbs = [t for t in window if t.pos_ in ("VERB", "AUX", "NOUN") and t.lemma_.lower() in SPEECH_VERBS]
    verbs.sort(key=lambda t: min(abs(t.idx - qb), abs(t.idx - qa)))
    for verb in verbs:
        near = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
        near += sorted((t for t in verb.doc[max(0, verb.i - 4):verb.i + 5] if t.i != verb.i),
                       key=lambda t: (abs(t.i - verb.i), t.i < verb.i))
        said = doc.text[qa:qb].lower()
        for t in near:
            if in_quote(d, t.idx) or t.dep_ in ("pobj", "poss") or (
                    t.pos_ not in ("NOUN", "PROPN", "PRON") and t.text.lower() not in reader.by_key):
                continue
            if t.lower_ in ("i", "we", "me"):
                return None
            pid = reader.resolve(t)
            person = next((p for p in reader.people if p.id == pid), None)
            if person is not None and t.pos_ != "PROPN" and re.search(
                    rf"\b{re.escape(person.name.lower())}\b", said):
                pid = reader.resolve(t, exclude=pid)  # "“Rosie!” the woman cried": not Rosie herself
            if pid:
                return pid
    after = [t for t in between(d, qb, right) if not t.is_punct][:3]
    if len(after) >= 2 and after[1].pos_ == "VERB" and after[0].pos_ in ("PROPN", "NOUN", "PRON"):
        pid = reader.resolve(after[0])  # "A good idea," Sam decided.
        if pid:
            return pid
    return None


def _place_of(tok, g: int, places, weather, time_of_day, heading: bool) -> None:  # type: ignore[no-untyped-def]
    """Record the setting, weather and time a narrative token names."""
    low, lemma = tok.lower_, tok.lemma_.lower()
    if tok.pos_ in ("NOUN", "PROPN", "ADJ"):
        pair = f"{low} {tok.doc[tok.i + 1].lower_}" if tok.i + 1 < len(tok.doc) else ""
        setting = V.setting_of(pair) or V.setting_of(low) or V.setting_of(lemma)
        if tok.text[:1].isupper() and not tok.is_sent_start and not heading:
            setting = None  # "Mrs. Brook", "Bell Street": names and addresses, not the scene
        if setting and tok.pos_ != "ADJ":
            head = tok.head if tok.dep_ != "compound" else tok.head.head
            locative = (tok.dep_ == "pobj" or tok.dep_ == "compound" and tok.head.dep_ == "pobj") and \
                head.lower_ in _LOCATIVE
            if setting == "moon" and locative and head.lower_ not in ("on", "onto", "across", "over"):
                locative = head.lower_ == "to" and head.head.lemma_ in _MOTION  # "hooted to the moon" stays home
            poss = tok.dep_ == "poss"
            if not (setting in ("moon", "sky") and not locative):
                places.setdefault(g, []).append((setting, 3.0 if locative else 0.5 if poss else 1.0))
    if low in V.WEATHER_WORDS or lemma in V.WEATHER_WORDS:
        w = V.WEATHER_WORDS.get(low) or V.WEATHER_WORDS[lemma]
        if g not in weather or V.WEATHER_RANK[w] < V.WEATHER_RANK[weather[g]]:
            weather[g] = w
    if low in V.TIME_WORDS and g not in time_of_day and low != "dark":
        time_of_day[g] = V.TIME_WORDS[low]


def _vote_genders(reader: _Reader, docs, in_quote) -> None:  # type: ignore[no-untyped-def]
    """Characters of unknown gender take the pronouns that follow their mentions (he/his, she/her)."""
    last: str | None = None
    for d, doc in enumerate(docs):
        for tok in doc:
            if in_quote(d, tok.idx):
                continue
            if tok.lower_ in _PRONOUN_GENDER and last:
                p = next(x for x in reader.people if x.id == last)
                p.votes[_PRONOUN_GENDER[tok.lower_]] += 1
                continue
            if tok.pos_ in ("NOUN", "PROPN") and tok.lower_ not in _PRONOUN_GENDER:
                person = reader.by_key.get(tok.text.lower()) or reader.by_key.get(tok.lemma_.lower())
                if person is not None:
                    last = person.id
    for p in reader.people:
        if p.gender is None and (p.votes["she"] or p.votes["he"]) and p.votes["she"] != p.votes["he"]:
            p.gender = "she" if p.votes["she"] > p.votes["he"] else "he"
