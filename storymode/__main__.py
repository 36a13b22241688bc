"""python -m storymode"""
from .cli import main

main()
