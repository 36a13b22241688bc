"""Candidates for one scene: other pictures (other variants of its brief, in other styles when asked) and other
texts (the writer run again with other seeds), to look at side by side and pick one.

Pictures are drawn through the illustrate stage's own cache, so the picture picked is already there when the
story is illustrated. Each candidate is kept as build/candidates/<id>.json, so the studio can pick one by its id
in a later request. Picking goes through history.save, so undo takes it back.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config import Settings
from ..errors import Refused, UsageError
from ..events import Event, Listener, ignore
from ..story import NARRATOR, Brief, Character, Line, Story
from ..workspace import Workspace, artifact_key, atomic_write_json, real_folder
from . import edits, history

CandidateKind = Literal["picture", "text"]
MAX_CANDIDATES = 16
MAX_VARIANT = 1_000_000  # Brief.variant's bound
FOLDER = "candidates"  # under build/
_ID = re.compile(r"^[pt][0-9a-f]{8,32}$")
_HE = re.compile(r"\b(?:he|him|his|himself)\b", re.I)
_SHE = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """Another picture or text for one scene: a picture (variant, style and its file) or lines."""

    id: str
    scene_id: str
    kind: CandidateKind
    variant: int | None = None
    style: str | None = None  # a picture's style preset; None: the story's own
    path: Path | None = None  # a picture's file, under the story folder's art/
    lines: list[Line] | None = None  # a text's lines

    def to_dict(self) -> dict[str, Any]:
        """The candidate as JSON-ready data (path as a string, lines as dicts)."""
        return {"id": self.id, "scene_id": self.scene_id, "kind": self.kind, "variant": self.variant,
                "style": self.style, "path": str(self.path) if self.path else None,
                "lines": [line.model_dump() for line in self.lines] if self.lines is not None else None}


def _check_count(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CANDIDATES:
        raise UsageError(f"ask for 1 to {MAX_CANDIDATES} candidates, not {n!r}")


def _keep(ws: Workspace, candidate: Candidate) -> None:
    """Write the candidate's record under build/candidates/, so it can be picked by id later."""
    folder = real_folder(ws.build_dir(), "build")
    folder = real_folder(folder / FOLDER, f"build/{FOLDER}")
    data = candidate.to_dict()
    if candidate.path is not None:
        data["path"] = ws.relative(candidate.path)
    atomic_write_json(folder / f"{candidate.id}.json", data)


def load_candidate(story_dir: Path, candidate_id: str) -> Candidate:
    """A candidate redraw or rewrite made for this story folder, by its id; UsageError when there is none."""
    ws = Workspace(story_dir)
    missing = UsageError(f"no candidate {candidate_id!r} for this story; draw or write the candidates again")
    if not isinstance(candidate_id, str) or not _ID.match(candidate_id):
        raise missing
    data = ws.read_json(ws.root / "build" / FOLDER / f"{candidate_id}.json")
    try:
        kind = data["kind"]
        path = None
        if kind == "picture":
            relative = Path(data["path"])
            if relative.parts[:1] != ("art",) or ".." in relative.parts or len(relative.parts) != 2:
                raise ValueError("a picture candidate's file is under art/")
            path = ws.root / relative
        elif kind != "text":
            raise ValueError(f"unknown kind {kind!r}")
        lines = [Line.model_validate(line) for line in data["lines"]] if data.get("lines") is not None else None
        return Candidate(id=candidate_id, scene_id=str(data["scene_id"]), kind=kind, variant=data.get("variant"),
                         style=data.get("style"), path=path, lines=lines)
    except (KeyError, TypeError, ValueError):  # a pydantic ValidationError is a ValueError
        raise missing from None


# ---------------------------------------------------------------- pictures
def other_variants(current: int, n: int, skip: int = 0) -> list[int]:
    """n variant numbers from 1 up, leaving out the current one and the first skip others."""
    wanted: list[int] = []
    number = 1
    while len(wanted) < skip + n and number <= MAX_VARIANT:
        if number != current:
            wanted.append(number)
        number += 1
    return wanted[skip:]


def _with_brief(story: Story, index: int, brief: Brief) -> Story:
    """The story with scene number index drawn from brief (only variant and style differ: no need to validate)."""
    scenes = list(story.scenes)
    scenes[index] = scenes[index].model_copy(update={"brief": brief})
    return story.model_copy(update={"scenes": scenes})


