"""The example gallery: every examples/*.toml rendered into a static web page that works from file://.

    storymode gallery examples/ -o site        (or: python examples/build_gallery.py -o site)

An example file is TOML: an optional ``title`` (shown on the page), one of ``prompt``, ``text`` (a .txt/.md file
beside it, narrated word for word) or ``story`` (a prepared story.json beside it, copied into the story folder;
a ``prompt`` may stay as its description), and any setting of ``storymode make`` (scenes, aspect, resolution,
seed, audience, tone, style, words_per_scene, fps, music, writer/narrator/illustrator/composer, [options.STAGE]).
Paths (text, story, music) are relative to the example file and stay in its folder: an example is data, and only
``--trust-config`` lets it name a file elsewhere, turn on trust_remote_code or send a key to its base_url (SECURITY.md).

What it writes:

    out_dir/index.html                        the gallery page (relative links only, no external assets)
    out_dir/stories/<name>/<name>.mp4         the video (+ .srt, .vtt)
    out_dir/stories/<name>/<name>.storymode/  its story folder: the cache, so a rebuild redoes only what changed
    out_dir/stories/<name>/storybook.html     a copy of the story's picture-book page
    out_dir/stories/<name>/poster.jpg         a frame from the middle of scene 1

Captions: the page's <track> carries the WebVTT as a data: URL, because Chromium refuses a <track src> from a
file:// page ("file: URLs are treated as unique security origins"); the .vtt and .srt files are linked too.
"""
from __future__ import annotations

from .build import build_gallery, build_story
from .cli import gallery
from .examples import Example, find_examples, load_example
from .page import write_index
from .stories import GalleryResult, GalleryStory

__all__ = ["build_gallery", "build_story", "load_example", "find_examples", "write_index", "gallery",
           "GalleryResult", "GalleryStory", "Example"]
