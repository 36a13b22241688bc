"""The studio's HTML pages: the library (/) with its new-story form, and a story's board (/s/{id}); Jinja2
templates, autoescaped."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import StorymodeError
from ..story import NARRATOR
from ..timeline import ASPECTS, RESOLUTIONS
from . import library
from .bodies import AUDIENCES, MAX_TEXT_BYTES
from .security import UnknownStory, story_folder
from .state import Studio, read_story

TEMPLATES = Path(__file__).resolve().parent / "templates"
TONES = ("gentle", "funny", "spooky", "exciting")
TIMES = ("dawn", "day", "dusk", "night")
WEATHERS = ("clear", "clouds", "rain", "snow", "wind", "fog", "storm")


@lru_cache(maxsize=1)
def _templates() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["seconds"] = lambda s: "" if s is None else f"{int(s // 60)}:{int(s % 60):02d}"
    return env


def page_response(name: str, status: int = 200, **context: Any) -> Any:
    """The template name rendered with context, as an uncached HTML response."""
    from fastapi.responses import HTMLResponse

    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


@lru_cache(maxsize=1)
def usable_backends() -> dict[str, list[dict[str, Any]]]:
    """The writers, narrators and illustrators usable here (storymode backends' rows with usable=True)."""
    from ..registry import describe_all

    out: dict[str, list[dict[str, Any]]] = {"writer": [], "narrator": [], "illustrator": []}
    for row in describe_all():
        if row.usable and row.stage in out:
            out[row.stage].append({"name": row.name, "description": row.description, "default": row.default})
    return out


def _styles() -> list[str]:
    from ..illustrators.prompting import STYLES

    return list(STYLES)


def library_context(studio: Studio) -> dict[str, Any]:
    """What library.html shows: the stories' cards, and the new-story form's defaults and choices."""
    from ..config import resolve_settings

    problem = ""
    try:
        defaults = resolve_settings()
    except StorymodeError as err:  # a storymode.toml here that may not be read: the form still works
        from ..config import Settings

        defaults, problem = Settings(), str(err)
    backends = usable_backends()
    presets: list[str] = []
    if any(b["name"] == "diffusers" for b in backends["illustrator"]):
        from ..illustrators.diffusers_t2i import PRESETS

        presets = list(PRESETS)
    return {"page": "library", "csrf": studio.csrf, "root": str(studio.root),
            "cards": library.list_stories(studio.root, studio.made),
            "defaults": defaults, "backends": backends, "presets": presets, "styles": _styles(),
            "aspects": list(ASPECTS), "resolutions": list(RESOLUTIONS), "audiences": AUDIENCES, "tones": TONES,
            "max_text": MAX_TEXT_BYTES, "problem": problem}


def board_context(studio: Studio, story_id: str) -> dict[str, Any]:
    """What board.html shows of one story: its scenes and lines, what is drawn and narrated, its job and history."""
    from ..cast import assign_cast, load_presets
    from .history import versions

    folder = story_folder(studio.root, story_id)
    story, version = read_story(folder)
    problem = ""
    try:
        settings = studio.settings(story_id)
    except StorymodeError as err:
        from ..config import Settings

        settings, problem = Settings(), str(err)
    presets = load_presets()
    voices = sorted(name for name, preset in presets.items() if preset.backend == settings.narrator)
    pictures = library.scene_pictures(folder, story, settings)
    try:
        narrated = library.line_narrations(folder, story, settings)
        cast = {sid: preset.name for sid, preset in assign_cast(story, presets, settings.narrator).items()}
        state = library.story_state(studio.root, story_id, story, settings, pictures=pictures, narrations=narrated)
    except StorymodeError as err:  # a voice that is gone: the board still opens, to choose another
        narrated = [[None] * len(scene.lines) for scene in story.scenes]
        cast, state, problem = {}, "written", str(err)
    names = {c.id: c.name for c in story.characters}
    speakers = [(NARRATOR, "Narrator")] + [(c.id, c.name) for c in story.characters]
    channel = studio.jobs.channel(story_id)
    messages = channel.since(0)
    job = studio.jobs.current(story_id)
    return {"page": "board", "csrf": studio.csrf, "story_id": story_id, "story": story, "version": version,
            "settings": settings, "problem": problem, "pictures": [p is not None for p in pictures],
            "narrated": [[p is not None for p in row] for row in narrated], "voices": voices,
            "auto_voice": cast, "names": names,
            "speakers": speakers, "times": TIMES, "weathers": WEATHERS,
            "state": state,
            "downloads": library.downloads(studio.root, story_id),
            "video": library.video_path(studio.root, story_id).is_file(),
            "history": versions(folder)[:30], "job": job.view() if job else None,
            "after": messages[-1][0] if messages else 0, "styles": _styles()}


def add_page_routes(app: Any, studio: Studio) -> None:
    """GET / (the library) and GET /s/{id} (a story's board, or an error page saying why it cannot open)."""

    @app.get("/", include_in_schema=False)
    def library_page() -> Any:
        return page_response("library.html", **library_context(studio))

    @app.get("/s/{story_id}", include_in_schema=False)
    def board_page(story_id: str) -> Any:
        try:
            return page_response("board.html", **board_context(studio, story_id))
        except UnknownStory as err:
            return page_response("error.html", 404, page="error", csrf=studio.csrf, title="No such story",
                                 message=str(err))
        except StorymodeError as err:
            return page_response("error.html", 422, page="error", csrf=studio.csrf,
                                 title="This story cannot be opened", message=str(err))
