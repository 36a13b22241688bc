"""The data model: validation messages that name the field, JSON round trips, the schema command."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from storymode.errors import StoryValidationError
from storymode.story import Story, clean_text, load_story, story_from_data

from .conftest import run_cli

GOOD = {"title": "Pip", "characters": [{"id": "pip", "name": "Pip", "kind": "fox"}],
        "scenes": [{"id": "s1", "lines": [{"text": "Pip woke up."}, {"speaker": "pip", "text": "Hello!"}]}]}


def test_round_trip(tmp_path):
    story = story_from_data(GOOD)
    path = tmp_path / "story.json"
    path.write_text(story.to_json())
    assert load_story(path) == story
    assert story.speakers == ["narrator", "pip"]


@pytest.mark.parametrize("mutate, field, value", [
    (lambda d: d.pop("title"), "title", None),
    (lambda d: d["scenes"][0]["lines"][0].update(text=5), "scenes.0.lines.0.text", "5"),
    (lambda d: d["scenes"][0]["lines"][1].update(speaker="owl"), "scenes.0.lines.1.speaker", "'owl'"),
    (lambda d: d["scenes"][0]["brief"].update(time_of_day="noonish") if "brief" in d["scenes"][0]
     else d["scenes"][0].update(brief={"time_of_day": "noonish"}), "scenes.0.brief.time_of_day", '"noonish"'),
    (lambda d: d.update(scenes=[]), "scenes", None),
    (lambda d: d.update(colour="red"), "colour", None),
])
def test_validation_names_field_and_value(mutate, field, value):
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    with pytest.raises(StoryValidationError) as err:
        story_from_data(data, "story.json")
    message = str(err.value)
    assert field in message
    if value:
        assert value in message


def test_clean_text_drops_controls_keeps_emoji():
    assert clean_text("a\x00 fox\x1b[31m 🦊\u202e ") == "a fox[31m 🦊"


def test_story_json_errors(tmp_path):
    bad = tmp_path / "story.json"
    bad.write_text("{not json")
    with pytest.raises(StoryValidationError, match="not valid JSON"):
        load_story(bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(StoryValidationError, match="not UTF-8"):
        load_story(bad)


def test_schema_command():
    proc = run_cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["title"] == "Story"
    assert {"title", "scenes"} <= set(schema["required"])
    assert "Line" in schema["$defs"]


def test_story_is_frozen():
    story = Story.model_validate(GOOD)
    with pytest.raises(ValidationError, match="Instance is frozen"):
        story.title = "x"  # type: ignore[misc]
