"""The ``moderation`` text screen: an OpenAI-compatible ``POST /v1/moderations`` (OpenAI's own, or a local server
that speaks it) through the official SDK (storymode.openai_api). Each of its categories' scores becomes one of our
categories at a level, by three thresholds:

    OpenAI category           ours        at mild_at   moderate_at   strong_at
    sexual                    sexual      mild         moderate      strong
    sexual/minors             sexual      strong       never         never
    hate                      hate        mild         strong        never
    hate/threatening          hate        strong       never         never
    harassment                hate        mild         moderate      strong
    harassment/threatening    violence    mild         moderate      strong
    self-harm, self-harm/intent self-harm moderate     strong        strong
    self-harm/instructions    self-harm   strong       never         never
    violence                  violence    mild         moderate      strong
    violence/graphic          violence    moderate     strong        strong
    illicit                   drugs       mild         moderate      strong
    illicit/violent           violence    moderate     strong        strong

A finding's hint is the API's category and score ("violence/graphic 0.91"): the API does not say which words."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from ..errors import BackendError
from ..openai_api import EndpointOptions, explain, make_client, public_options
from .audience import AUDIENCES, Audience, audience_of
from .screen import Screen
from .verdict import Finding, Verdict

SCREEN = "moderation"
CHUNK_CHARS = 8000  # a long text is sent as several inputs of about this size, in one request

# OpenAI category -> (our category, level at mild_at, at moderate_at, at strong_at)
MAPPING: dict[str, tuple[str, str, str, str]] = {
    "sexual": ("sexual", "mild", "moderate", "strong"),
    "sexual/minors": ("sexual", "strong", "never", "never"),
    "hate": ("hate", "mild", "strong", "never"),
    "hate/threatening": ("hate", "strong", "never", "never"),
    "harassment": ("hate", "mild", "moderate", "strong"),
    "harassment/threatening": ("violence", "mild", "moderate", "strong"),
    "self-harm": ("self-harm", "moderate", "strong", "strong"),
    "self-harm/intent": ("self-harm", "moderate", "strong", "strong"),
    "self-harm/instructions": ("self-harm", "strong", "never", "never"),
    "violence": ("violence", "mild", "moderate", "strong"),
    "violence/graphic": ("violence", "moderate", "strong", "strong"),
    "illicit": ("drugs", "mild", "moderate", "strong"),
    "illicit/violent": ("violence", "moderate", "strong", "strong"),
}


class ModerationOptions(EndpointOptions):
    """Where the moderation API is, which model, and the score thresholds of the levels."""

    model: str = Field("omni-moderation-latest", min_length=1, max_length=200, description="the moderation model")
    timeout: float = Field(30.0, gt=0, description="seconds to wait for one reply")
    mild_at: float = Field(0.3, gt=0, le=1, description="a category score from which it is found, mildly")
    moderate_at: float = Field(0.5, gt=0, le=1, description="the score from which it is found at the middle level")
    strong_at: float = Field(0.8, gt=0, le=1, description="the score from which it is found at the top level")

    @model_validator(mode="after")
    def _ordered(self) -> ModerationOptions:
        if not self.mild_at <= self.moderate_at <= self.strong_at:
            raise ValueError(f"the thresholds must rise: mild_at ({self.mild_at:g}) <= moderate_at "
                             f"({self.moderate_at:g}) <= strong_at ({self.strong_at:g})")
        return self


class ModerationScreen(Screen):
    """A text screened by an OpenAI-compatible moderation API; its scores mapped to our categories and levels."""

    name: ClassVar[str] = SCREEN
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "an OpenAI-compatible /v1/moderations API (OpenAI's, or a local server)"
    Options: ClassVar[type[ModerationOptions]] = ModerationOptions
    requires: ClassVar[tuple[str, ...]] = ("openai",)
    options: ModerationOptions

    def __init__(self, options: ModerationOptions | None = None) -> None:
        super().__init__(options)
        self._client: Any = None

    def fingerprint(self) -> dict:
        """The screen and its options, without the key's variable or transport settings."""
        return {"backend": f"{self.stage}.{self.name}", "version": self.version,
                "options": public_options(self.options)}

    def check(self, text: str, audience: Audience) -> Verdict:
        """The verdict on text for the audience, from the API's category scores."""
        judged_for = audience if audience in AUDIENCES else audience_of(audience)
        chunks = _chunks(text)
        scores = self._scores(chunks) if chunks else {}
        return Verdict.judge(judged_for, findings_for(scores, self.options), (self.name,))

    def _scores(self, chunks: list[str]) -> dict[str, float]:
        """The highest score of each API category over the chunks."""
        import openai

        if self._client is None:
            self._client = make_client(self.options)
        try:
            reply = self._client.moderations.create(model=self.options.model, input=chunks)
        except openai.OpenAIError as err:
            raise explain(err, self.options, "the moderation screen", self.options.model) from None
        results = getattr(reply, "results", None)
        if not results:
            raise BackendError(f"the moderation screen: the server at {public_options(self.options)['base_url']} "
                               "answered without results; is it an OpenAI-compatible /v1/moderations?")
        best: dict[str, float] = {}
        for result in results:
            for category, score in _category_scores(result).items():
                best[category] = max(best.get(category, 0.0), score)
        return best


def _category_scores(result: Any) -> dict[str, float]:
    """A result's scores by the API's category names (numbers only)."""
    raw = result.category_scores
    scores = raw.model_dump(by_alias=True) if hasattr(raw, "model_dump") else dict(raw or {})
    return {str(k): float(v) for k, v in scores.items() if isinstance(v, int | float)}


def findings_for(scores: dict[str, float], options: ModerationOptions) -> list[Finding]:
    """The findings that category scores make, by the thresholds in options."""
    found = []
    for api_category, score in sorted(scores.items()):
        mapped = MAPPING.get(api_category)
        level = _level(score, mapped, options) if mapped else None
        if mapped and level:
            found.append(Finding(mapped[0], level, f"{api_category} {score:.2f}", SCREEN))
    return found


def _level(score: float, mapped: tuple[str, str, str, str], options: ModerationOptions) -> str | None:
    _, at_mild, at_moderate, at_strong = mapped
    if score >= options.strong_at:
        return at_strong
    if score >= options.moderate_at:
        return at_moderate
    if score >= options.mild_at:
        return at_mild
    return None


def _chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """text in pieces of at most about size characters, cut between paragraphs or words."""
    text = text.strip()
    chunks: list[str] = []
    while text:
        if len(text) <= size:
            chunks.append(text)
            break
        cut = max(text.rfind("\n", 0, size), text.rfind(" ", 0, size))
        cut = cut if cut > size // 2 else size
        chunks.append(text[:cut].strip())
        text = text[cut:].strip()
    return chunks
