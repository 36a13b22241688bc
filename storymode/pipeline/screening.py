"""Screening for the audience (storymode.safety): the prompt, the title and the user's text before any work, and
every story a writer returns. A story from a writer that follows instructions (a language model) is asked for again
with the audience rule stated; from any other writer, or after MAX_ASKS, it is refused (exit 2)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import Settings
from ..errors import Refused
from ..events import Event, Listener, ignore
from ..safety.screen import Screen, make_screen, screen_text
from ..safety.verdict import Verdict, combine
from ..story import Screening, Story
from ..writers.base import WriteRequest, Writer

MAX_ASKS = 3  # the first story and two more, each told what was wrong


def chosen_screens(settings: Settings) -> list[Screen]:
    """The screens the settings name, each with its [screen_options.NAME] table."""
    return [make_screen(name, settings.screen_options.get(name)) for name in settings.screen]


def check_request(settings: Settings, *, prompt: str | None = None, text: str | None = None,
                  title: str | None = None, screens: Sequence[Screen] | None = None) -> Verdict:
    """The verdict on what the user gave; Refused (naming the category, not the words) when it is not for the
    audience."""
    screens = chosen_screens(settings) if screens is None else screens
    verdicts = []
    for what, value in (("the prompt", prompt), ("the title", title), ("the text", text)):
        if value:
            verdict = screen_text(value, settings.audience, screens)
            if not verdict.ok:
                raise Refused(verdict.message(what))
            verdicts.append(verdict)
    return combine(verdicts) if verdicts else screen_text("", settings.audience, screens)


def story_passages(story: Story) -> list[str]:
    """What a story says and shows, one passage per scene (its lines and its picture's brief), the title and cast
    first."""
    cast = " ".join(f"{c.name}, {c.kind}: {c.description}." for c in story.characters)
    head = f"{story.title}. {cast}"
    scenes = [" ".join([*(line.text for line in scene.lines), scene.brief.setting, scene.brief.action,
                        *scene.brief.props]) for scene in story.scenes]
    return [head, *scenes]


def check_story(story: Story, audience: str, screens: Sequence[Screen]) -> Verdict:
    """The combined verdict over every passage of the story."""
    return combine([screen_text(passage, audience, screens) for passage in story_passages(story)])


def check_story_for_audience(story: Story, settings: Settings) -> Verdict:
    """story.json screened for its own audience (it may have been edited by hand); Refused when not for it."""
    verdict = check_story(story, story.audience, chosen_screens(settings))
    if not verdict.ok:
        raise Refused(verdict.message("story.json"))
    return verdict


def screened(story: Story, verdict: Verdict, softened: int) -> Story:
    """The story with its screening record."""
    record = verdict.record()
    return story.model_copy(update={"screening": Screening(
        audience=record["audience"], screens=list(record["screens"]), allowed=list(record["allowed"]),
        softened=softened)})


def written_story(write: Callable[[WriteRequest], Story], writer: Writer, request: WriteRequest,
                  screens: Sequence[Screen], asked: Verdict | None = None, emit: Listener = ignore) -> Story:
    """write(request), screened; asked again with the rule stated while it is not for the audience and the writer
    follows instructions; Refused otherwise. The record holds what the request (asked) and the story allowed."""
    for ask in range(MAX_ASKS):
        story = write(request)
        verdict = check_story(story, request.audience, screens)
        if verdict.ok:
            return screened(story, combine([asked, verdict]) if asked is not None else verdict, ask)
        if not writer.follows_rules or ask == MAX_ASKS - 1:
            tries = f" after {ask + 1} tries with the rule stated" if writer.follows_rules else ""
            raise Refused(verdict.message(f"the story the writer {writer.name!r} returned{tries}"))
        emit(Event("warning", "write", message=f"the story the writer returned was not for {verdict.audience} "
                                               f"({', '.join(sorted({f.category for f in verdict.blocked}))}); "
                                               f"asking it again with the audience rule stated"))
        request = request.model_copy(update={"rules": (verdict.rule(),)})
    raise AssertionError("unreachable")  # pragma: no cover
