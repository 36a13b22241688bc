"""The studio's story core: edits, versions with undo and conflicts, and candidate pictures and texts for a scene,
checked on hand-made stories and on a real made story folder (pictures decoded, events read back)."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image

import storymode
from storymode.config import resolve_settings
from storymode.errors import StoryValidationError, UsageError
from storymode.illustrators import storybook
from storymode.illustrators.base import IllustrationRequest
from storymode.illustrators.prompting import build_prompt, scene_seed, stable_seed
from storymode.story import Brief, Character, Line, Scene, Story, load_story
from storymode.studio import candidates, edits, history

from .conftest import run_cli


def small_story() -> Story:
    """Two scenes, a fox and an owl; the owl speaks."""
    return Story(title="Pip and Olive", seed=3,
                 characters=[Character(id="pip", name="Pip", kind="fox"), Character(id="olive", name="Olive",
                                                                                    kind="owl")],
                 scenes=[Scene(id="s001", lines=[Line(text="Pip lived in a den."), Line(speaker="olive", text="Hoo!")],
                               brief=Brief(setting="forest", characters=["pip", "olive"])),
                         Scene(id="s002", lines=[Line(text="Pip flew at last.")], brief=Brief(characters=["pip"]))])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A story folder holding only small_story's story.json."""
    story_dir = tmp_path / "pip.storymode"
    story_dir.mkdir()
    (story_dir / "story.json").write_text(small_story().to_json(), encoding="utf-8")
    return story_dir


# ---------------------------------------------------------------- edits
def test_line_edits():
    story = small_story()
    edited = edits.edit_line(story, "s001", 1, text="Hoo hoo!", speaker="pip")
    assert edited.scenes[0].lines[1] == Line(speaker="pip", text="Hoo hoo!")
    assert story.scenes[0].lines[1].text == "Hoo!"  # pure: the story given is untouched
    added = edits.add_line(story, "s002", -1, "olive", "Look up!")
    assert [line.text for line in added.scenes[1].lines] == ["Look up!", "Pip flew at last."]
    added = edits.add_line(story, "s001", None, "narrator", "The end.")
    assert added.scenes[0].lines[-1].text == "The end."
    assert [line.text for line in edits.remove_line(story, "s001", 0).scenes[0].lines] == ["Hoo!"]


def test_brief_and_scene_edits():
    story = small_story()
    brief = edits.edit_brief(story, "s002", setting="beach", time_of_day="night", variant=3, style="Watercolour",
                             characters=["olive"]).scenes[1].brief
    assert (brief.setting, brief.time_of_day, brief.variant, brief.style, brief.characters) == (
        "beach", "night", 3, "watercolor", ["olive"])
    assert edits.edit_brief(story, "s002", style="").scenes[1].brief.style is None

    first = edits.add_scene(story, None)
    assert [s.id for s in first.scenes] == ["s003", "s001", "s002"] and first.scenes[0].lines[0].text
    after = edits.add_scene(story, "s001", text="Morning came.")
    assert [s.id for s in after.scenes] == ["s001", "s003", "s002"]
    assert after.scenes[1].lines[0].text == "Morning came." and after.scenes[1].brief.setting == "forest"
    assert [s.id for s in edits.remove_scene(story, "s001").scenes] == ["s002"]
    assert [s.id for s in edits.move_scene(story, "s002", 0).scenes] == ["s002", "s001"]

    split = edits.split_scene(story, "s001", 1)
    assert [s.id for s in split.scenes] == ["s001", "s003", "s002"]
    assert [line.text for line in split.scenes[0].lines] == ["Pip lived in a den."]
    assert [line.text for line in split.scenes[1].lines] == ["Hoo!"] and split.scenes[1].brief.setting == "forest"
    merged = edits.merge_scene(split, "s001")
    assert [s.id for s in merged.scenes] == ["s001", "s002"] and merged.scenes[0].lines == story.scenes[0].lines

    whole = edits.merge_scene(story, "s001")
    assert len(whole.scenes) == 1 and len(whole.scenes[0].lines) == 3
    assert whole.scenes[0].brief.characters == ["pip", "olive"]
    assert edits.edit_title(story, "A New Title").title == "A New Title"


def test_set_voice():
    story = small_story()
    assert edits.set_voice(story, "olive", "deep").character("olive").voice == "deep"
    assert edits.set_voice(edits.set_voice(story, "olive", "deep"), "olive", None).character("olive").voice is None
    with pytest.raises(UsageError, match=r"no voice 'nobody'.*narrator"):
        edits.set_voice(story, "olive", "nobody")
    with pytest.raises(UsageError, match=r"no character 'bob'.*pip, olive"):
        edits.set_voice(story, "bob", "deep")


