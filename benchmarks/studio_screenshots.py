"""The studio's screenshots for the README: docs/studio-library.png (a library of three stories) and
docs/studio-board.png (one story's board), both 1280x900, made with the default backends.

    python benchmarks/studio_screenshots.py [--out docs] [--keep DIR]

Starts a real `storymode studio`, makes the stories through its own routes (the library form's and the board's
"Render the video"), opens the pages in the system chromium and saves them as palette PNGs (Pillow, under 400 KB).
With --keep DIR the stories are made there once and reused on the next run.
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from studio import ROOT, StudioProcess, chromium, studio_over  # noqa: E402

STORIES = ["a shy fox who learns to fly", "a little robot who plants a garden on the moon",
           "a brave bear cub lost in the snowy mountains"]
SIZE = {"width": 1280, "height": 900}
MAX_BYTES = 400_000


def small_png(png: bytes) -> bytes:
    """The screenshot as an optimised palette PNG, with fewer colours until it is under MAX_BYTES."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (256, 192, 128, 96, 64):
        out = io.BytesIO()
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, "PNG", optimize=True)
        if out.tell() <= MAX_BYTES:
            break
    return out.getvalue()


def stories(studio: StudioProcess) -> list[str]:
    """The ids of the stories to show, the rendered one first: the folder's own, else the three made now."""
    found = sorted(p.name.removesuffix(".storymode") for p in studio.folder.glob("*.storymode"))
    if not found:
        found = [studio.make(prompt, scenes=3) for prompt in STORIES]
        studio.render(found[0])
    return sorted(found, key=lambda story_id: not (studio.folder / f"{story_id}.mp4").is_file())


def shoot(browser: Any, url: str, out: Path, scroll_to: str | None = None, redraw: bool = False) -> None:
    """Save the page at url as out, once every picture is decoded: with redraw, after the first scene's Redraw
    has offered its candidates; scrolled so that scroll_to is at the top when given."""
    page = browser.new_page(viewport=SIZE)
    page.goto(url, wait_until="load")
    if redraw:
        page.locator('[data-action="redraw"]').first.click()
        page.locator("[data-candidates] img").nth(3).wait_for(timeout=300_000)
        page.locator("#status").evaluate("e => e.blur()")
    # every picture in view has decoded (pictures further down load lazily, when scrolled to)
    page.wait_for_function("() => Array.from(document.images)"
                           ".filter(i => i.getBoundingClientRect().top < innerHeight)"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    if scroll_to:
        page.locator(scroll_to).evaluate("e => window.scrollTo(0, e.getBoundingClientRect().top + scrollY - 8)")
    out.write_bytes(small_png(page.screenshot()))
    page.close()
    print(f"{out}: {out.stat().st_size // 1000} KB")


def main() -> None:
    """Make (or reuse) the stories, start the studio and save the two screenshots."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--keep", type=Path, help="make the stories in this folder and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="storymode-studio-shots-")) / "stories"
    folder.mkdir(parents=True, exist_ok=True)
    with studio_over(folder, args.keep is not None) as studio:
        ids = stories(studio)
        with chromium() as browser:
            shoot(browser, studio.url + "/", args.out / "studio-library.png")
            shoot(browser, f"{studio.url}/s/{ids[0]}", args.out / "studio-board.png", redraw=True)
    if args.keep is None:
        shutil.rmtree(folder.parent, ignore_errors=True)

if __name__ == "__main__":
    main()
