"""Fidelity: does the story (and every picture) show what was asked? Hand-written cases, pass or fail each.

    python benchmarks/fidelity.py [--cases benchmarks/fidelity_cases.json] [--no-pictures] [--verbose]

Prompts (the offline planner writes 6 scenes; the storybook illustrator draws each at 320x180):
  hero        the understood hero is one of the expected words (its noun or its picture kind)
  companion   the first companion is one of the expected words (or none is found when none is expected)
  place       the understood place and the first scene's setting are among the expected settings
  weather     when the prompt names weather: the request has it and every outdoor scene shows it
  time        when the prompt names a time of day: the request has it
  drawn       the hero is drawn (a sprite found for it) in at least two thirds of the pictures
A prompt passes "hero+companion+place" when those three hold.

Texts (segmented word for word by the planner writer's segment()):
  title       the story's title equals the expected one (when one is expected)
  characters  expected characters found (by one of their names) with one of the expected kinds
  quotes      every quoted span goes to the expected speaker (unattributed counts as wrong)
  verbatim    the lines, joined, hold exactly the text's words (quote marks aside)

Timing: milliseconds to read a prompt and a 2,000-word text once spaCy's pipeline is loaded.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def words_of(text: str) -> list[str]:
    """The words of a text without quote marks and Markdown heading marks."""
    text = re.sub(r"[“”\"#]", " ", text)
    return text.split()


def check_prompt(case: dict, writer, illustrator, pictures: bool) -> dict:  # type: ignore[no-untyped-def]
    from storymode.illustrators.base import IllustrationRequest
    from storymode.understanding.vocabulary import INDOOR_SETTINGS
    from storymode.writers.base import WriteRequest

    story = writer.write(WriteRequest(prompt=case["prompt"], scenes=6, seed=0))
    req = story.request
    hero_words = set()
    if req and req.hero:
        hero_words = set(req.hero.noun.lower().replace("'s", "").split()) | {req.hero.kind}
    comp_words = set()
    if req and req.companions:
        comp_words = set(req.companions[0].noun.lower().split()) | {req.companions[0].kind}
    out = {
        "hero": bool(hero_words & set(case["hero"])),
        "companion": bool(comp_words & set(case["companion"])) if case["companion"] else not comp_words,
        "place": bool(req and req.place in case["place"] and story.scenes[0].brief.setting in case["place"]),
    }
    if case.get("weather"):
        outdoor = [s for s in story.scenes if s.brief.setting not in INDOOR_SETTINGS | {"space", "moon"}]
        out["weather"] = bool(req and req.weather == case["weather"]) and all(
            s.brief.weather == case["weather"] for s in outdoor)
    if case.get("time"):
        out["time"] = bool(req and req.time_of_day == case["time"])
    out["core"] = out["hero"] and out["companion"] and out["place"]
    hero_id = story.characters[0].id
    if pictures:
        drawn = 0
        for i, scene in enumerate(story.scenes):
            ill = illustrator.illustrate(IllustrationRequest(
                brief=scene.brief, cast=tuple(story.characters), scene_text=scene.text, scene_index=i,
                scene_count=len(story.scenes), style="storybook", seed=0, width=320, height=180))
            chars = ill.drawn.get("characters", {})
            if hero_id in chars and story.characters[0].kind not in ill.drawn.get("undrawn", []):
                drawn += 1
        out["drawn"] = drawn >= len(story.scenes) * 2 / 3
        out["drawn_share"] = drawn / len(story.scenes)
    out["got"] = {"hero": req.hero.noun if req and req.hero else None,
                  "kind": req.hero.kind if req and req.hero else None,
                  "companion": req.companions[0].noun if req and req.companions else None,
                  "place": req.place if req else None, "weather": req.weather if req else None,
                  "scenes": [s.brief.setting for s in story.scenes]}
    return out


def check_text(case: dict, writer) -> dict:  # type: ignore[no-untyped-def]
    from storymode.story import NARRATOR, clean_text
    from storymode.understanding.text import read_text
    from storymode.understanding.vocabulary import kind_of
    from storymode.writers.base import WriteRequest
    from storymode.writers.segment import text_paragraphs

    story = writer.segment(case["text"], WriteRequest(prompt=case["name"].replace("_", " "), scenes=6))
    out: dict = {}
    out["title"] = case["title"] is None or story.title == case["title"]
    # characters: match by a shared name, then compare kinds
    def bare(name: str) -> str:
        """A name without its article or possessor: 'her father', "Maren's father" -> 'father'."""
        words = name.lower().replace("’", "'").split()
        while len(words) > 1 and (words[0] in ("the", "a", "an", "her", "his", "their", "its", "my")
                                  or words[0].endswith("'s")):
            words = words[1:]
        return " ".join(words)

    def names(c) -> set[str]:  # type: ignore[no-untyped-def]
        return {bare(n) for n in [c.name, *c.aliases]}

    mapping: dict[str, str] = {}
    matched: dict[str, object] = {}
    for by_name in (True, False):  # each story character stands for one expected character: names first
        for exp in case["characters"]:
            exp_names = {bare(n) for n in exp["names"]}
            if exp["id"] in matched:
                continue
            match = next((c for c in story.characters if c.id not in mapping and (
                {bare(c.name)} if by_name else names(c)) & exp_names), None)
            if match is not None:
                mapping[match.id] = exp["id"]
                matched[exp["id"]] = match
    found = 0
    for exp in case["characters"]:
        match = matched.get(exp["id"])
        if match is None:
            continue
        k = kind_of(match.kind)
        kinds = {match.kind, *(k.chain if k else ())}
        if kinds & set(exp["kind"]):
            found += 1
    out["characters"] = (found, len(case["characters"]))
    # quotes: the reader's speaker for every quoted span, in order
    paragraphs = text_paragraphs(clean_text(case["text"]))[0]
    reading = read_text(paragraphs)
    got = []
    g = 0
    from storymode.understanding.text import quote_spans

    for para in paragraphs:
        for sentence in para:
            for qi in range(len(quote_spans(sentence))):
                who = reading.speakers.get((g, qi))
                got.append(mapping.get(who, who) if who else NARRATOR)
            g += 1
    expected = case["quotes"]
    right = sum(1 for a, b in zip(got, expected) if a == b)
    out["quotes"] = (right, len(expected))
    out["quote_detail"] = list(zip(expected, got))
    lines = " ".join(line.text for s in story.scenes for line in s.lines)
    out["verbatim"] = words_of(lines) == words_of(clean_text(case["text"]))
    out["settings"] = [s.brief.setting for s in story.scenes]
    out["setting_ok"] = story.scenes[0].brief.setting in case.get("setting", [])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=str(ROOT / "benchmarks" / "fidelity_cases.json"))
    ap.add_argument("--no-pictures", action="store_true", help="skip drawing (the 'drawn' check)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))

    from storymode.illustrators.storybook import StorybookIllustrator
    from storymode.understanding import nlp
    from storymode.understanding.prompt import read_prompt
    from storymode.writers.planner.writer import PlannerWriter

    t0 = time.perf_counter()
    nlp.english()
    load_s = time.perf_counter() - t0
    writer, illustrator = PlannerWriter(), StorybookIllustrator()

    print(f"spaCy pipeline {nlp.pipeline_name()} loaded in {load_s:.2f} s\n")
    print("PROMPTS")
    totals = {"hero": 0, "companion": 0, "place": 0, "core": 0, "drawn": 0}
    weather = [0, 0]
    times = [0, 0]
    for case in cases["prompts"]:
        r = check_prompt(case, writer, illustrator, not args.no_pictures)
        for k in totals:
            totals[k] += bool(r.get(k))
        if "weather" in r:
            weather[0] += r["weather"]
            weather[1] += 1
        if "time" in r:
            times[0] += r["time"]
            times[1] += 1
        marks = " ".join(f"{k}={'ok' if r[k] else 'FAIL'}" for k in ("hero", "companion", "place", "weather", "time",
                                                                    "drawn") if k in r)
        print(f"  {'PASS' if r['core'] else 'FAIL'}  {case['prompt'][:70]:<70}  {marks}")
        if args.verbose or not r["core"]:
            print(f"        got {r['got']}")
    n = len(cases["prompts"])
    print(f"\n  hero {totals['hero']}/{n}  companion {totals['companion']}/{n}  place {totals['place']}/{n}  "
          f"hero+companion+place {totals['core']}/{n} ({100 * totals['core'] / n:.0f}%)")
    print(f"  weather {weather[0]}/{weather[1]}  time {times[0]}/{times[1]}"
          + ("" if args.no_pictures else f"  hero drawn in >= 2/3 of pictures {totals['drawn']}/{n} "
                                          f"({100 * totals['drawn'] / n:.0f}%)"))

    print("\nTEXTS")
    q = [0, 0]
    ch = [0, 0]
    titles = [0, 0]
    verbatim = [0, 0]
    for case in cases["texts"]:
        r = check_text(case, writer)
        q[0] += r["quotes"][0]
        q[1] += r["quotes"][1]
        ch[0] += r["characters"][0]
        ch[1] += r["characters"][1]
        titles[0] += r["title"]
        titles[1] += 1
        verbatim[0] += r["verbatim"]
        verbatim[1] += 1
        ok = r["title"] and r["verbatim"] and r["quotes"][0] == r["quotes"][1] and \
            r["characters"][0] == r["characters"][1]
        print(f"  {'PASS' if ok else 'FAIL'}  {case['name']:<28} quotes {r['quotes'][0]}/{r['quotes'][1]}  "
              f"characters {r['characters'][0]}/{r['characters'][1]}  title={'ok' if r['title'] else 'FAIL'}  "
              f"verbatim={'ok' if r['verbatim'] else 'FAIL'}  setting={'ok' if r['setting_ok'] else 'off'} "
              f"{r['settings']}")
        if args.verbose or r["quotes"][0] != r["quotes"][1]:
            wrong = [(i, e, g) for i, (e, g) in enumerate(r["quote_detail"]) if e != g]
            if wrong:
                print(f"        wrong quotes (index, expected, got): {wrong}")
    print(f"\n  quotes to the right speaker {q[0]}/{q[1]} ({100 * q[0] / max(1, q[1]):.1f}%)  "
          f"characters with kind {ch[0]}/{ch[1]} ({100 * ch[0] / max(1, ch[1]):.1f}%)  "
          f"titles {titles[0]}/{titles[1]}  verbatim {verbatim[0]}/{verbatim[1]}")

    print("\nSPEED (pipeline loaded)")
    prompt_ms = []
    for case in cases["prompts"]:
        t = time.perf_counter()
        read_prompt(case["prompt"])
        prompt_ms.append(1000 * (time.perf_counter() - t))
    print(f"  prompt: median {statistics.median(prompt_ms):.1f} ms, max {max(prompt_ms):.1f} ms")
    from storymode.story import clean_text
    from storymode.understanding.text import read_text
    from storymode.writers.segment import text_paragraphs

    pool = [p for c in cases["texts"] for p in c["text"].split("\n\n")]
    kept, count = [], 0
    while count < 2000:  # the texts' own paragraphs, in order, up to 2,000 words
        para = pool[len(kept) % len(pool)]
        kept.append(para)
        count += len(para.split())
    for label, text in (("2,000-word text", "\n\n".join(kept)), ("2,000 words in one paragraph", " ".join(kept))):
        paragraphs = text_paragraphs(clean_text(text))[0]
        t = time.perf_counter()
        read_text(paragraphs)
        print(f"  {label}: {1000 * (time.perf_counter() - t):.0f} ms ({len(text.split())} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
