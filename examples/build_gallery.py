"""Build the example gallery: python examples/build_gallery.py -o site  (same as: storymode gallery examples -o site).

Renders every examples/*.toml (cached in site/stories/<name>/) and writes site/index.html; open it in a browser.
"""
import sys
from pathlib import Path

from storymode.cli import cli

if __name__ == "__main__":
    cli.main(["gallery", str(Path(__file__).parent), *sys.argv[1:]], prog_name="storymode")
