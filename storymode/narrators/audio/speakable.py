"""speakable(text): a sentence rewritten so a synthesizer says what the story means.

Only the synthesizer sees this text; captions keep the original. The rules are deliberately small and
deterministic (stdlib only) and cover what hibari's own normalizer (hibari/g2p/normalize.py plus its
lexicon's number reader) gets wrong. What hibari already reads right is passed through untouched, so
there is one reading of each thing, not two that could disagree:

hibari reads right (left alone here): cardinals with commas, decimals, negatives, years and decades,
ordinals (1st, 22nd, 101st), $/£/€/¥/¢ amounts ($3.50 -> three dollars and fifty cents), dates
(Jan. 5th, 5 January 2024, 2024-01-05, 5/1/2024), times (7:30 pm, 12:00 -> twelve o'clock), percents,
°C/°F, units (km, mph), #5 (number five), + and = between numbers, &, Mr./Mrs./Ms./Prof./Mt., vs.,
etc., approx., No. 5, Roman numerals after Chapter/Henry, ranges (9-5), fractions (1/2).

Fixed here (measured against hibari 0.2 G2P output):
- emoji (hibari drops them silently, so an emoji-only line was silent) -- the rule:
  * a line with no letters or digits says its emoji's names ("🦊" -> "fox", "🎉🎉" -> "party popper");
  * an emoji standing in for a word -- right after a lowercase word (or I, A, The, My...) and followed by a word or
    by punctuation -- is read by name ("I love 🍕!" -> "I love slice of pizza!", "I ❤️ you" -> "I heart you");
  * otherwise it is decoration and is removed on purpose: after end punctuation ("We won! 🎉"), at the
    start, trailing at the end, after a capitalized name used as a label ("Pip 🦊 ran"), or after the very
    word it pictures ("the fox 🦊 ran").
  Names come from unicodedata, lowercased, with glyph words dropped ("heavy black heart" -> "heart",
  "thumbs up sign" -> "thumbs up", "fox face" -> "fox" for animal faces); skin tones and variation
  selectors are ignored, a ZWJ sequence is read by its first part, flags say "flag", keycaps their key.
- St. / Dr. by context: "St." right after a capitalized name-like word is "Street" (Main St.), else
  before a capitalized word it is "Saint" (St. Paul), else "Street". "Dr." before a capitalized word is
  "Doctor" (Dr. Pip), right after a capitalized name-like word it is "Drive" (Elm Dr.), else "Doctor".
  (hibari said "Main Saint Then" and "Elm doctor".) A name-like word is capitalized and either not the
  sentence's first word or not a common sentence opener (The, Visit, Ask, ...).
- e.g. -> "for example", i.e. -> "that is", a.k.a. -> "also known as", w/o -> "without" (hibari spelled
  the letters).
- postfix currency 5€, 5 $, 20 EUR -> moved before the number where hibari reads it (it dropped it).
- 24/7 -> "twenty-four seven"; "2 * 3", "2 x 3" -> "2 times 3"; "5 - 3 = 2" -> "5 minus 3 = 2" (hibari
  said "5 to 3"); "~5" -> "about 5"; "5~10" -> "5 to 10"; U+2212 minus before a number -> "minus".
- odd punctuation: "--" -> "—" (hibari dropped it: no pause); "!!!" / "?!?" -> "!" / "?"; "...." -> "…";
  a trailing playful tilde ("Hi~") is removed (hibari said "tilde"); «guillemets» -> “quotes”; scene
  separators (***, ---, * * *) are removed: they are layout, not words.
- stretched words: "Nooo" -> "No", "Heyyy" -> "Hey", "Wheee" -> "Whee", "Hmmm" -> "Hmm"; "Shhh" -> "Shush",
  "Brrr" -> "Burr", "Grrr" -> "Gurr" (hibari spelled those letter by letter).
- ALL-CAPS words: hibari spells a capitalised word it does not know letter by letter, which is right for
  acronyms and Roman numerals and absurd for shouting ("AAAAAAAH!" took 2.6 s; 2,000 capitals took 15 minutes
  of audio and 11 GB). A word of at most ACRONYM_MAX_LETTERS capitals (NASA, FBI, XVIII), with dots (U.S.A.),
  or a Roman numeral (MCMLXXXIV) is left alone; a longer one is read as a word ("AAAAAAAH" -> "Ah",
  "UNESCO" -> "Unesco").
- limits, so no input makes the synthesizer run away (captions always keep the original):
  * a run of more than MAX_WORD_LETTERS letters (after the rules above) is cut to that many for speech; 45 is
    the longest word in an English dictionary (pneumonoultramicroscopicsilicovolcanoconiosis);
  * a number of more than MAX_NUMBER_DIGITS digits is not a quantity anyone reads aloud (hibari fails above
    36): it is read digit by digit, its first MAX_WORD_LETTERS digits only;
  * a "word" of more than MAX_WORD_CHARS characters with no space (A-A-A-..., a long link) is cut to that
    many (hibari took minutes over 600 such characters).
"""
from __future__ import annotations

