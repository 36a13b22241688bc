"""What is made from a finished story besides the video: the storybook page, the read-aloud EPUB, the PDF
picture book and the editor timelines (OTIO, FCPXML, Kdenlive); formats.py names them and where they land."""