def redraw(story_dir: Path, scene_id: str, settings: Settings, n: int = 4, styles: Sequence[str] = (),
           emit: Listener = ignore, *, skip: int = 0) -> list[Candidate]:
    """n pictures of the scene with other variants of its brief (and the styles, cycled, when given), drawn
    through the illustrate stage's cache under the folder's lock; skip: leave out the first skip variants (the
    ones already shown), for more."""
    from ..illustrators.prompting import style_preset
    from ..pipeline.illustrate import draw_pictures

    _check_count(n)
    if not isinstance(skip, int) or skip < 0:
        raise UsageError(f"skip is a count of candidates already shown, not {skip!r}")
    names = [style_preset(style).name for style in styles]  # an unknown style: UsageError listing them
    with history.locked(story_dir) as ws:
        story, _ = history.load(ws.root)
        index = edits.scene_index(story, scene_id)
        brief = story.scenes[index].brief
        own_style = style_preset(story.style).name if names else None
        drafts = []
        for k, variant in enumerate(other_variants(brief.variant, n, skip)):
            style = brief.style
            if names:
                style = None if names[k % len(names)] == own_style else names[k % len(names)]
            drafts.append(brief.model_copy(update={"variant": variant, "style": style}))
        if not drafts:
            raise UsageError(f"scene {scene_id!r} has no other picture variants left to draw")
        paths = draw_pictures(ws, [(_with_brief(story, index, draft), index) for draft in drafts], settings,
                              emit=emit, stage="redraw")
        found = [Candidate(id="p" + Path(path).stem, scene_id=scene_id, kind="picture", variant=draft.variant,
                           style=draft.style, path=Path(path)) for draft, path in zip(drafts, paths)]
        for candidate in found:
            _keep(ws, candidate)
    return found


# ---------------------------------------------------------------- texts
def _own_text(ws: Workspace, story: Story) -> bool:
    """Whether the story is the user's own text (segmented, not written from a prompt)."""
    from ..pipeline.write import STORY_FROM_META

    made_from = ws.get_meta(STORY_FROM_META)
    return made_from == "text" or (made_from is None and story.request is None)


def cast_map(other: Story, story: Story) -> dict[str, Character]:
    """other's character ids -> story's characters: the heroes (first in each cast), then the same kinds, then
    the rest in order."""
    mapping: dict[str, Character] = {}
    free = list(story.characters)
    pending = list(other.characters)
    if pending and free:
        mapping[pending.pop(0).id] = free.pop(0)
    for character in list(pending):
        same = next((c for c in free if c.kind.lower() == character.kind.lower()), None)
        if same is not None:
            mapping[character.id] = same
            free.remove(same)
            pending.remove(character)
    for character, mine in zip(pending, free):
        mapping[character.id] = mine
    return mapping


