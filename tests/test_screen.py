"""The text screens' interface (storymode.safety): audiences, verdicts (masked hints, the message a user reads, the
rule a writer is told, the record story.json keeps), combining screens, finding screens (built-in, a plugin through
the storymode.screens entry points, a broken plugin, unknown names, bad options), and the moderation screen against
a real moderation server on 127.0.0.1 (tests/servers/moderation_server.py)."""
from __future__ import annotations

import codecs
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import pytest

from storymode.backend import BackendOptions
from storymode.errors import BackendError, UsageError
from storymode.safety import (CATEGORIES, Finding, Screen, Verdict, audience_of, available_screens, combine,
                              make_screen, mask, screen_text)
from storymode.safety.offline import OfflineScreen, find
from storymode.safety.topics import tokenize

MODERATION_SERVER = Path(__file__).parent / "servers" / "moderation_server.py"
KEY = "sk-test-SECRET-1234567890"
KEY_ENV = "STORYMODE_MODERATION_TEST_KEY"
OFFENSIVE = [codecs.decode(w, "rot13") for w in ("avttre", "snttbg", "shpx", "phag", "fuvg", "pbpnvar", "urebva")]


# ---------------------------------------------------------------- audiences
@pytest.mark.parametrize("value, audience", [
    ("kids", "kids"), ("Kid", "kids"), ("children", "kids"), ("child", "kids"), ("family", "kids"),
    ("all ages", "kids"), (" All  Ages ", "kids"), ("teen", "teens"), ("Teens", "teens"), ("young adult", "teens"),
    ("young adults", "teens"), ("YA", "teens"), ("adult", "adults"), ("adults", "adults"), ("grown-ups", "adults"),
    ("mature", "adults"), ("everyone else", "kids"), ("", "kids"), ("toddlers", "kids"),
])
def test_audience_of_aliases(value: str, audience: str) -> None:
    assert audience_of(value) == audience


# ---------------------------------------------------------------- masking
@pytest.mark.parametrize("word, masked", [("kill", "k**l"), ("bloody", "b****y"), ("gun", "g*n"), ("ox", "o*"),
                                          ("a", "a"), ("kill myself", "k**l m****f")])
def test_mask(word: str, masked: str) -> None:
    assert mask(word) == masked


def _words(text: str) -> set[str]:
    return {t.text for t in tokenize(text) if not t.stop and len(t.text) >= 3}


@pytest.mark.parametrize("text", [
    f"You {OFFENSIVE[0]}, you {OFFENSIVE[1]}!",
    f"'{OFFENSIVE[2].capitalize()} this,' he said, '{OFFENSIVE[3]}, {OFFENSIVE[4]}.'",
    f"They snorted {OFFENSIVE[5]} and injected {OFFENSIVE[6]}.",
    "He decided to kill himself. How to kill yourself quickly.",
    "We must exterminate all the Jews. They are vermin.",
])
@pytest.mark.parametrize("audience", ["kids", "teens", "adults"])
def test_no_full_offending_word_is_shown(text: str, audience: str) -> None:
    """Hints, the message, the rule and the record never show a flagged word whole."""
    verdict = OfflineScreen().check(text, audience)
    findings = [*verdict.blocked, *verdict.allowed]
    assert findings
    flagged = {w for w in _words(text) if w.lower() in {o.lower() for o in OFFENSIVE} | {"kill", "himself",
                                                                                          "yourself", "exterminate",
                                                                                          "vermin"}}
    shown = " ".join([verdict.message("the prompt"), verdict.rule(), json.dumps(verdict.record()),
                      *(f.hint for f in findings)]).lower()
    for word in flagged:
        assert word not in _words(shown), (word, shown)
    for finding in findings:
        for part in finding.hint.replace("…", "").split():
            assert len(part) < 3 or "*" in part, finding


# ---------------------------------------------------------------- verdicts
def _verdict(audience: str, *findings: tuple[str, str, str]) -> Verdict:
    return Verdict.judge(audience, [Finding(c, level, hint, "test") for c, level, hint in findings], ["test"])


