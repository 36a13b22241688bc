"""The studio: make, refine and publish a story in the browser (`storymode studio`).

Its story core works on one story folder: edits (pure Story -> Story functions), history (every saved version of
story.json, undo, conflicts between tabs) and candidates (other pictures and texts for a scene, to pick from)."""
