"""Illustrators: a scene's brief in, a picture out."""
