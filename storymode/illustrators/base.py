"""The illustrator interface: illustrate(request) -> Illustration (fallback.py holds the storybook fallback the
model illustrators share)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..backend import Backend
from ..errors import BackendError
from ..story import Brief, Character

if TYPE_CHECKING:
    import httpx
    from PIL import Image


@dataclass(frozen=True)
class IllustrationRequest:
    """Everything that determines one scene's picture."""

    brief: Brief
    cast: tuple[Character, ...]  # the whole cast, in story order (for stable per-character looks)
    scene_text: str
    scene_index: int
    scene_count: int
    style: str
    seed: int  # the story's seed; the backend derives per-scene and per-character seeds from it
    width: int
    height: int
    # 0: the scene's default picture; another number: another drawing of the same brief (a different scene seed
    # or layout), never another look for the characters, whose looks come from the story's seed
    variant: int = 0

    def in_picture(self) -> tuple[Character, ...]:
        """The cast members the brief puts in the picture."""
        wanted = set(self.brief.characters)
        return tuple(c for c in self.cast if c.id in wanted)


@dataclass(frozen=True)
class Illustration:
    """A picture and a record of what was drawn (setting, sprites, words that could not be drawn)."""

    image: "Image.Image"
    drawn: dict = field(default_factory=dict)


class Illustrator(Backend):
    """Draws one picture per scene."""

    stage = "illustrator"

    def illustrate(self, request: IllustrationRequest) -> Illustration:
        """The picture for one scene."""
        raise NotImplementedError

    def illustrate_each(self, requests: Sequence[IllustrationRequest]) -> Iterator[Illustration]:
        """The pictures for several scenes, yielded in their order as each is ready. One at a time here; a backend
        that calls a server overrides it to keep several requests in flight."""
        for request in requests:
            yield self.illustrate(request)


def read_capped(reply: "httpx.Response", limit: int, too_big: str) -> bytes:
    """A streamed reply's body, refused with the BackendError too_big as soon as it passes limit bytes (a server
    cannot fill the memory with a picture that never ends)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in reply.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise BackendError(too_big)
        chunks.append(chunk)
    return b"".join(chunks)
