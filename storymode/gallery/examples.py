"""Example files: examples/*.toml read and checked (an example is data: its paths stay in its folder)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ..errors import UsageError


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


EXAMPLE_KEYS = ("title", "prompt", "text", "story")


@dataclass
class Example:
    """One validated example file."""

    name: str
    path: Path
    title: str | None
    prompt: str | None
    text: Path | None
    story: Path | None
    settings: dict[str, Any]


# ---------------------------------------------------------------- reading examples
@functools.lru_cache(maxsize=1)
def _example_model() -> Any:
    from pydantic import ConfigDict, Field

    from ..config import Settings

    class ExampleFile(Settings):
        """An example: the request (title, prompt | text | story) plus any Settings field."""

        model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

        title: str | None = Field(None, min_length=1, max_length=200)
        prompt: str | None = Field(None, min_length=1, max_length=100_000)
        text: str | None = Field(None, min_length=1, max_length=1000)
        story: str | None = Field(None, min_length=1, max_length=1000)

    return ExampleFile


EXAMPLE_HINT = "an example file cannot do that; pass --trust-config if you trust this example"


def _beside(example: Path, value: str, key: str, trusted: bool) -> Path:
    """The file an example names (relative to the example); one outside the example's folder needs trust."""
    from ..config import as_toml, leaves_folder, refuse

    if not trusted and leaves_folder(value, example.parent):
        raise refuse(str(example), f"{key} = {as_toml(value)}", f"names a file outside the example's folder "
                     f"({example.parent})", EXAMPLE_HINT)
    path = (example.parent / value).expanduser()
    if not path.is_file():
        raise UsageError(f"{example}: {key} = {value!r}: no such file ({path})")
    return path.resolve()


def load_example(path: Path, *, trusted: bool = False) -> Example:
    """Read and validate one example file; UsageError names the file and the key at fault.

    An example is data (SECURITY.md): unless trusted (--trust-config), it may not name files outside its folder,
    turn on trust_remote_code or send an API key to its own base_url.
    """
    from pydantic import ValidationError

    from ..config import check_untrusted, load_toml, trusted_now
    from ..errors import describe_error, error_location

    path = Path(path)
    name = path.stem
    if not NAME.match(name):
        raise UsageError(f"{path}: the file name {name!r} cannot name a story; use letters, digits, '.', '_' or '-'")
    data = load_toml(path)
    model = _example_model()
    try:
        parsed = model.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = error_location(e) or "(file)"
            if e["type"] == "extra_forbidden":
                from ..config import Settings

                problems.append(f"unknown key {where!r}; keys are {', '.join(EXAMPLE_KEYS)} and the settings "
                                f"{', '.join(sorted(Settings.model_fields))}")
            else:
                problems.append(describe_error(e))
        raise UsageError(f"{path}: " + "; ".join(problems)) from None
    trusted = trusted or trusted_now()
    if not trusted:
        check_untrusted(data, str(path), path.parent, parsed, hint=EXAMPLE_HINT)
    if parsed.text and (parsed.prompt or parsed.story):
        raise UsageError(f"{path}: give `text` alone (the text is the story), not with `prompt` or `story`")
    if not (parsed.prompt or parsed.text or parsed.story):
        raise UsageError(f"{path}: say what the story is: a `prompt`, a `text` file or a `story` file")
    settings = {k: v for k, v in data.items() if k not in EXAMPLE_KEYS}
    if parsed.music:
        settings["music"] = str(_beside(path, parsed.music, "music", trusted))
    return Example(name=name, path=path, title=parsed.title, prompt=parsed.prompt,
                   text=_beside(path, parsed.text, "text", trusted) if parsed.text else None,
                   story=_beside(path, parsed.story, "story", trusted) if parsed.story else None, settings=settings)


def find_examples(examples_dir: Path) -> list[Path]:
    """The example files of a folder (*.toml), by name."""
    examples_dir = Path(examples_dir)
    if not examples_dir.is_dir():
        raise UsageError(f"{examples_dir}: no such folder")
    files = sorted(p for p in examples_dir.glob("*.toml") if p.is_file())
    if not files:
        raise UsageError(f"{examples_dir} has no example files (*.toml)")
    return files