def test_message_names_categories_audience_and_suggests_one() -> None:
    verdict = _verdict("kids", ("violence", "moderate", "k**l"), ("drugs", "moderate", "b**r"))
    assert verdict.message("the prompt") == ("the prompt has violence (k**l) and drugs (b**r), which are not for "
                                             "kids: change those words, or choose --audience teens (or adults)")
    strong = _verdict("teens", ("violence", "strong", "m****r"), ("violence", "mild", "f***t"))
    assert strong.message("scene 3") == ("scene 3 has violence (m****r), which is not for teens: change those words, "
                                         "or choose --audience adults")
    never = _verdict("adults", ("hate", "never", "s**r"))
    assert never.message("the text") == ("the text has hate (s**r), which storymode makes for no audience: "
                                         "change those words")
    assert "--audience" not in never.message("the text")
    mixed = _verdict("kids", ("hate", "never", "s**r"), ("drugs", "strong", "c*****e"))
    assert mixed.message("the text") == ("the text has drugs (c*****e) and hate (s**r), which are not for kids, and "
                                         "hate is for no audience: change those words")
    assert _verdict("kids", ("violence", "mild", "f***t")).message("the prompt") == "the prompt is fine for kids"


def test_verdict_sorts_findings_by_audience() -> None:
    findings = (("violence", "mild", "f***t"), ("violence", "moderate", "k**l"), ("drugs", "strong", "c*****e"),
                ("hate", "never", "s**r"))
    blocked = {a: [f.level for f in _verdict(a, *findings).blocked] for a in ("kids", "teens", "adults")}
    assert blocked == {"kids": ["moderate", "strong", "never"], "teens": ["strong", "never"], "adults": ["never"]}
    assert not _verdict("adults", *findings).ok and _verdict("adults", *findings[:3]).ok


def test_rule_and_record() -> None:
    verdict = _verdict("kids", ("violence", "moderate", "k**l"), ("drugs", "moderate", "b**r"),
                       ("sexual", "mild", "k**s"))
    rule = verdict.rule()
    assert rule.startswith("This story is for kids: no killing")
    assert rule.endswith("Rewrite without violence and drugs.")
    assert "alcohol" in rule and "romance" not in rule
    record = verdict.record()
    assert json.loads(json.dumps(record)) == {"audience": "kids", "screens": ["test"], "allowed": ["sexual"],
                                              "blocked": ["violence", "drugs"]}
    whole = _verdict("teens").rule()
    assert whole.startswith("This story is for teens:") and all(w in whole for w in ("murder", "drug use", "slurs"))


def test_findings_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        Finding("weather", "mild", "s***m", "test")
    with pytest.raises(ValueError, match="unknown level"):
        Finding("violence", "spicy", "k**l", "test")
    assert CATEGORIES == ("violence", "sexual", "self-harm", "drugs", "hate", "profanity")


def test_combine() -> None:
    one = _verdict("teens", ("violence", "moderate", "k**l"))
    two = Verdict.judge("teens", [Finding("drugs", "strong", "c*****e", "other"),
                                  Finding("violence", "moderate", "k**l", "test")], ["other"])
    both = combine([one, two])
    assert both.screens == ("test", "other")
    assert [f.category for f in both.blocked] == ["drugs"]
    assert [f.hint for f in both.allowed] == ["k**l"]  # the same finding twice is kept once
    with pytest.raises(ValueError, match="different audiences"):
        combine([one, _verdict("kids")])
    with pytest.raises(ValueError):
        combine([])


def test_screen_text_runs_every_screen() -> None:
    offline = make_screen("offline")
    verdict = screen_text("The knight killed the dragon.", "Young Adults", [offline])
    assert verdict.audience == "teens" and verdict.ok and verdict.screens == ("offline",)
    assert not screen_text("The knight killed the dragon.", "family", [offline]).ok
    empty = screen_text("anything", "adults", [])
    assert empty.ok and empty.screens == ()