@pytest.mark.parametrize("edit, message", [
    (lambda s: edits.edit_line(s, "s009", 0, text="x"), r"no scene 's009'.*s001, s002"),
    (lambda s: edits.edit_line(s, "s001", 2, text="x"), r"has 2 lines \(0 to 1\); there is no line 2"),
    (lambda s: edits.edit_line(s, "s001", -1, text="x"), r"there is no line -1"),
    (lambda s: edits.edit_line(s, "s001", 0, text="   "), r"a line needs text: it is empty"),
    (lambda s: edits.edit_line(s, "s001", 0, speaker="bob"), r"'bob' is not a speaker.*pip, olive"),
    (lambda s: edits.add_line(s, "s001", 5, "pip", "x"), r"there is no line 5"),
    (lambda s: edits.add_line(s, "s001", 0, "wolf", "x"), r"'wolf' is not a speaker"),
    (lambda s: edits.remove_line(s, "s002", 0), r"only line of scene 's002'"),
    (lambda s: edits.edit_brief(s, "s001", camera="wide"), r"no field 'camera'.*setting, time_of_day"),
    (lambda s: edits.edit_brief(s, "s001", time_of_day="noon"), r"time_of_day.*'dawn', 'day'"),
    (lambda s: edits.edit_brief(s, "s001", style="oil paint"), r"unknown picture style 'oil paint'"),
    (lambda s: edits.edit_brief(s, "s001", characters=["wolf"]), r"'wolf' is not a character.*pip, olive"),
    (lambda s: edits.edit_brief(s, "s001", variant=-1), r"variant"),
    (lambda s: edits.add_scene(s, "s404"), r"no scene 's404'"),
    (lambda s: edits.remove_scene(edits.remove_scene(s, "s001"), "s002"), r"only scene"),
    (lambda s: edits.move_scene(s, "s001", 2), r"from 0 to 1, not 2"),
    (lambda s: edits.split_scene(s, "s001", 0), r"from 1 to 1, not 0"),
    (lambda s: edits.split_scene(s, "s002", 1), r"one line cannot be split"),
    (lambda s: edits.merge_scene(s, "s002"), r"'s002' is the last scene"),
])
def test_bad_edits_say_what_is_wrong(edit, message):
    with pytest.raises(UsageError, match=message):
        edit(small_story())


# ---------------------------------------------------------------- versions
def test_save_undo_and_versions(folder: Path):
    v0 = history.version_of(folder)
    assert history.versions(folder)[0] | {"time": 0} == {"n": None, "note": "the story as written", "time": 0,
                                                          "scenes": 2, "version": v0, "current": True}
    story, loaded = history.load(folder)
    assert loaded == v0
    v1 = history.save(folder, edits.edit_title(story, "Second"), v0, "renamed")
    v2 = history.save(folder, edits.remove_scene(load_story(folder / "story.json"), "s002"), v1, "removed s002")
    assert history.version_of(folder) == v2 and len(load_story(folder / "story.json").scenes) == 1
    assert history.save(folder, load_story(folder / "story.json"), v2, "nothing") == v2  # no change, no version
    listed = history.versions(folder)
    assert [(v["n"], v["note"], v["scenes"], v["current"]) for v in listed] == [
        (3, "removed s002", 1, True), (2, "renamed", 2, False), (1, "the story as written", 2, False)]
    assert json.loads((folder / "history" / "0001.json").read_text())["title"] == "Pip and Olive"

    v3 = history.undo(folder, v2)
    assert v3 == v1 and load_story(folder / "story.json").title == "Second"
    v4 = history.undo(folder, v3)
    assert v4 == v0 and load_story(folder / "story.json") == small_story()
    with pytest.raises(UsageError, match="nothing to undo"):
        history.undo(folder, v4)
    # undo is a version itself: the versions undone are still there
    assert [v["note"] for v in history.versions(folder)][:2] == ["undo: back to version 1", "undo: back to version 2"]
    assert {v["version"] for v in history.versions(folder)} == {v0, v1, v2}


