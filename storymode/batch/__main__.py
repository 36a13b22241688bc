"""python -m storymode.batch: the same as `storymode batch`."""
from . import batch

batch(prog_name="storymode batch")