@pytest.mark.parametrize("text, category, level", [
    ("what the f.u.c.k", "profanity", "strong"),
    ("this is f*cking great", "profanity", "strong"),
    ("fuuuuck", "profanity", "strong"),
    ("a load of sh1t", "profanity", "moderate"),
    ("the killer whale", None, None),
    ("a killer in the woods", "violence", "moderate"),
    ("she killed time", None, None),
    ("they killed the guard", "violence", "moderate"),
    ("the soldiers killed the children", "violence", "strong"),
    ("he wanted to kill himself", "self-harm", "strong"),
    ("how to kill myself", "self-harm", "never"),
    ("a kiss goodnight", "sexual", "mild"),
    ("a steamy scene with a 15-year-old", "sexual", "never"),
    ("a steamy scene for teens", "sexual", "moderate"),
    ("Dick ran up the hill", None, None),
])
def test_offline_reads_words_in_context(text: str, category: str | None, level: str | None) -> None:
    found = {(f.category, f.level) for f in find(text)} - {("violence", "mild")}
    assert found == ({(category, level)} if category else set())


# ---------------------------------------------------------------- finding screens
class WordlistScreen(Screen):
    """A third party's screen: refuses its words as strong profanity."""

    name: ClassVar[str] = "wordlist"

    class Options(BackendOptions):
        words: tuple[str, ...] = ("broccoli",)

    def check(self, text: str, audience: str) -> Verdict:
        """Its words, found as strong profanity."""
        found = [Finding("profanity", "strong", mask(w), self.name) for w in self.options.words if w in text.lower()]
        return Verdict.judge(audience_of(audience), found, [self.name])


class NotAScreen:
    """Registered by mistake."""


def _entry_points(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    """Make importlib.metadata list these storymode.screens entry points (name=module:attr)."""
    found = [metadata.EntryPoint(name=name, value=value, group="storymode.screens") for name, value in targets.items()]
    real = metadata.entry_points

    def fake(**params: str) -> object:
        return found if params.get("group") == "storymode.screens" else real(**params)

    monkeypatch.setattr(metadata, "entry_points", fake)


def test_a_plugin_screen_registered_through_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, wordlist=f"{__name__}:WordlistScreen", offline=f"{__name__}:NotAScreen")
    screens = available_screens()
    assert screens["wordlist"] is WordlistScreen
    assert screens["offline"] is OfflineScreen  # a plugin cannot take a built-in's name
    plugin = make_screen("wordlist", {"words": ["sprouts"]})
    verdict = screen_text("The knight killed the sprouts.", "teens", [make_screen("offline"), plugin])
    assert verdict.screens == ("offline", "wordlist")
    assert [(f.category, f.hint, f.screen) for f in verdict.blocked] == [("profanity", "s*****s", "wordlist")]
    assert verdict.message("the prompt").endswith("or choose --audience adults")


def test_a_broken_plugin_is_named_and_breaks_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, broken="storymode_no_such_plugin:Screen", wrong=f"{__name__}:NotAScreen")
    with pytest.raises(UsageError, match=r"screen plugin 'broken' \(storymode_no_such_plugin:Screen\) could not be "
                                         r"loaded: ModuleNotFoundError"):
        available_screens()
    with pytest.raises(UsageError, match=r"screen plugin 'wrong' .* is not a subclass"):
        make_screen("wrong")
    assert make_screen("offline").check("a fox", "kids").ok


def test_unknown_screen_lists_what_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, wordlist=f"{__name__}:WordlistScreen")
    with pytest.raises(UsageError, match=r"unknown screen 'nope'; choose one of: moderation, offline, wordlist"):
        make_screen("nope")


def test_bad_options_say_what_was_wrong() -> None:
    with pytest.raises(UsageError, match=r"'strict' is not an option of the screen 'offline'"):
        make_screen("offline", {"strict": True})
    with pytest.raises(UsageError, match=r"thresholds must rise"):
        make_screen("moderation", {"mild_at": 0.9, "strong_at": 0.5})
    with pytest.raises(UsageError, match=r"timeout"):
        make_screen("moderation", {"timeout": -1})


