"""The studio's edits: pure functions Story -> Story, each result validated by the Story model.

A bad scene id, line index, speaker, brief field or voice raises UsageError saying what was wrong and what there
is to choose from; nothing here reads or writes a file (history.save stores the result)."""
from __future__ import annotations

import re
from typing import Any

from ..errors import StoryValidationError, UsageError
from ..story import NARRATOR, MAX_SCENES, Brief, Line, Scene, Story, story_from_data

BRIEF_FIELDS = ("setting", "time_of_day", "weather", "characters", "action", "props", "mood", "variant", "style")
NEW_SCENE_TEXT = "A new page of the story."
_MAX_LINES = next(m.max_length for m in Scene.model_fields["lines"].metadata if hasattr(m, "max_length"))


def _checked(data: dict, what: str) -> Story:
    """The edited story data, validated: StoryValidationError (a UsageError) naming what was edited and each
    field that is wrong."""
    try:
        return story_from_data(data, "story")
    except StoryValidationError as err:
        detail = str(err).partition("\n")[2] or str(err)
        raise StoryValidationError(f"{what}: that edit does not make a valid story:\n{detail}") from None


def _list(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def scene_index(story: Story, scene_id: str) -> int:
    """The position of the scene with this id; UsageError listing the scene ids when there is none."""
    for index, scene in enumerate(story.scenes):
        if scene.id == scene_id:
            return index
    raise UsageError(f"no scene {scene_id!r} in this story; its scenes are: {_list([s.id for s in story.scenes])}")


def _line_index(scene: Scene, index: int, *, end_ok: bool = False) -> int:
    last = len(scene.lines) - (0 if end_ok else 1)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= last:
        raise UsageError(f"scene {scene.id!r} has {len(scene.lines)} line{'s' if len(scene.lines) != 1 else ''} "
                         f"(0 to {len(scene.lines) - 1}); there is no line {index!r}")
    return index


def _speaker(story: Story, speaker: str) -> str:
    ids = [c.id for c in story.characters]
    if speaker != NARRATOR and speaker not in ids:
        raise UsageError(f"{speaker!r} is not a speaker of this story; choose {NARRATOR!r} or a character: "
                         f"{_list(ids)}")
    return speaker


def _with_scenes(story: Story, scenes: list[dict], what: str) -> Story:
    data = story.model_dump()
    data["scenes"] = scenes
    return _checked(data, what)


def _scenes(story: Story) -> list[dict]:
    return [s.model_dump() for s in story.scenes]


# ---------------------------------------------------------------- lines
def edit_line(story: Story, scene_id: str, index: int, *, text: str | None = None,
              speaker: str | None = None) -> Story:
    """The story with line index of the scene given new text and/or a new speaker."""
    at = scene_index(story, scene_id)
    scenes = _scenes(story)
    line = scenes[at]["lines"][_line_index(story.scenes[at], index)]
    if text is not None:
        line["text"] = _line_text(text)
    if speaker is not None:
        line["speaker"] = _speaker(story, speaker)
    return _with_scenes(story, scenes, f"line {index} of scene {scene_id!r}")


def add_line(story: Story, scene_id: str, after: int | None, speaker: str, text: str) -> Story:
    """The story with a new line in the scene after line number after (-1: first; None: last)."""
    at = scene_index(story, scene_id)
    scene = story.scenes[at]
    if after is None:
        after = len(scene.lines) - 1
    if after != -1:
        _line_index(scene, after)
    if len(scene.lines) >= _MAX_LINES:
        raise UsageError(f"scene {scene_id!r} already has {_MAX_LINES} lines, the most a scene holds; split it first")
    scenes = _scenes(story)
    scenes[at]["lines"].insert(after + 1, Line(speaker=_speaker(story, speaker), text=_line_text(text)).model_dump())
    return _with_scenes(story, scenes, f"the new line of scene {scene_id!r}")


def _line_text(text: str) -> str:
    """text checked as a line's text (a clear UsageError for an empty or too long one)."""
    from pydantic import ValidationError

    try:
        return Line(text=text).text
    except ValidationError as err:
        problem = err.errors()[0]
        why = "it is empty" if "empty" in problem["msg"] or problem["type"] == "string_too_short" else problem["msg"]
        raise UsageError(f"a line needs text: {why} (lines hold 1 to 2000 characters)") from None


def remove_line(story: Story, scene_id: str, index: int) -> Story:
    """The story without line index of the scene (a scene keeps at least one line)."""
    at = scene_index(story, scene_id)
    _line_index(story.scenes[at], index)
    if len(story.scenes[at].lines) == 1:
        raise UsageError(f"line {index} is the only line of scene {scene_id!r}; a scene needs one: remove the scene "
                         "instead, or edit the line")
    scenes = _scenes(story)
    del scenes[at]["lines"][index]
    return _with_scenes(story, scenes, f"scene {scene_id!r}")


def replace_lines(story: Story, scene_id: str, lines: list[Line]) -> Story:
    """The story with the scene's lines replaced by lines (another text picked for it)."""
    at = scene_index(story, scene_id)
    if not lines:
        raise UsageError(f"scene {scene_id!r} needs at least one line")
    for line in lines:
        _speaker(story, line.speaker)
    scenes = _scenes(story)
    scenes[at]["lines"] = [line.model_dump() for line in lines]
    return _with_scenes(story, scenes, f"the lines of scene {scene_id!r}")


# ---------------------------------------------------------------- the picture's brief
def edit_brief(story: Story, scene_id: str, **fields: Any) -> Story:
    """The story with the scene's brief fields changed: setting, time_of_day, weather, characters, action, props,
    mood, variant, style (a style preset name; None or "": the story's own)."""
    unknown = [name for name in fields if name not in BRIEF_FIELDS]
    if unknown:
        raise UsageError(f"a scene's brief has no field {unknown[0]!r}; its fields are: {', '.join(BRIEF_FIELDS)}")
    at = scene_index(story, scene_id)
    if "style" in fields:
        fields["style"] = _style(fields["style"])
    if "characters" in fields:
        fields["characters"] = _cast_ids(story, fields["characters"])
    scenes = _scenes(story)
    scenes[at]["brief"].update(fields)
    return _with_scenes(story, scenes, f"the brief of scene {scene_id!r}")


def _style(style: Any) -> str | None:
    """A style preset's name (case and aliases as the CLI takes them), or None for the story's own."""
    from ..illustrators.prompting import style_preset

    if style is None or (isinstance(style, str) and not style.strip()):
        return None
    if not isinstance(style, str):
        raise UsageError(f"a style is a preset name, not {style!r}")
    return style_preset(style).name  # an unknown one: UsageError listing the styles


def _cast_ids(story: Story, ids: Any) -> list[str]:
    if not isinstance(ids, (list, tuple)) or not all(isinstance(i, str) for i in ids):
        raise UsageError("a brief's characters are a list of character ids")
    known = [c.id for c in story.characters]
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise UsageError(f"{unknown[0]!r} is not a character of this story; its characters are: {_list(known)}")
    return list(dict.fromkeys(ids))


# ---------------------------------------------------------------- scenes
def _new_scene_id(story: Story) -> str:
    """A scene id no scene has: s001-style, after the highest such number."""
    taken = {s.id for s in story.scenes}
    numbers = [int(m.group(1)) for s in story.scenes if (m := re.fullmatch(r"s(\d+)", s.id))]
    n = max(numbers, default=len(story.scenes)) + 1
    while f"s{n:03d}" in taken:
        n += 1
    return f"s{n:03d}"


def _room_for_a_scene(story: Story) -> None:
    if len(story.scenes) >= MAX_SCENES:
        raise UsageError(f"the story already has {MAX_SCENES} scenes, the most a story holds")


def add_scene(story: Story, after: str | None, *, text: str | None = None) -> Story:
    """The story with a new scene after the scene with id after (None: before the first scene). It has one
    narrator line (text, or a placeholder to edit) and its neighbour's place, time, weather and cast."""
    _room_for_a_scene(story)
    at = scene_index(story, after) + 1 if after is not None else 0
    near = story.scenes[max(0, at - 1)].brief
    brief = Brief(setting=near.setting, time_of_day=near.time_of_day, weather=near.weather,
                  characters=list(near.characters), mood=near.mood, style=near.style)
    scene = Scene(id=_new_scene_id(story), lines=[Line(text=_line_text(text or NEW_SCENE_TEXT))], brief=brief)
    scenes = _scenes(story)
    scenes.insert(at, scene.model_dump())
    return _with_scenes(story, scenes, "the new scene")


def remove_scene(story: Story, scene_id: str) -> Story:
    """The story without the scene (a story keeps at least one scene)."""
    at = scene_index(story, scene_id)
    if len(story.scenes) == 1:
        raise UsageError(f"scene {scene_id!r} is the story's only scene; a story needs one: edit it instead")
    scenes = _scenes(story)
    del scenes[at]
    return _with_scenes(story, scenes, "the story")


def move_scene(story: Story, scene_id: str, to: int) -> Story:
    """The story with the scene moved to position to (0: first)."""
    at = scene_index(story, scene_id)
    last = len(story.scenes) - 1
    if not isinstance(to, int) or isinstance(to, bool) or not 0 <= to <= last:
        raise UsageError(f"a scene moves to a position from 0 to {last}, not {to!r}")
    scenes = _scenes(story)
    scenes.insert(to, scenes.pop(at))
    return _with_scenes(story, scenes, "the story")


def split_scene(story: Story, scene_id: str, at_line: int) -> Story:
    """The story with the scene cut before line at_line: the lines from there on become a new scene after it,
    with the same brief."""
    at = scene_index(story, scene_id)
    scene = story.scenes[at]
    if not isinstance(at_line, int) or isinstance(at_line, bool) or not 1 <= at_line < len(scene.lines):
        raise UsageError(f"scene {scene_id!r} has {len(scene.lines)} line{'s' if len(scene.lines) != 1 else ''}: "
                         + (f"it is cut before a line from 1 to {len(scene.lines) - 1}, not {at_line!r}"
                            if len(scene.lines) > 1 else "a scene of one line cannot be split"))
    _room_for_a_scene(story)
    scenes = _scenes(story)
    second = scenes[at] | {"id": _new_scene_id(story), "lines": scenes[at]["lines"][at_line:]}
    second["brief"] = dict(second["brief"], variant=0)
    scenes[at]["lines"] = scenes[at]["lines"][:at_line]
    scenes.insert(at + 1, second)
    return _with_scenes(story, scenes, "the story")


def merge_scene(story: Story, scene_id: str) -> Story:
    """The story with the scene and the next one made one: its lines then the next one's, its brief with the
    next one's characters and props added."""
    at = scene_index(story, scene_id)
    if at == len(story.scenes) - 1:
        raise UsageError(f"scene {scene_id!r} is the last scene; merge the scene before it instead")
    first, second = story.scenes[at], story.scenes[at + 1]
    if len(first.lines) + len(second.lines) > _MAX_LINES:
        raise UsageError(f"scenes {first.id!r} and {second.id!r} have {len(first.lines) + len(second.lines)} lines "
                         f"together, more than the {_MAX_LINES} a scene holds")
    scenes = _scenes(story)
    merged = scenes[at]
    merged["lines"] += scenes[at + 1]["lines"]
    merged["brief"]["characters"] = list(dict.fromkeys(first.brief.characters + second.brief.characters))
    merged["brief"]["props"] = list(dict.fromkeys(first.brief.props + second.brief.props))
    del scenes[at + 1]
    return _with_scenes(story, scenes, "the story")


# ---------------------------------------------------------------- the story and its cast
def edit_title(story: Story, title: str) -> Story:
    """The story with a new title."""
    data = story.model_dump()
    data["title"] = title
    return _checked(data, "the title")


def set_voice(story: Story, character_id: str, voice: str | None) -> Story:
    """The story with the character speaking in the voice preset (see `storymode voices`); None: chosen
    automatically."""
    from ..cast import load_presets

    ids = [c.id for c in story.characters]
    if character_id not in ids:
        raise UsageError(f"no character {character_id!r} in this story; its characters are: {_list(ids)}")
    if voice is not None:
        presets = load_presets()
        if voice not in presets:
            raise UsageError(f"there is no voice {voice!r}; the voices are: {', '.join(sorted(presets))} "
                             "(see `storymode voices`)")
    data = story.model_dump()
    data["characters"][ids.index(character_id)]["voice"] = voice
    return _checked(data, f"the voice of {character_id!r}")
