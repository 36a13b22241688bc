"""The user's prompt and text file, cleaned and checked before any work."""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..story import clean_text


MAX_PROMPT = 100_000


MAX_TEXT_BYTES = 2_000_000


def clean_prompt(prompt: str) -> str:
    """The prompt without control characters; errors for empty or overlong prompts."""
    if not isinstance(prompt, str):
        raise UsageError("the prompt must be text")
    if len(prompt) > MAX_PROMPT:
        raise UsageError(f"the prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT:,}. "
                         "Shorten it, or pass a long text with --from FILE")
    cleaned = clean_text(prompt)
    if not cleaned:
        raise UsageError("the prompt is empty; say what the story is about, e.g. \"a shy fox who learns to fly\"")
    return cleaned


def read_user_text(path: str | Path) -> str:
    """The user's own story text from a .txt or .md file; clear errors for missing, binary or empty files."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--from {path}: no such file")
    data = path.read_bytes()
    if len(data) > MAX_TEXT_BYTES:
        raise UsageError(f"--from {path}: the file is {len(data):,} bytes; the limit is {MAX_TEXT_BYTES:,}")
    if b"\x00" in data:
        raise UsageError(f"--from {path}: this looks like a binary file; give a plain text (.txt or .md) file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"--from {path}: the file is not UTF-8 text; save it as UTF-8 and try again") from None
    text = clean_text(text)
    if not text:
        raise UsageError(f"--from {path}: the file is empty")
    return text