def test_importing_the_package_loads_no_screen_and_no_torch() -> None:
    code = ("import sys, storymode.safety as s; s.make_screen('offline'); "
            "print(sorted(m for m in ('torch', 'better_profanity', 'openai', 'storymode.safety.pictures', "
            "'storymode.safety.moderation') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------- the moderation screen, against a real server
@pytest.fixture(scope="module")
def moderation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The moderation test server on a free loopback port, requiring KEY; yields its /v1 URL and request log."""
    log = tmp_path_factory.mktemp("moderation") / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(MODERATION_SERVER), "--key", KEY, "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the server prints READY <port> once it listens
        assert line.startswith("READY"), proc.stderr.read()
        yield {"url": f"http://127.0.0.1:{int(line.split()[1])}/v1", "log": log}
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def _moderation(url: str, **options: object) -> Screen:
    return make_screen("moderation", {"base_url": url, "api_key_env": KEY_ENV, "max_retries": 0, **options})


@pytest.mark.parametrize("text, kids, teens, adults, blocked", [
    ("A shy fox learns to fly.", True, True, True, []),
    ("A knight and a dragon.", True, True, True, []),
    ("The knight killed the troll.", False, True, True, ["violence"]),
    ("A murder in the library, with gore.", False, False, True, ["violence"]),
    ("They had sex.", False, False, True, ["sexual"]),
    ("How to commit suicide.", False, False, False, ["self-harm"]),
    ("They are vermin.", False, False, False, ["hate"]),
])
def test_moderation_scores_become_levels(moderation: dict, key: str, text: str, kids: bool, teens: bool,
                                         adults: bool, blocked: list[str]) -> None:
    screen = _moderation(moderation["url"])
    verdicts = {a: screen.check(text, a) for a in ("kids", "teens", "adults")}
    assert [verdicts[a].ok for a in ("kids", "teens", "adults")] == [kids, teens, adults]
    assert verdicts["kids"].blocked_categories() == blocked
    assert verdicts["kids"].screens == ("moderation",)
    sent = json.loads(moderation["log"].read_text().splitlines()[-1])
    assert sent["path"] == "/v1/moderations" and sent["body"]["model"] == "omni-moderation-latest"
    assert sent["body"]["input"] == [text]


def test_moderation_finding_shows_the_api_category_and_score(moderation: dict, key: str) -> None:
    verdict = _moderation(moderation["url"]).check("The knight killed the troll.", "kids")
    assert [(f.category, f.level, f.hint, f.screen) for f in verdict.blocked] == [
        ("violence", "moderate", "violence 0.65", "moderation")]
    assert "violence (violence 0.65)" in verdict.message("the prompt")


def test_moderation_thresholds_are_options(moderation: dict, key: str) -> None:
    strict = _moderation(moderation["url"], mild_at=0.1, moderate_at=0.3, strong_at=0.6)
    assert [f.level for f in strict.check("A knight and a dragon.", "kids").blocked] == ["moderate"]


def test_moderation_long_text_is_sent_in_pieces_in_one_request(moderation: dict, key: str) -> None:
    text = ("A fox walks in the wood. " * 400) + "The knight killed the troll."
    verdict = _moderation(moderation["url"]).check(text, "kids")
    assert verdict.blocked_categories() == ["violence"]
    sent = json.loads(moderation["log"].read_text().splitlines()[-1])["body"]["input"]
    assert len(sent) == 2 and " ".join(sent).split() == text.split()


def test_moderation_wrong_key_is_a_backend_error_without_the_key(moderation: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong-KEY-0987654321")
    with pytest.raises(BackendError) as err:
        _moderation(moderation["url"]).check("A fox.", "kids")
    message = str(err.value)
    assert "HTTP 401" in message and KEY_ENV in message
    assert "sk-wrong-KEY-0987654321" not in message and KEY not in message


@pytest.mark.parametrize("model, shown", [("always500", "HTTP 500"), ("empty", "without results"),
                                          ("html", "without results")])
def test_moderation_bad_replies(moderation: dict, key: str, model: str, shown: str) -> None:
    with pytest.raises(BackendError, match=shown) as err:
        _moderation(moderation["url"], model=model).check("A fox.", "kids")
    assert KEY not in str(err.value)


def test_moderation_server_down(key: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once the socket closes
    with pytest.raises(BackendError, match=r"nothing answered at http://127.0.0.1:\d+/v1"):
        _moderation(f"http://127.0.0.1:{port}/v1").check("A fox.", "kids")


def test_moderation_fingerprint_holds_no_secret(moderation: dict, key: str) -> None:
    screen = _moderation(moderation["url"].replace("http://", "http://user:pw@"))
    shown = json.dumps(screen.fingerprint())
    assert "pw" not in shown and KEY_ENV not in shown and KEY not in shown
    assert '"model": "omni-moderation-latest"' in shown
