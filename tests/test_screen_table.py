"""The offline text screen against the table a careful parent or editor wrote (tests/data/screen_table.toml): one
case per row and audience, and the precision and recall of "refuse" per audience, reported.

The holdout (tests/data/screen_holdout.toml) was written after the screen was tuned and is not asserted row by row
here: benchmarks/screening.py reports it. Its expectations are only checked to be well formed."""
from __future__ import annotations

import codecs
import re
import tomllib
from pathlib import Path

import pytest

from storymode.safety.offline import OfflineScreen

DATA = Path(__file__).resolve().parent / "data"
AUDIENCES = ("kids", "teens", "adults")
ROT13 = re.compile(r"\{rot13:([^}]*)\}")


def load_rows(name: str) -> list[dict]:
    """The rows of a table, each text with its {rot13:...} words decoded."""
    rows = tomllib.loads((DATA / name).read_text(encoding="utf-8"))["row"]
    for row in rows:
        row["text"] = ROT13.sub(lambda m: codecs.decode(m.group(1), "rot13"), row["text"])
    return rows


TABLE = load_rows("screen_table.toml")
SCREEN = OfflineScreen()


def outcome(text: str, audience: str) -> str:
    """'allow' or 'refuse', as the offline screen decides."""
    return "allow" if SCREEN.check(text, audience).ok else "refuse"


@pytest.mark.parametrize("name", ["screen_table.toml", "screen_holdout.toml"])
def test_tables_are_well_formed(name: str) -> None:
    rows = load_rows(name)
    assert len(rows) >= (75 if name == "screen_table.toml" else 30)
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"id", "text", *AUDIENCES}, row["id"]
        expected = [row[a] for a in AUDIENCES]
        assert set(expected) <= {"allow", "refuse"}, row["id"]
        # what is refused for a looser audience is refused for a stricter one
        assert expected == sorted(expected, key=lambda e: e == "allow"), row["id"]
        assert "{rot13:" not in row["text"]


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("row", TABLE, ids=[r["id"] for r in TABLE])
def test_row(row: dict, audience: str) -> None:
    verdict = SCREEN.check(row["text"], audience)
    got = "allow" if verdict.ok else "refuse"
    assert got == row[audience], verdict.message("the text")


def precision_recall(rows: list[dict], audience: str) -> tuple[float, float, list[str], list[str]]:
    """Precision and recall of 'refuse' (the positive class) for one audience, and the rows refused wrongly
    (false refusals) and allowed wrongly (misses)."""
    false_refusals, misses, hits = [], [], 0
    for row in rows:
        got, want = outcome(row["text"], audience), row[audience]
        hits += got == want == "refuse"
        if got == "refuse" and want == "allow":
            false_refusals.append(row["id"])
        if got == "allow" and want == "refuse":
            misses.append(row["id"])
    precision = hits / (hits + len(false_refusals)) if hits + len(false_refusals) else 1.0
    recall = hits / (hits + len(misses)) if hits + len(misses) else 1.0
    return precision, recall, false_refusals, misses


def test_precision_and_recall_reported(capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    for audience in AUDIENCES:
        precision, recall, false_refusals, misses = precision_recall(TABLE, audience)
        lines.append(f"{audience:6} precision {precision:.3f} recall {recall:.3f} "
                     f"false refusals {false_refusals} misses {misses}")
    with capsys.disabled():
        print("\nscreen table (refuse = positive):\n  " + "\n  ".join(lines))
    # every row is asserted above; what must never slip is a row refused even for adults (slurs, calls to hate,
    # sexual content with children, self-harm instructions): it is refused for every audience
    never = [r for r in TABLE if r["adults"] == "refuse"]
    assert never and all(outcome(r["text"], a) == "refuse" for r in never for a in AUDIENCES)
