"""Illustration figures: speed, how much of each brief got drawn, and whether pictures of one story differ.

    python benchmarks/illustration.py [--samples docs] [--diffusers PATH_OR_ID [--preset sd-turbo] [--size 512]]

Prints a table:
- seconds per 1280x720 picture for the storybook illustrator on one core (target < 0.5 s), warm and cold;
- the share of brief nouns it drew over 30 fixed briefs: the words of brief.props plus the kinds of the
  characters in the picture, counted drawn unless they appear in ``drawn["undrawn"]`` (target >= 80%);
- the smallest mean absolute pixel difference (0-255) between any two pictures of one 10-scene story, whose
  scenes include two with the same brief (no duplicates: it must stay well above 0);
- with ``--diffusers``: seconds per image for that pipeline (a local folder or a cached hub id) at --size.
``--samples DIR`` writes three small sample pictures (480x270 PNG) as DIR/sample-*.png.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (setting, time, weather, [character kinds], [props]) — 30 briefs a children's story might give
BRIEFS = [
    ("forest", "day", "clear", ["red fox"], ["lantern", "mushrooms"]),
    ("meadow", "dawn", "clear", ["rabbit", "hedgehog"], ["flowers", "basket"]),
    ("hills", "dusk", "clouds", ["sheep"], ["kite"]),
    ("mountains", "day", "snow", ["goat"], ["backpack"]),
    ("sea", "day", "wind", ["whale"], ["boat", "seagull"]),
    ("beach", "day", "clear", ["crab", "girl"], ["bucket", "shell"]),
    ("river", "dusk", "clear", ["duck"], ["canoe", "frog"]),
    ("city", "night", "rain", ["cat"], ["umbrella", "bus"]),
    ("village", "day", "clear", ["old woman", "dog"], ["bread", "bicycle"]),
    ("snow", "night", "snow", ["penguin"], ["snowman", "scarf"]),
    ("desert", "day", "clear", ["camel"], ["cactus", "water bottle"]),
    ("cave", "night", "clear", ["bat", "boy"], ["torch", "crystal"]),
    ("space", "night", "clear", ["astronaut"], ["rocket", "planet", "star"]),
    ("sky", "day", "clouds", ["bird"], ["balloon", "rainbow"]),
    ("bedroom", "night", "clear", ["girl", "teddy bear"], ["book", "candle"]),
    ("kitchen", "day", "clear", ["mouse", "chef"], ["cheese", "cake"]),
    ("classroom", "day", "clear", ["teacher", "owl"], ["books", "pencil"]),
    ("castle hall", "dusk", "clear", ["king", "queen"], ["crown", "key"]),
    ("forest", "night", "fog", ["wolf"], ["moon", "owl"]),
    ("meadow", "day", "wind", ["bee", "butterfly"], ["flower", "apple tree"]),
    ("hills", "day", "rain", ["horse"], ["umbrella", "apple"]),
    ("sea", "dusk", "clear", ["dolphin"], ["ship", "island"]),
    ("garden", "day", "clear", ["snail", "ladybug"], ["watering can", "carrot"]),
    ("farm", "dawn", "clear", ["cow", "rooster"], ["tractor", "hay"]),
    ("river", "day", "clear", ["bear"], ["fish", "willow twigs"]),
    ("village", "night", "snow", ["boy", "puppy"], ["sled", "lantern"]),
    ("forest", "dawn", "clouds", ["deer"], ["map", "compass"]),
    ("beach", "dusk", "wind", ["turtle"], ["sailboat", "umbrella"]),
    ("mountains", "dusk", "clear", ["dragon"], ["treasure chest", "sword"]),
    ("bedroom", "day", "rain", ["grandfather", "kitten"], ["clock", "tea"]),
]


def requests(briefs, width: int, height: int, seed: int = 1):  # type: ignore[no-untyped-def]
    """One request per brief; the cast is every kind in the briefs (no Story: it caps the cast at 20)."""
    from storymode.illustrators.base import IllustrationRequest
    from storymode.story import Brief, Character

    kinds = list(dict.fromkeys(k for b in briefs for k in b[3]))
    ids = {k: f"c{i}" for i, k in enumerate(kinds)}
    cast = tuple(Character(id=ids[k], name=k.title(), kind=k) for k in kinds)
    out = []
    for n, (setting, tod, weather, ks, props) in enumerate(briefs):
        brief = Brief(setting=setting, time_of_day=tod, weather=weather, characters=[ids[k] for k in ks],
                      props=props)
        out.append(IllustrationRequest(brief=brief, cast=cast, scene_text=f"Scene {n}.", scene_index=n,
                                       scene_count=len(briefs), style="storybook", seed=seed, width=width,
                                       height=height))
    return out


def one_core() -> str:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        return "1 core"
    except (AttributeError, OSError):
        return "all cores (no affinity here)"


def storybook_figures(samples: Path | None) -> list[tuple[str, str, str]]:
    import numpy as np

    from storymode.illustrators.storybook import StorybookIllustrator

    ill = StorybookIllustrator()
    reqs = requests(BRIEFS, 1280, 720)
    t0 = time.perf_counter()
    first = ill.illustrate(reqs[0])
    cold = time.perf_counter() - t0
    times, pictures = [], []
    drawn_nouns = total_nouns = 0
    missed: list[str] = []
    for req in reqs:
        t = time.perf_counter()
        pic = ill.illustrate(req)
        times.append(time.perf_counter() - t)
        pictures.append(pic)
        undrawn = set(pic.drawn["undrawn"])
        nouns = list(req.brief.props) + [c.kind for c in req.in_picture()]
        total_nouns += len(nouns)
        drawn_nouns += sum(n not in undrawn for n in nouns)
        missed += [n for n in nouns if n in undrawn]
    share = drawn_nouns / total_nouns

    # one story of 10 scenes, two of them with the same brief: the smallest difference between two pictures
    same = BRIEFS[0]
    small = [same, BRIEFS[1], BRIEFS[18], same, BRIEFS[25], BRIEFS[2], BRIEFS[14], BRIEFS[5], BRIEFS[26], BRIEFS[8]]
    arrays = [np.asarray(ill.illustrate(r).image, np.int16) for r in requests(small, 640, 360, seed=7)]
    diffs = {(a, b): float(np.abs(arrays[a] - arrays[b]).mean()) for a, b in itertools.combinations(range(10), 2)}
    (pa, pb), least = min(diffs.items(), key=lambda kv: kv[1])

    if samples is not None:
        from PIL import Image

        samples.mkdir(parents=True, exist_ok=True)
        for name, index in (("fox-forest", 0), ("castle-hall", 17), ("space", 12)):
            img = pictures[index].image.resize((480, 270), Image.Resampling.LANCZOS)
            path = samples / f"sample-{name}.png"
            img.save(path, optimize=True)
            if path.stat().st_size > 80_000:  # paper grain is costly in PNG: fall back to a 256-colour palette
                img.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
            print(f"wrote {path} ({path.stat().st_size // 1000} KB): {pictures[index].drawn}", file=sys.stderr)

    assert first.image.size == (1280, 720)
    rows = [
        ("storybook s/picture 1280x720, warm (mean / median / max)",
         f"{statistics.mean(times):.3f} / {statistics.median(times):.3f} / {max(times):.3f}", "< 0.5"),
        ("storybook s/picture 1280x720, first call (cold caches)", f"{cold:.3f}", ""),
        ("brief nouns drawn over 30 briefs", f"{share:.0%} ({drawn_nouns}/{total_nouns})", ">= 80%"),
        ("smallest mean |diff| between two pictures of one story (0-255)",
         f"{least:.1f} (scenes {pa + 1} and {pb + 1})", "> 0"),
    ]
    if missed:
        print("not drawn: " + ", ".join(sorted(set(missed))), file=sys.stderr)
    return rows


def diffusers_figures(model: str, preset: str, size: int, steps: int | None) -> list[tuple[str, str, str]]:
    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    opts = DiffusersIllustrator.Options(preset=preset, model=model, steps=steps)
    ill = DiffusersIllustrator(opts)
    t0 = time.perf_counter()
    ill.pipeline()
    load = time.perf_counter() - t0
    reqs = requests(BRIEFS[:6], size, size)
    ill.illustrate(reqs[0])  # warm-up (kernels, caches)
    times = []
    for req in reqs[1:]:
        t = time.perf_counter()
        pic = ill.illustrate(req)
        times.append(time.perf_counter() - t)
    label = f"diffusers {preset} ({Path(model).name or model}) s/image {size}x{size}, {pic.drawn['steps']} steps, " \
            f"{pic.drawn['device']} {pic.drawn['dtype']}"
    return [(label, f"{statistics.median(times):.3f}", ""), ("diffusers pipeline load (s)", f"{load:.1f}", "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, help="write three sample PNGs into this folder")
    parser.add_argument("--diffusers", metavar="PATH_OR_ID", help="also time this diffusers pipeline")
    parser.add_argument("--preset", default="sd-turbo")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int)
    args = parser.parse_args()
    cores = one_core()
    rows = storybook_figures(args.samples)
    if args.diffusers:
        rows += diffusers_figures(args.diffusers, args.preset, args.size, args.steps)
    width = max(len(r[0]) for r in rows)
    print(f"illustration benchmark ({cores}, python {sys.version.split()[0]})")
    print(f"| {'figure':<{width}} | value | target |\n|{'-' * (width + 2)}|---|---|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value} | {target} |")


if __name__ == "__main__":
    main()
