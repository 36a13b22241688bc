"""Audio helpers for narration that are not backends: speakable text, loudness, voice effects, Whisper alignment, cutting a recording."""