import re
import unicodedata

RULES = 2  # bump when what is spoken changes: cached narration is then made again
ACRONYM_MAX_LETTERS = 5
MAX_WORD_LETTERS = 45
MAX_NUMBER_DIGITS = 15
MAX_WORD_CHARS = 60

# ---------------------------------------------------------------- emoji
_EMO = "[\U0001F000-\U0001F1E5\U0001F200-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF]"
_MOD = "[\uFE0E\uFE0F\U0001F3FB-\U0001F3FF]"
_CLUSTER = rf"(?:[\U0001F1E6-\U0001F1FF]{{2}}|[0-9#*]\uFE0F?\u20E3|{_EMO}{_MOD}*(?:\u200D{_EMO}{_MOD}*)*)"
_RUN = re.compile(rf"{_CLUSTER}(?:\s*{_CLUSTER})*")
_ONE = re.compile(_CLUSTER)
_NAME_OVERRIDES = {"\u2764": "heart", "\u2665": "heart", "\u2B50": "star", "\u2605": "star", "\u2606": "star",
                   "\u2600": "sun", "\u26A1": "lightning", "\u2744": "snowflake", "\u2614": "umbrella"}
_GLYPH_WORDS = ("heavy ", "black ", "white ")
_KEYCAP = {"#": "hash", "*": "star"}
_DETERMINERS = {"I", "A", "An", "The", "My", "Your", "His", "Her", "Our", "Their", "This", "That", "Some", "No"}


def _is_emoji_char(ch: str) -> bool:
    return unicodedata.category(ch) == "So" and re.fullmatch(_EMO, ch) is not None


def emoji_name(cluster: str) -> str:
    """A short spoken name for one emoji (sequence)."""
    if "\u20E3" in cluster:
        return _KEYCAP.get(cluster[0], cluster[0])
    if "\U0001F1E6" <= cluster[0] <= "\U0001F1FF":
        return "flag"
    ch = next((c for c in cluster if _is_emoji_char(c)), "")
    if not ch:
        return ""
    if ch in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[ch]
    name = unicodedata.name(ch, "").lower()
    for word in _GLYPH_WORDS:
        if name.startswith(word) and len(name.split()) > 2 - (word == "heavy "):
            name = name[len(word):]
    name = re.sub(r" sign$", "", name)
    cp = ord(ch)
    if name.endswith(" face") and (0x1F400 <= cp <= 0x1F43F or 0x1F980 <= cp <= 0x1F9AF):
        name = name[: -len(" face")]
    return name


def _run_names(run: str) -> list[str]:
    names: list[str] = []
    for m in _ONE.finditer(run):
        name = emoji_name(m.group())
        if name and (not names or names[-1] != name):
            names.append(name)
    return names


