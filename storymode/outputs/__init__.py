"""What is made from a finished story besides the video: the storybook page (and later EPUB, PDF, editor timelines)."""
