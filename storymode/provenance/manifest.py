"""What a picture or a video says about where it came from, as a C2PA manifest definition (the dict c2pa's
Builder takes): who made it, whether AI made it (the IPTC digital source type), with which models, what was
edited after, and what the user gave of their own."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .. import __version__

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# the IPTC digital source types storymode's media can be, by their short key
SOURCE_TYPES: dict[str, str] = {key: IPTC + key for key in (
    "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic", "algorithmicMedia",
    "digitalCapture", "digitalArt", "humanEdits", "algorithmicallyEnhanced", "compositeCapture", "composite",
)}
# each source type in words, for people (`storymode verify`)
SOURCE_WORDS: dict[str, str] = {
    "trainedAlgorithmicMedia": "made by a generative AI model",
    "compositeWithTrainedAlgorithmicMedia": "combines AI-generated parts with other media",
    "compositeSynthetic": "a composite of computer-made parts",
    "algorithmicMedia": "drawn by a program, without an AI model trained on data",
    "digitalCapture": "recorded or captured by a person's device",
    "digitalArt": "made by a person with digital tools",
    "humanEdits": "edited by a person",
    "algorithmicallyEnhanced": "enhanced by a program",
    "compositeCapture": "a composite of recordings",
    "composite": "a composite of several media",
}
INPUTS_LABEL = "org.storymode.inputs"  # our own assertion: tools, models and the user's own inputs
MODELS_PARAMETER = "org.storymode.models"  # the models, also named on the c2pa.created action


@dataclass(frozen=True)
class Provenance:
    """Where one picture or video came from."""

    title: str
    kind: Literal["picture", "video"]
    source_type: str  # a SOURCE_TYPES key
    tools: tuple[str, ...]  # e.g. ("storymode 0.9.0", "storybook illustrator 3"); the last one made it
    models: tuple[str, ...]  # model names, e.g. ("stabilityai/sd-turbo",); empty for procedural media
    edited: tuple[str, ...] = ()  # edits after creation, e.g. ("captions burned in",)
    human_inputs: tuple[str, ...] = ()  # e.g. ("the user's own text",)


def build_manifest(p: Provenance) -> dict:
    """The C2PA manifest definition for p: claim generator, title, c2pa.actions.v2, and our inputs assertion."""
    if p.source_type not in SOURCE_TYPES:
        raise ValueError(f"unknown source type {p.source_type!r}: one of {', '.join(SOURCE_TYPES)}")
    if p.kind not in ("picture", "video"):
        raise ValueError(f"unknown kind {p.kind!r}: picture or video")
    storymode = {"name": "storymode", "version": __version__}
    created = {"action": "c2pa.created", "digitalSourceType": SOURCE_TYPES[p.source_type],
               "softwareAgent": software_agent(p.tools[-1]) if p.tools else storymode}
    if p.models:
        created["parameters"] = {MODELS_PARAMETER: list(p.models)}
    edits = [{"action": "c2pa.edited", "description": edit, "softwareAgent": storymode} for edit in p.edited]
    inputs = {"kind": p.kind, "tools": list(p.tools), "models": list(p.models), "human_inputs": list(p.human_inputs)}
    return {
        "claim_generator_info": [storymode],
        "title": p.title,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [created, *edits]}},
            {"label": INPUTS_LABEL, "data": inputs},
        ],
    }


def software_agent(tool: str) -> dict:
    """A tool string as C2PA's generator info: "storybook illustrator 3" -> name + version (when it ends in one)."""
    match = re.fullmatch(r"(.+?)\s+(v?\d[\w.+-]*)", tool.strip())
    if match:
        return {"name": match.group(1), "version": match.group(2)}
    return {"name": tool.strip() or "unknown tool"}


def source_key(uri: str | None) -> str | None:
    """The short key of an IPTC digital source type URI (its last path part when it is not one we list)."""
    if not uri:
        return None
    for key, known in SOURCE_TYPES.items():
        if uri == known:
            return key
    return uri.rstrip("/").rsplit("/", 1)[-1]