def _emoji(text: str) -> str:
    if not _RUN.search(text):
        return text
    if not re.search(r"[^\W_]", _RUN.sub(" ", text)):  # nothing but emoji and punctuation: say the names
        return _RUN.sub(lambda m: " " + ", ".join(_run_names(m.group())) + " ", text)

    def repl(m: re.Match[str]) -> str:
        before, after = text[: m.start()], text[m.end():]
        prev = re.search(r"([^\W\d_][\w'’]*)\s*$", before)
        follows_word_or_punct = re.match(r"\s*(?:[^\W_]|[.,!?;:…])", after)
        names = _run_names(m.group())
        if prev and follows_word_or_punct and names:
            word = prev.group(1)
            pictured = {w for n in names for w in n.split()}
            if (word[0].islower() or word in _DETERMINERS) and word.lower().rstrip("s") not in pictured \
                    and word.lower() not in pictured:
                return " " + " and ".join(names) + " "
        return " "

    return _RUN.sub(repl, text)


# ---------------------------------------------------------------- abbreviations
_OPENERS = {"The", "A", "An", "My", "Our", "Your", "His", "Her", "Their", "This", "That", "Ask", "Dear", "Visit",
            "See", "Call", "Meet", "And", "But", "So", "Then", "When", "Oh", "Hi", "Hello", "Thanks", "Good",
            "Poor", "Old", "Young", "Little", "Big", "Saint", "Only", "Even", "Now", "Yes", "No"}
_ST_DR = re.compile(r"(?<![\w.])(St|Dr)\.(?=\s|$|[,;:!?\"”’)])")
_LATIN = [(re.compile(r"(?<![\w.])e\.\s?g\.(?!\w)", re.I), "for example"),
          (re.compile(r"(?<![\w.])i\.\s?e\.(?!\w)", re.I), "that is"),
          (re.compile(r"(?<![\w.])a\.k\.a\.?(?!\w)", re.I), "also known as"),
          (re.compile(r"(?<![\w/])w/o(?!\w)", re.I), "without")]


