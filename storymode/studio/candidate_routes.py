"""Other pictures (redraw) or texts (rewrite) for one scene, made as the story's job and kept to pick from, and
the pick itself (saved on the version the page loaded)."""
from __future__ import annotations

from typing import Any

from ..errors import UsageError
from .bodies import CandidatesBody, PickBody
from .security import story_folder
from .state import Studio, read_story


def candidate_view(story_id: str, candidate: Any) -> dict[str, Any]:
    """A candidate as the page shows it: its picture's URL, or its lines."""
    lines = getattr(candidate, "lines", None) or []
    shown = [line.model_dump(mode="json") if hasattr(line, "model_dump") else line for line in lines]
    has_picture = candidate.kind == "picture" and getattr(candidate, "path", None)
    return {"id": candidate.id, "scene_id": candidate.scene_id, "kind": candidate.kind,
            "variant": getattr(candidate, "variant", None), "style": getattr(candidate, "style", None),
            "url": f"/s/{story_id}/candidates/{candidate.id}" if has_picture else None, "lines": shown}


def _offer(studio: Studio, story_id: str, kind: str, body: CandidatesBody) -> Any:
    """Start the job that makes candidates for a scene (redraw: pictures, rewrite: texts); they are kept to pick."""
    from . import candidates

    folder = story_folder(studio.root, story_id)
    story, _ = read_story(folder)
    if body.scene_id not in {s.id for s in story.scenes}:
        raise UsageError(f"no scene {body.scene_id!r} in this story")

    def work(emit: Any) -> list[dict[str, Any]]:
        settings = studio.settings(story_id)
        if kind == "redraw":
            made = candidates.redraw(folder, body.scene_id, settings, n=body.n, styles=tuple(body.styles), emit=emit)
        else:
            made = candidates.rewrite(folder, body.scene_id, settings, n=body.n, emit=emit)
        return [candidate_view(story_id, c) for c in made]

    return studio.jobs.start(story_id, kind, work)


def add_candidate_routes(app: Any, studio: Studio) -> None:
    """POST /s/{id}/redraw and /s/{id}/rewrite (202, the job) and POST /s/{id}/pick (the new version)."""

    @app.post("/s/{story_id}/redraw", status_code=202)
    def redraw(story_id: str, body: CandidatesBody) -> Any:
        return {"job": _offer(studio, story_id, "redraw", body).view()}

    @app.post("/s/{story_id}/rewrite", status_code=202)
    def rewrite(story_id: str, body: CandidatesBody) -> Any:
        return {"job": _offer(studio, story_id, "rewrite", body).view()}

    @app.post("/s/{story_id}/pick")
    def pick(story_id: str, body: PickBody) -> Any:
        from . import candidates

        folder = story_folder(studio.root, story_id)
        return {"version": candidates.pick(folder, candidates.load_candidate(folder, body.candidate), body.base)}
