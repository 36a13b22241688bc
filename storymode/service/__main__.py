"""python -m storymode.service: the same as `storymode serve`."""
from . import serve

serve(prog_name="storymode serve")