def _st_dr(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        before, after = text[: m.start()], text[m.end():]
        prev = re.search(r"(\S+)\s+$", before)
        prev_word = prev.group(1).strip("\"“”'‘’(") if prev else ""
        initial = prev is not None and not before[: prev.start()].strip(" \"“'‘(")
        name_like = bool(prev_word) and prev_word[:1].isupper() and prev_word.isalpha() and \
            not (initial and prev_word in _OPENERS)
        next_cap = re.match(r"\s+[\"“'‘(]?[A-Z]", after) is not None
        if m.group(1) == "St":
            word = "Street" if name_like or not next_cap else "Saint"
        else:
            word = "Doctor" if next_cap or not name_like else "Drive"
        ends = not after.strip(" \"”’')]")
        return word + ("." if ends else "")

    return _ST_DR.sub(repl, text)


# ---------------------------------------------------------------- numbers and symbols
_NUM = r"\d+(?:[.,]\d+)*"
_POST_CURRENCY = re.compile(rf"(?<![\w$£€¥])({_NUM})\s?([$£€¥])(?![\w$£€¥])")
_POST_CODE = re.compile(rf"(?<![\w.])({_NUM})\s?(USD|EUR|GBP)\b")
_CODE_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£"}
_NUMBER_RULES = [
    (re.compile(r"(?<![\w/])24/7(?![\w/])"), "twenty-four seven"),
    (re.compile(r"(?<=\d)\s*\*\s*(?=\d)|(?<=\d)\s+[x×]\s+(?=\d)"), " times "),
    (re.compile(r"(?<=\d)\s*~\s*(?=\d)"), " to "),
    (re.compile(r"(?<![\w~])~\s*(?=[$£€¥]?\d)"), "about "),
    (re.compile(r"\u2212\s?(?=\d)"), "minus "),
]
_EQUATION_MINUS = re.compile(r"(?<=\d)\s+[-–−]\s+(?=\d)")


def _numbers(text: str) -> str:
    text = _POST_CURRENCY.sub(lambda m: m.group(2) + m.group(1), text)
    text = _POST_CODE.sub(lambda m: _CODE_SYMBOL[m.group(2)] + m.group(1), text)
    for pattern, word in _NUMBER_RULES:
        text = pattern.sub(word, text)
    if "=" in text:
        text = _EQUATION_MINUS.sub(" minus ", text)
    return text


# ---------------------------------------------------------------- punctuation and stretched words
_SEPARATOR = re.compile(r"(?:(?<=\s)|^)(?:[*_=~\-#]\s?){3,}(?=\s|$)")
_PUNCT_RULES = [
    (re.compile(r"\s*-{2,}\s*"), " — "),
    (re.compile(r"\.{4,}|\.(?: \.){2,}"), "…"),
    (re.compile(r"…{2,}"), "…"),
    (re.compile(r"[!?]*\?[!?]*\?[!?]*|[!?]*\?!+|!+\?[!?]*"), "?"),
    (re.compile(r"!{2,}"), "!"),
    (re.compile(r",{2,}"), ","),
    (re.compile(r"(?<=[^\W\d_])~+(?=[\s.,!?;:…)\"”’']|$)"), ""),
    (re.compile(r"[«„]"), "“"),
    (re.compile(r"»"), "”"),
]
_INTERJECTIONS = [(re.compile(r"\b([Ss])hh+\b"), "hush"), (re.compile(r"\b([Bb])rr+\b"), "urr"),
                  (re.compile(r"\b([Gg])rr+\b"), "urr")]
_STRETCH = re.compile(r"([^\W\d_])\1{2,}", re.I)
_KEEP_TWO = set("emEM")


def _stretched(text: str) -> str:
    for pattern, tail in _INTERJECTIONS:
        text = pattern.sub(lambda m: m.group(1) + tail, text)

    def word(m: re.Match[str]) -> str:
        w = m.group()
        if not any(c.islower() for c in w) or w.lower().strip("z") == "":
            return w
        return _STRETCH.sub(lambda r: r.group()[: 2 if r.group(1) in _KEEP_TWO else 1], w)

    return re.sub(r"[^\W\d_]+", word, text)


_ROMAN = re.compile(r"M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")


def _caps(text: str) -> str:
    """Long all-caps words read as words, not spelled (acronyms, dotted letters and Roman numerals stay)."""
    def word(m: re.Match[str]) -> str:
        w = m.group()
        if len(w) <= ACRONYM_MAX_LETTERS or not w.isupper() or _ROMAN.fullmatch(w):
            return w
        return w[0] + w[1:].lower()

    return re.sub(r"(?<![\w.])[^\W\d_]+(?!\w|\.\w)", word, text)


def _limits(text: str) -> str:
    """Over-long letter runs, digit runs and space-less words shortened for speech (see the module docstring)."""
    text = re.sub(rf"[^\W\d_]{{{MAX_WORD_LETTERS + 1},}}", lambda m: m.group()[:MAX_WORD_LETTERS], text)

    def digits(m: re.Match[str]) -> str:
        run = re.sub(r"\D", "", m.group())
        return m.group() if len(run) <= MAX_NUMBER_DIGITS else " ".join(run[:MAX_WORD_LETTERS])

    text = re.sub(r"\d(?:,?\d)*", digits, text)
    return re.sub(rf"\S{{{MAX_WORD_CHARS + 1},}}", lambda m: m.group()[:MAX_WORD_CHARS], text)


def _tidy(text: str) -> str:
    text = re.sub(r"[\u200D\uFE0E\uFE0F]", "", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" +([,.;:!?…”)\]])", r"\1", text)
    text = re.sub(r"([(\[“]) +", r"\1", text)
    text = re.sub(r"^[,;:]\s*", "", text.strip())
    return text.strip()


def speakable(text: str) -> str:
    """The text as the synthesizer should read it (see the module docstring for every rule)."""
    text = unicodedata.normalize("NFC", text)
    text = _emoji(text)
    text = _SEPARATOR.sub(" ", text)
    for pattern, repl in _PUNCT_RULES:
        text = pattern.sub(repl, text)
    for pattern, repl in _LATIN:
        text = pattern.sub(repl, text)
    text = _st_dr(text)
    text = _numbers(text)
    text = _caps(text)
    text = _stretched(text)
    return _tidy(_limits(text))


def has_words(text: str) -> bool:
    """Whether there is anything to say (a letter or a digit)."""
    return re.search(r"[^\W_]", text) is not None
