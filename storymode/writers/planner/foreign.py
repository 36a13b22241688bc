"""Prompts in French, Spanish or German: spotted, and their story words read into English for the planner.

The planner writes English only. A word-for-word gloss of the common story words ("une petite renarde qui
rêve de voler" -> "a little fox who wants to fly") lets it still tell the story the prompt asks for; the
pipeline tells the user that an LLM writer is the way to a story in their own language.
"""
from __future__ import annotations

import re
import unicodedata

# words that mark a language (articles, pronouns, common verbs) — two or more hits decide
MARKERS = {
    "French": set("une un le la les des du qui est et veut rêve apprend petit petite avec dans sur pour".split()),
    "Spanish": set("una un el los las que quiere sueña aprende con pequeño pequeña del y en por para".split()),
    "German": set("ein eine einen der die das und will möchte lernt kleine kleiner kleines mit im vom zum".split()),
}
GLOSS = {
    # French
    "une": "a", "un": "a", "le": "the", "la": "the", "les": "the", "qui": "who", "et": "and", "petite": "little",
    "petit": "little", "grand": "big", "grande": "big", "timide": "shy", "curieux": "curious", "curieuse": "curious",
    "courageux": "brave", "courageuse": "brave", "rêve": "wants", "veut": "wants", "apprend": "learns",
    "voler": "fly", "nager": "swim", "peindre": "paint", "chanter": "sing", "danser": "dance", "lire": "read",
    "renard": "fox", "renarde": "fox", "ours": "bear", "ourse": "bear", "lapin": "rabbit", "lapine": "rabbit",
    "chat": "cat", "chatte": "cat", "chien": "dog", "chienne": "dog", "souris": "mouse", "hibou": "owl",
    "chouette": "owl", "dragon": "dragon", "princesse": "princess", "prince": "prince", "chevalier": "knight",
    "fille": "girl", "garçon": "boy", "tortue": "turtle", "oiseau": "bird", "loup": "wolf", "lune": "moon",
    "étoile": "star", "forêt": "forest", "mer": "sea", "montagne": "mountains", "château": "castle",
    "trésor": "treasure", "jardin": "garden", "nuit": "night", "peur": "afraid",
    # Spanish
    "una": "a", "el": "the", "los": "the", "las": "the", "que": "who", "y": "and", "pequeño": "little",
    "pequeña": "little", "tímido": "shy", "tímida": "shy", "valiente": "brave", "quiere": "wants",
    "sueña": "wants", "aprende": "learns", "volar": "fly", "nadar": "swim", "pintar": "paint", "cantar": "sing",
    "bailar": "dance", "zorro": "fox", "zorra": "fox", "oso": "bear", "osa": "bear", "conejo": "rabbit",
    "gato": "cat", "gata": "cat", "perro": "dog", "perra": "dog", "ratón": "mouse", "búho": "owl",
    "dragón": "dragon", "princesa": "princess", "príncipe": "prince", "caballero": "knight", "niña": "girl",
    "niño": "boy", "tortuga": "turtle", "pájaro": "bird", "lobo": "wolf", "luna": "moon", "estrella": "star",
    "bosque": "forest", "mar": "sea", "montaña": "mountains", "castillo": "castle", "tesoro": "treasure",
    # German
    "ein": "a", "eine": "a", "einen": "a", "der": "the", "die": "the", "das": "the", "und": "and",
    "kleine": "little", "kleiner": "little", "kleines": "little", "schüchterne": "shy", "schüchterner": "shy",
    "mutige": "brave", "mutiger": "brave", "will": "wants to", "möchte": "wants to", "lernt": "learns to",
    "fliegen": "fly", "schwimmen": "swim", "malen": "paint", "singen": "sing", "tanzen": "dance",
    "fuchs": "fox", "füchsin": "fox", "bär": "bear", "hase": "rabbit", "katze": "cat", "hund": "dog",
    "maus": "mouse", "eule": "owl", "drache": "dragon", "prinzessin": "princess", "prinz": "prince",
    "ritter": "knight", "mädchen": "girl", "junge": "boy", "schildkröte": "turtle", "vogel": "bird",
    "wolf": "wolf", "mond": "moon", "stern": "star", "wald": "forest", "meer": "sea", "berg": "mountains",
    "burg": "castle", "schatz": "treasure",
}
# "rêve de voler" / "sueña con volar" / "quiere volar": the preposition after a wish verb becomes "to"
_WISH_THEN = re.compile(r"\bwants (?:de|d'|con|a) ", re.I)
_WORD = re.compile(r"[\w'’]+|[^\w\s]+")


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word.lower())


def detect(prompt: str) -> str | None:
    """'French', 'Spanish' or 'German' when the prompt reads as one of them, else None (English or unknown)."""
    words = [_fold(w) for w in re.findall(r"[^\W\d_]+", prompt[:600])]
    if not words:
        return None
    scores = {lang: sum(w in marks for w in words) for lang, marks in MARKERS.items()}
    english = sum(w in ("a", "an", "the", "who", "and", "of", "to", "is", "with", "wants", "learns") for w in words)
    lang, score = max(scores.items(), key=lambda kv: kv[1])
    return lang if score >= 2 and score > english else None


def to_english(prompt: str) -> str:
    """The prompt with its common story words glossed into English (other words kept as they are)."""
    out = []
    for token in _WORD.findall(prompt):
        gloss = GLOSS.get(_fold(token))
        out.append(gloss if gloss is not None else token)
    text = " ".join(out)
    text = _WISH_THEN.sub("wants to ", text)
    text = re.sub(r"\bwants (?!to\b)(\w+)$", r"wants to \1", text)  # "quiere volar" -> "wants to fly"
    text = re.sub(r"\bwants (fly|swim|paint|sing|dance|read)\b", r"wants to \1", text)
    return re.sub(r"\s+([,.!?;:])", r"\1", text)