def test_stale_save_is_a_conflict_and_keeps_the_edit(folder: Path):
    story = small_story()
    v1 = history.save(folder, edits.edit_title(story, "Second"), history.version_of(folder), "renamed")
    (folder / "story.json").write_text(edits.edit_title(story, "Changed by the CLI").to_json())  # not the studio
    with pytest.raises(history.Conflict, match=r"changed in another tab or by the CLI.*reload") as caught:
        history.save(folder, edits.edit_title(story, "My edit"), v1, "renamed")
    assert caught.value.current == history.version_of(folder) != v1
    assert load_story(folder / "story.json").title == "Changed by the CLI"
    kept = caught.value.kept
    assert kept.parent == folder / "history" / "rejected" and str(kept.relative_to(folder)) in str(caught.value)
    assert load_story(kept).title == "My edit"
    with pytest.raises(history.Conflict, match="nothing was changed"):
        history.undo(folder, v1)
    # the change made outside is recorded before the next edit replaces it, and undo goes back to it
    current = caught.value.current
    assert history.versions(folder)[0]["n"] is None and history.versions(folder)[0]["current"]
    v3 = history.save(folder, edits.edit_title(load_story(folder / "story.json"), "Third"), current, "renamed")
    assert [v["note"][:26] for v in history.versions(folder)] == [
        "renamed", "changed outside the studio", "renamed", "the story as written"]
    assert history.undo(folder, v3) == current
    assert history.undo(folder, current) == v1


def test_two_tabs_editing_lose_nothing(folder: Path):
    tab_a, base_a = history.load(folder)
    tab_b, base_b = history.load(folder)
    saved_a = history.save(folder, edits.edit_line(tab_a, "s001", 0, text="Tab A was here."), base_a, "tab A")
    with pytest.raises(history.Conflict) as caught:
        history.save(folder, edits.edit_line(tab_b, "s002", 0, text="Tab B was here."), base_b, "tab B")
    assert caught.value.current == saved_a
    assert load_story(folder / "story.json").scenes[0].lines[0].text == "Tab A was here."
    assert load_story(caught.value.kept).scenes[1].lines[0].text == "Tab B was here."
    # tab B reloads and edits again: both edits are in
    tab_b, base_b = history.load(folder)
    history.save(folder, edits.edit_line(tab_b, "s002", 0, text="Tab B was here."), base_b, "tab B")
    story = load_story(folder / "story.json")
    assert [story.scenes[0].lines[0].text, story.scenes[1].lines[0].text] == ["Tab A was here.", "Tab B was here."]


def test_a_folder_without_a_story_is_refused(tmp_path: Path):
    with pytest.raises(UsageError, match="has no story.json"):
        history.version_of(tmp_path)
    with pytest.raises(UsageError, match="has no story.json"):
        history.save(tmp_path / "none", small_story(), "0" * 16, "x")
    assert not (tmp_path / "none").exists()


# ---------------------------------------------------------------- picture variants
def test_variant_0_keeps_every_seed_and_key():
    for seed, index in ((0, 0), (7, 3), (2 ** 32 - 1, 12)):
        assert scene_seed(seed, index) == scene_seed(seed, index, 0) == stable_seed("storymode-scene", seed, index)
        assert len({scene_seed(seed, index, v) for v in range(6)}) == 6
    story = small_story()
    prompts = [build_prompt(story.scenes[0].brief, story.characters, "storybook", story_seed=3, scene_index=0,
                            variant=v) for v in (0, 1)]
    assert prompts[0].prompt == prompts[1].prompt and prompts[0].seed == scene_seed(3, 0) != prompts[1].seed
    assert Brief().key_fields() == {"setting": "meadow", "time_of_day": "day", "weather": "clear", "characters": [],
                                    "action": "", "props": [], "mood": "calm"}  # the fields keys held before
    assert Brief(variant=2, style="watercolor").key_fields()["variant"] == 2


