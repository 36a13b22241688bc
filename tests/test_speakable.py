"""speakable(): what the synthesizer is given (captions keep the original text)."""
from __future__ import annotations

import re

import pytest

from storymode.narrators.base import end_pause, merge_pieces
from storymode.narrators.audio.speakable import speakable

# (category, input, expected speakable text). Where hibari already reads a thing right the text passes
# through unchanged; HIBARI_READS below checks hibari really says those the way we expect.
TABLE = [
    ("number", "I have 3 cats.", "I have 3 cats."),
    ("number", "It cost 1,250 coins.", "It cost 1,250 coins."),
    ("number", "2 * 3 = 6", "2 times 3 = 6"),
    ("number", "2 x 3 = 6", "2 times 3 = 6"),
    ("number", "5 - 3 = 2", "5 minus 3 = 2"),
    ("number", "It was −5 outside.", "It was minus 5 outside."),
    ("number", "~5 cats", "about 5 cats"),
    ("number", "5~10 cats", "5 to 10 cats"),
    ("number", "Open 24/7.", "Open twenty-four seven."),
    ("ordinal", "She came 1st.", "She came 1st."),
    ("ordinal", "The 22nd day.", "The 22nd day."),
    ("currency", "He paid $3.50.", "He paid $3.50."),
    ("currency", "It was £5.", "It was £5."),
    ("currency", "Only 5¢.", "Only 5¢."),
    ("currency", "It cost 5€.", "It cost €5."),
    ("currency", "It cost 20 EUR.", "It cost €20."),
    ("date", "On Jan. 5th we left.", "On Jan. 5th we left."),
    ("date", "On 5 January 2024 we left.", "On 5 January 2024 we left."),
    ("date", "On 2024-01-05 we left.", "On 2024-01-05 we left."),
    ("time", "At 7:30 pm we ate.", "At 7:30 pm we ate."),
    ("percent", "It was 50% off.", "It was 50% off."),
    ("abbrev", "Dr. Pip came.", "Doctor Pip came."),
    ("abbrev", "The Dr. said no.", "The Doctor said no."),
    ("abbrev", "I live on Elm Dr.", "I live on Elm Drive."),
    ("abbrev", "Mr. and Mrs. Fox came.", "Mr. and Mrs. Fox came."),
    ("abbrev", "Visit St. Paul.", "Visit Saint Paul."),
    ("abbrev", "They met at St. Mary's.", "They met at Saint Mary's."),
    ("abbrev", "He lives on Main St. Then he left.", "He lives on Main Street Then he left."),
    ("abbrev", "Baker St. is busy.", "Baker Street is busy."),
    ("abbrev", "Fruit, e.g. apples.", "Fruit, for example apples."),
    ("abbrev", "Fruit, i.e. food.", "Fruit, that is food."),
    ("abbrev", "Pip, a.k.a. the Fox.", "Pip, also known as the Fox."),
    ("abbrev", "Tea w/o milk.", "Tea without milk."),
    ("abbrev", "Cats vs. dogs.", "Cats vs. dogs."),
    ("symbol", "Salt & pepper.", "Salt & pepper."),
    ("symbol", "It was 20°C.", "It was 20°C."),
    ("symbol", "Room #5.", "Room #5."),
    ("symbol", "2 + 2 = 4.", "2 + 2 = 4."),
    ("emoji", "🦊", "fox"),
    ("emoji", "🦊 🐰", "fox, rabbit"),
    ("emoji", "🎉🎉", "party popper"),
    ("emoji", "I love 🍕!", "I love slice of pizza!"),
    ("emoji", "I ❤️ you.", "I heart you."),
    ("emoji", "A 🐶 barked.", "A dog barked."),
    ("emoji", "We won! 🎉", "We won!"),
    ("emoji", "The fox 🦊 ran.", "The fox ran."),
    ("emoji", "Pip 🦊 ran home.", "Pip ran home."),
    ("emoji", "👍🏽 Nice.", "Nice."),
    ("emoji", "🇯🇵", "flag"),
    ("punct", "Wait -- what?", "Wait — what?"),
    ("punct", "Wait--what?", "Wait — what?"),
    ("punct", "Stop!!!", "Stop!"),
    ("punct", "What?!?", "What?"),
    ("punct", "Hmm....", "Hmm…"),
    ("punct", "Hi~", "Hi"),
    ("punct", "«Hi»", "“Hi”"),
    ("punct", "***", ""),
    ("punct", "Wait… what?", "Wait… what?"),
    ("stretch", "Nooo!", "No!"),
    ("stretch", "Heyyy you", "Hey you"),
    ("stretch", "Wheee!", "Whee!"),
    ("stretch", "Shhh!", "Shush!"),
    ("stretch", "Brrr, cold.", "Burr, cold."),
    ("stretch", "Henry VIII", "Henry VIII"),
]


@pytest.mark.parametrize("category,text,expected", TABLE, ids=[f"{c}:{t}" for c, t, _ in TABLE])
def test_speakable_table(category, text, expected):
    assert speakable(text) == expected


@pytest.fixture(scope="module")
def g2p():
    from hibari.g2p import G2P

    return G2P()