def _word(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")


def _narration(story: Story) -> str:
    return " ".join(line.text for scene in story.scenes for line in scene.lines if line.speaker == NARRATOR)


def _pronoun(text: str) -> str | None:
    """The pronoun the text uses most for someone ("he" or "she"), or None when neither or both as often."""
    he = len(_HE.findall(text))
    she = len(_SHE.findall(text))
    return "he" if he > she else "she" if she > he else None


def fitted_lines(other: Story, index: int, story: Story) -> list[Line] | None:
    """Scene number index of other, told by story's cast (names and speakers mapped by cast_map), or None when it
    does not fit: someone in it has no counterpart, another gender (the pronouns would be wrong) or another kind
    named in the text."""
    if index >= len(other.scenes):
        return None
    mapping = cast_map(other, story)
    scene = other.scenes[index]
    said = " ".join(line.text for line in scene.lines)
    involved = {line.speaker for line in scene.lines if line.speaker != NARRATOR}
    involved |= {c.id for c in other.characters if _word(c.name).search(said)}
    for char_id in involved:
        theirs, mine = other.character(char_id), mapping.get(char_id)
        if mine is None or (theirs.gender and mine.gender and theirs.gender != mine.gender):
            return None
        if theirs.kind.lower() != mine.kind.lower() and _word(theirs.kind.lower()).search(said.lower()):
            return None
    if _pronoun(said) and _pronoun(_narration(story)) not in (None, _pronoun(_narration(other))):
        return None  # the other story tells of a hero with other pronouns
    names = {other.character(i).name: c.name for i, c in mapping.items() if other.character(i).name != c.name}
    pattern = re.compile("|".join(_word(name).pattern for name in sorted(names, key=len, reverse=True)))
    lines = []
    for line in scene.lines:
        text = pattern.sub(lambda m: names[m.group(0)], line.text) if names else line.text
        speaker = line.speaker if line.speaker == NARRATOR else mapping[line.speaker].id
        lines.append(Line(speaker=speaker, text=text, pace=line.pace, pause_after=line.pause_after))
    return lines


def _seeds(story: Story) -> Iterator[int]:
    """The writer's seeds to try: the story's seed plus 1, 2, 3 ..."""
    step = 1
    while True:
        yield (story.seed + step) % 2 ** 32
        step += 1


def rewrite(story_dir: Path, scene_id: str, settings: Settings, n: int = 4, emit: Listener = ignore, *,
            skip: int = 0) -> list[Candidate]:
    """n other texts for the scene: the story's writer run again on its prompt with other seeds, taking the same
    scene told by this story's cast; skip: leave out the first skip texts found (the ones already shown).

    UsageError for a story made from the user's own text (there is nothing to write again), or when the writer
    gives no other text that fits. The writer runs outside the folder's lock: edits go on meanwhile."""
    from ..pipeline.common import stage_backend, warnings_said
    from ..pipeline.screening import chosen_screens, written_story
    from ..writers.base import WriteRequest, Writer

    _check_count(n)
    ws = Workspace(story_dir)
    story, _ = history.load(ws.root)
    index = edits.scene_index(story, scene_id)
    if _own_text(ws, story) or not story.prompt:
        raise UsageError("this story is your own text; edit its lines instead")
    writer = stage_backend("writer", settings)
    assert isinstance(writer, Writer)
    screens = chosen_screens(settings)
    seen = {tuple((line.speaker, line.text) for line in story.scenes[index].lines)}
    found: list[Candidate] = []
    tries = 3 * (n + skip) + 6
    emit(Event("stage-start", "rewrite", total=n))
    with warnings_said(emit, "rewrite"):
        for _, seed in zip(range(tries), _seeds(story)):
            request = WriteRequest(prompt=story.prompt, scenes=len(story.scenes), audience=story.audience,
                                   style=story.style, tone=settings.tone, words_per_scene=settings.words_per_scene,
                                   seed=seed)
            try:
                other = written_story(writer.write, writer, request, screens)
            except Refused:
                continue  # that seed's story was not for the audience: try the next
            lines = fitted_lines(other, index, story)
            said = tuple((line.speaker, line.text) for line in lines or ())
            if lines is None or said in seen:
                continue
            seen.add(said)
            if skip:
                skip -= 1
                continue
            key = artifact_key("text", scene_id, [line.model_dump() for line in lines])
            found.append(Candidate(id="t" + key[:16], scene_id=scene_id, kind="text", lines=lines))
            emit(Event("step", "rewrite", done=len(found), total=n))
            if len(found) == n:
                break
    if not found:
        raise UsageError(f"the writer {writer.name!r} gave no other text for scene {scene_id!r} that fits this "
                         "story's cast; edit its lines instead")
    for candidate in found:
        _keep(ws, candidate)  # a file of the candidates' own, written atomically: the lock is not needed
    emit(Event("stage-end", "rewrite", done=len(found), total=n))
    return found


# ---------------------------------------------------------------- picking
def pick(story_dir: Path, candidate: Candidate, base: str) -> str:
    """Make the candidate the scene's: a picture sets the brief's variant and style, a text replaces the scene's
    lines; saved through history.save on base (Conflict when stale), so undo takes it back. The new version."""
    story, _ = history.load(story_dir)
    if candidate.kind == "picture":
        edited = edits.edit_brief(story, candidate.scene_id, variant=candidate.variant or 0, style=candidate.style)
        note = f"picked picture {candidate.variant} for scene {candidate.scene_id}"
    elif candidate.kind == "text" and candidate.lines:
        edited = edits.replace_lines(story, candidate.scene_id, list(candidate.lines))
        note = f"picked another text for scene {candidate.scene_id}"
    else:
        raise UsageError(f"candidate {candidate.id!r} is neither a picture nor a text with lines")
    return history.save(story_dir, edited, base, note)
