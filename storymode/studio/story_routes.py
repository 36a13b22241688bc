"""A story's JSON routes: read it (with its version), edit it (one edits.py function by name), undo, and list its
versions; every change is saved through history.save on the version the page loaded (409 when stale)."""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import UsageError
from ..story import Story
from .bodies import BaseBody, EditBody
from .responses import json_response
from .security import story_folder
from .state import Studio, read_story, stale_message


def _edit_functions() -> dict[str, Any]:
    from . import edits

    names = ("edit_line", "add_line", "remove_line", "edit_brief", "add_scene", "remove_scene", "move_scene",
             "split_scene", "merge_scene", "edit_title", "set_voice")
    return {name: getattr(edits, name) for name in names if hasattr(edits, name)}


def apply_edit(story: Story, op: str, args: dict[str, Any]) -> Story:
    """story with one edit applied: op names an edits.py function, args its arguments by name (edit_brief takes
    its fields as args["fields"])."""
    functions = _edit_functions()
    if op not in functions:
        raise UsageError(f"no edit {op!r}; the edits are: {', '.join(functions)}")
    fn = functions[op]
    params = list(inspect.signature(fn).parameters.values())[1:]
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    given = dict(args)
    fields = given.pop("fields", None) if any(p.kind == p.VAR_KEYWORD for p in params) else None
    unknown = [name for name in given if name not in named]
    if unknown:
        raise UsageError(f"the edit {op} takes {', '.join(named) or 'nothing'}" +
                         (" and fields" if fields is not None else "") + f", not {unknown[0]!r}")
    missing = [p.name for p in params if p.name in named and p.default is p.empty and p.name not in given]
    if missing:
        raise UsageError(f"the edit {op} needs {', '.join(missing)}")
    if fields is not None and not isinstance(fields, dict):
        raise UsageError(f"the edit {op} takes its fields as an object")
    return fn(story, **given, **(fields or {}))


def edit_note(op: str, args: dict[str, Any]) -> str:
    """What an edit did, as the history lists it."""
    words = op.replace("_", " ")
    scene = args.get("scene_id")
    if "index" in args and scene:
        return f"{words}: line {int(args['index']) + 1 if isinstance(args['index'], int) else args['index']} " \
               f"of scene {scene}"
    if op == "edit_brief" and isinstance(args.get("fields"), dict):
        return f"{words} of scene {scene}: {', '.join(map(str, args['fields']))}"
    if op == "set_voice":
        return f"{words}: {args.get('character_id')} -> {args.get('voice') or 'automatic'}"
    return f"{words}: scene {scene}" if scene else words


def add_story_routes(app: Any, studio: Studio) -> None:
    """GET /s/{id}/story, POST /s/{id}/edit, POST /s/{id}/undo and GET /s/{id}/versions."""
    from . import history

    @app.get("/s/{story_id}/story")
    def story_json(story_id: str) -> Any:
        story, version = read_story(story_folder(studio.root, story_id))
        return {"version": version, "story": story.model_dump(mode="json")}

    @app.post("/s/{story_id}/edit")
    def edit(story_id: str, body: EditBody) -> Any:
        folder = story_folder(studio.root, story_id)
        story, version = read_story(folder)
        rejected = {"op": body.op, "args": body.args}
        try:
            try:
                changed = apply_edit(story, body.op, body.args)
            except UsageError:
                if version != body.base:  # the edit was meant for a story the page no longer shows
                    raise history.Conflict(stale_message(body.base, version), version) from None
                raise
            return {"version": history.save(folder, changed, body.base, edit_note(body.op, body.args))}
        except history.Conflict as err:  # the page keeps what was typed, and offers to reload
            kept = err.kept.name if err.kept is not None else None
            return json_response({"detail": str(err), "conflict": True, "version": err.current, "kept": kept,
                                  "rejected": rejected}, 409)

    @app.post("/s/{story_id}/undo")
    def undo(story_id: str, body: BaseBody) -> Any:
        return {"version": history.undo(story_folder(studio.root, story_id), body.base)}

    @app.get("/s/{story_id}/versions")
    def versions(story_id: str) -> Any:
        return {"versions": history.versions(story_folder(studio.root, story_id))}