def test_storybook_variants_move_the_layout_never_the_looks():
    story = small_story()
    request = IllustrationRequest(brief=Brief(setting="forest", characters=["pip", "olive"], props=["kite"]),
                                  cast=tuple(story.characters), scene_text="Pip flew a kite.", scene_index=1,
                                  scene_count=2, style="storybook", seed=5, width=480, height=270)
    shades: list[set] = []
    shade = storybook._shade_sprite

    def noted(img, light, tint=None, strength=0.0, *args, **kwargs):  # type: ignore[no-untyped-def]
        if tint is not None:  # a character's own tint
            shades[-1].add((tint, round(strength, 6)))
        return shade(img, light, tint, strength, *args, **kwargs)

    pictures, records = [], []
    with mock.patch.object(storybook, "_shade_sprite", noted):
        for variant in range(4):
            shades.append(set())
            drawn = storybook.StorybookIllustrator().illustrate(dataclasses.replace(request, variant=variant))
            pictures.append(np.asarray(drawn.image, dtype=np.int16))
            records.append(drawn.drawn)
    assert np.array_equal(pictures[0], np.asarray(storybook.StorybookIllustrator().illustrate(request).image))
    for a in range(4):
        for b in range(a + 1, 4):
            assert np.abs(pictures[a] - pictures[b]).mean() > 3, (a, b)  # another drawing
    assert all(r["characters"] == records[0]["characters"] for r in records)  # the same sprites
    assert len(shades[0]) == 2 and all(s == shades[0] for s in shades)  # the same tints
    sizes = [{who: (box[2] - box[0], box[3] - box[1]) for who, box in r["boxes"].items()} for r in records]
    assert all(s == sizes[0] for s in sizes)  # the same figure sizes


def test_candidates_by_id_and_variant_numbers(folder: Path):
    assert candidates.other_variants(0, 4) == [1, 2, 3, 4]
    assert candidates.other_variants(2, 4) == [1, 3, 4, 5]
    assert candidates.other_variants(2, 2, skip=2) == [4, 5]
    for bad in ("../story", "p123", "x" * 20, "p" + "0" * 40):
        with pytest.raises(UsageError, match="no candidate"):
            candidates.load_candidate(folder, bad)
    with pytest.raises(UsageError, match="1 to 16 candidates"):
        candidates.redraw(folder, "s001", resolve_settings({}), n=0)


# ---------------------------------------------------------------- on a made story
@pytest.fixture(scope="module")
def made(small_story: Path) -> Path:
    """One small story made through the CLI at 480p (2 scenes): the session's, never changed here."""
    return small_story / "fox.storymode"


@pytest.fixture
def copy(made: Path, tmp_path: Path) -> Path:
    """A copy of the made story folder, to edit."""
    return Path(shutil.copytree(made, tmp_path / "fox.storymode"))


def stage_end(events: list, stage: str) -> dict:
    """The stage-end event of a stage, as a dict."""
    ends = [e if isinstance(e, dict) else e.to_dict() for e in events]
    return next(e for e in ends if e["kind"] == "stage-end" and e["stage"] == stage)


SETTINGS = {"resolution": "480p"}


@pytest.mark.slow
def test_redraw_pick_and_illustrate_reuses_the_picture(copy: Path):
    events: list = []
    found = candidates.redraw(copy, "s001", resolve_settings(SETTINGS), n=4, emit=events.append)
    assert [c.variant for c in found] == [1, 2, 3, 4] and {c.kind for c in found} == {"picture"}
    assert stage_end(events, "redraw")["cached"] == 0
    pixels = [np.asarray(Image.open(c.path).convert("RGB"), dtype=np.int16) for c in found]
    assert all(p.shape == pixels[0].shape for p in pixels)
    assert all(np.abs(pixels[a] - pixels[b]).mean() > 3 for a in range(4) for b in range(a + 1, 4))
    looks = [json.loads(c.path.with_suffix(".json").read_text())["characters"] for c in found]
    assert looks[0] and all(look == looks[0] for look in looks)

    again: list = []
    assert candidates.redraw(copy, "s001", resolve_settings(SETTINGS), n=4, emit=again.append) == found
    assert stage_end(again, "redraw")["cached"] == 4  # drawn once

    picked = candidates.load_candidate(copy, found[2].id)
    assert picked == found[2]
    version = candidates.pick(copy, picked, history.version_of(copy))
    assert version == history.version_of(copy)
    assert load_story(copy / "story.json").scenes[0].brief.variant == 3

    proc = run_cli("illustrate", "-d", str(copy), "--resolution", "480p", "--progress", "json")
    assert proc.returncode == 0, proc.stderr
    progress = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert stage_end(progress, "illustrate")["cached"] == 2 == stage_end(progress, "illustrate")["total"]
    paths = storymode.illustrate(copy, resolution="480p")
    assert Path(paths[0]) == picked.path
    assert np.array_equal(np.asarray(Image.open(paths[0]).convert("RGB"), dtype=np.int16), pixels[2])

    history.undo(copy, version)  # back to the default picture, which is cached too
    assert load_story(copy / "story.json").scenes[0].brief.variant == 0
    assert stage_end(_illustrated(copy), "illustrate")["cached"] == 2


