"""Understanding comes before writing: prompts and texts read into typed requests with spaCy and one vocabulary.

Importing this package loads nothing heavy; spaCy loads on the first read, once per process.
"""