CATEGORIES = ["number", "ordinal", "currency", "date", "time", "percent", "abbrev", "symbol", "emoji", "punct",
              "stretch"]


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_reaches_the_voice_as_words(g2p, category):
    """All of a category's inputs in one line: speakable() reads each, is stable, and hibari says every word."""
    from hibari.g2p.normalize import normalize

    inputs = [text for c, text, _ in TABLE if c == category]
    assert inputs, f"no {category} inputs in the table"
    line = " ".join(text if text.rstrip()[-1:] in ".!?…" else text + "." for text in inputs)
    spoken = speakable(line)
    assert speakable(spoken) == spoken  # speakable text is a fixed point: nothing is rewritten twice
    assert re.search(r"[^\W_]", spoken), (category, spoken)
    tokens = g2p.phonemize_tokens(g2p.tokenize(normalize(spoken)))
    unread = [t.text for t in tokens if re.search(r"[^\W_]", t.text) and not t.phonemes]
    assert not unread, (category, spoken, unread)


def _bare(phonemes: str) -> str:
    return re.sub(r"[ˈˌ\s]", "", phonemes)


# what we leave to hibari, and the words it must say for it (stress marks aside)
HIBARI_READS = [
    ("I have 3 cats.", "I have three cats."),
    ("She came 1st.", "She came first."),
    ("The 22nd day.", "The twenty-second day."),
    ("He paid $3.50.", "He paid three dollars and fifty cents."),
    ("It cost €5.", "It cost five euros."),
    ("Only 5¢.", "Only five cents."),
    ("On Jan. 5th we left.", "On January fifth we left."),
    ("On 5 January 2024 we left.", "On the fifth of January twenty twenty-four we left."),
    ("On 2024-01-05 we left.", "On January fifth, twenty twenty-four we left."),
    ("It was 50% off.", "It was fifty percent off."),
    ("Mr. and Mrs. Fox came.", "Mister and Mrs Fox came."),
    ("Salt & pepper.", "Salt and pepper."),
    ("It was 20°C.", "It was twenty degrees Celsius."),
    ("Room #5.", "Room number five."),
    ("Open twenty-four seven.", "Open twenty-four seven."),
    ("Cats vs. dogs.", "Cats versus dogs."),
]


@pytest.mark.parametrize("text,words", HIBARI_READS)
def test_hibari_reads_what_we_pass_through(g2p, text, words):
    assert _bare(g2p(speakable(text))) == _bare(g2p(words))


@pytest.mark.parametrize("text", [
    "Dr. Pip paid $3.50 on Jan. 5th! 🦊", "At 7:30 pm, 1,250 owls — 50% of them — sang 2 * 3 songs.",
    "Wait -- Mr. Fox, a.k.a. Red, lives on Elm Dr. near St. Mary's!!!", "It cost 5€, or 20 EUR, e.g. a lot~",
    "Nooo! I ❤️ the 22nd of May, 2024-05-22, at 9:05 am.", "Shhh… the 🦊 sleeps; Baker St. is 5 - 3 = 2 km away?!",
])
def test_nothing_is_silently_dropped(g2p, text):
    from hibari.g2p.normalize import normalize

    spoken = speakable(text)
    # every plain word of the input is still there (abbreviations may be expanded, digits may move)
    expanded = {"Dr": "Doctor Drive", "St": "Street Saint", "a": "also", "k": "known", "Shhh": "Shush",
                "Nooo": "No", "EUR": "€", "e": "example", "g": "example"}
    for word in re.findall(r"[^\W\d_]+", text):
        assert word in spoken or any(w in spoken for w in expanded.get(word, "").split()), (word, spoken)
    for number in re.findall(r"\d+", text):
        assert number in spoken, (number, spoken)
    # and the synthesizer's G2P gives every word and number a pronunciation (hibari drops what it can't read)
    tokens = g2p.phonemize_tokens(g2p.tokenize(normalize(spoken)))
    unread = [t.text for t in tokens if re.search(r"[^\W_]", t.text) and not t.phonemes]
    assert not unread, (spoken, unread)
    assert sum(bool(t.phonemes) for t in tokens) >= len(re.findall(r"[^\W_]+", text)) * 0.8


@pytest.mark.parametrize("text", ["🦊", "🎉🎉🎉", "👍🏽", "🇯🇵", "1️⃣", "👩‍🚀", "❤️"])
def test_emoji_only_line_says_something(text):
    assert re.search(r"[^\W_]", speakable(text))


def test_merge_pieces_and_end_pauses():
    assert merge_pieces(["Dr. Pip paid $3.50 on Jan.", "5th!", "🦊"]) == ["Dr. Pip paid $3.50 on Jan. 5th! 🦊"]
    assert merge_pieces(["Fruit, e.g.", "Apples."]) == ["Fruit, e.g. Apples."]
    assert merge_pieces(["🎉", "We won!"]) == ["🎉 We won!"]
    assert merge_pieces(["Go.", "Now."]) == ["Go.", "Now."]
    assert end_pause("Why?") > end_pause("Stop!") > end_pause("Go.") > end_pause("Well,")
    assert end_pause("Hmm…") == end_pause("Hmm...") > end_pause("Why?")
    assert end_pause('"Why?" 🦊') == end_pause("Why?")


def test_narrate_reports_the_original_text():
    from storymode.cast import load_presets
    from storymode.narrators.hibari import HibariNarrator

    text = "Dr. Pip paid $3.50 on Jan. 5th! 🦊"
    n = HibariNarrator().narrate(text, load_presets()["narrator"])
    assert [s.text for s in n.sentences] == [text]
    assert [w.text for w in n.words] == text.split()
    assert n.duration > 2.0  # doctor pip paid three dollars and fifty cents on january fifth

    only = HibariNarrator().narrate("🦊", load_presets()["narrator"])
    assert only.duration > 0.2 and abs(only.samples).max() > 0.05 and only.sentences[0].text == "🦊"
    pause = HibariNarrator().narrate("…", load_presets()["narrator"])
    assert pause.timing_source == "pause" and pause.duration > 0.3 and not pause.samples.any()