def _illustrated(story_dir: Path) -> list:
    events: list = []
    storymode.illustrate(story_dir, resolution="480p", on_event=events.append)
    return events


@pytest.mark.slow
def test_redraw_cycles_styles(copy: Path):
    found = candidates.redraw(copy, "s002", resolve_settings(SETTINGS), n=4, styles=["watercolor", "storybook"])
    assert [(c.variant, c.style) for c in found] == [(1, "watercolor"), (2, None), (3, "watercolor"), (4, None)]
    version = candidates.pick(copy, found[0], history.version_of(copy))
    assert load_story(copy / "story.json").scenes[1].brief.style == "watercolor"
    assert stage_end(_illustrated(copy), "illustrate")["cached"] == 2
    assert history.versions(copy)[0] | {"time": 0} == {"n": 2, "note": "picked picture 1 for scene s002", "time": 0,
                                                       "scenes": 2, "version": version, "current": True}
    with pytest.raises(UsageError, match="unknown picture style"):
        candidates.redraw(copy, "s002", resolve_settings(SETTINGS), styles=["oil paint"])
    with pytest.raises(UsageError, match="no scene 's404'"):
        candidates.redraw(copy, "s404", resolve_settings(SETTINGS))


@pytest.mark.slow
def test_old_story_json_keeps_its_pictures(copy: Path):
    data = json.loads((copy / "story.json").read_text())
    for scene in data["scenes"]:  # a story.json written before briefs had a variant and a style
        scene["brief"].pop("variant")
        scene["brief"].pop("style")
    (copy / "story.json").write_text(json.dumps(data))
    assert stage_end(_illustrated(copy), "illustrate")["cached"] == 2


@pytest.mark.slow
def test_rewrite_gives_other_texts_told_by_the_same_cast(copy: Path):
    story = load_story(copy / "story.json")
    found = candidates.rewrite(copy, "s002", resolve_settings(SETTINGS), n=4)
    texts = [tuple((line.speaker, line.text) for line in c.lines) for c in found]
    assert len(found) == 4 and len(set(texts)) == 4
    assert tuple((line.speaker, line.text) for line in story.scenes[1].lines) not in texts
    cast = {c.id for c in story.characters} | {"narrator"}
    others = {"Fennel", "Juniper", "Pip", "Ember", "Fern", "Finn"} - {c.name for c in story.characters}
    for candidate in found:
        assert {line.speaker for line in candidate.lines} <= cast
        assert not any(re.search(rf"\b{name}\b", line.text) for line in candidate.lines for name in others)
    assert story.characters[0].name in " ".join(line.text for line in found[0].lines)

    base = history.version_of(copy)
    version = candidates.pick(copy, candidates.load_candidate(copy, found[1].id), base)
    assert load_story(copy / "story.json").scenes[1].lines == found[1].lines
    assert load_story(copy / "story.json").scenes[0] == story.scenes[0]
    with pytest.raises(history.Conflict):  # picked on a stale version
        candidates.pick(copy, found[2], base)
    history.undo(copy, version)
    assert load_story(copy / "story.json") == story


@pytest.mark.slow
def test_rewrite_is_refused_for_the_users_own_text(tmp_path: Path):
    tale = tmp_path / "tale.txt"
    tale.write_text('Pip the mouse lived by the river.\n\nOne night Pip swam to the big rock. "I did it!" she cried.\n')
    proc = run_cli("write", "--from", str(tale), "-d", str(tmp_path / "tale.storymode"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(UsageError, match="this story is your own text; edit its lines instead"):
        candidates.rewrite(tmp_path / "tale.storymode", "s001", resolve_settings({}))


@pytest.mark.slow
def test_an_edited_line_is_narrated_again_alone(copy: Path):
    story, base = history.load(copy)
    total = sum(len(scene.lines) for scene in story.scenes)
    history.save(copy, edits.edit_line(story, "s002", 0, text="And so the little fox flew over the wood."), base,
                 "edited a line")
    events: list = []
    storymode.narrate(copy, on_event=events.append)
    assert stage_end(events, "narrate")["total"] == total
    assert stage_end(events, "narrate")["cached"] == total - 1
    assert stage_end(_illustrated(copy), "illustrate")["cached"] == 2  # the pictures are kept


def test_story_validation_error_is_a_usage_error():
    assert issubclass(StoryValidationError, UsageError) and issubclass(history.Conflict, UsageError)
