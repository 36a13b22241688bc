"""One vocabulary for the reader, the writers and the illustrator: settings, kinds, props, weather, time of day.

Kept as data. Each kind word has a parent (its hypernym) so that any noun we know reaches something drawable
("keeper's daughter" -> daughter -> girl, "stallion" -> horse, "clockmaker" -> person). This is our own table:
WordNet's data is not shipped inside a PyPI package we may depend on, and a hand-kept table stays small, fast
and aimed at what a picture book draws. Nothing here imports spaCy or Pillow.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

# ---- settings --------------------------------------------------------------------------------------------------

# name -> words that name it (a word may name only one setting; the first listing wins)
SETTING_KEYWORDS: dict[str, tuple[str, ...]] = {
    "lighthouse": ("lighthouse", "lighthouses", "lamp room", "lighthouse keeper"),
    "shop": ("shop", "store", "clock shop", "toyshop", "toy shop", "post office", "postoffice", "workroom", "boutique", "shopfront", "counter",
             "emporium"),
    "bakery": ("bakery", "bakehouse", "patisserie", "oven", "bakers"),
    "workshop": ("workshop", "forge", "smithy", "shed", "garage", "workbench", "lab", "laboratory"),
    "farm": ("farm", "farmyard", "barn", "barnyard", "pasture", "orchard", "stable", "stables", "pigsty", "haystack",
             "henhouse", "ranch"),
    "castle": ("castle", "fortress", "fort", "ramparts", "drawbridge", "moat", "tower", "towers"),
    "castle hall": ("palace", "throne", "throne room", "ballroom", "great hall", "banquet", "hall", "court"),
    "street": ("street", "streets", "lane", "alley", "high street", "pavement", "sidewalk", "town square",
               "square", "market", "marketplace", "road"),
    "moon": ("moon", "lunar", "crater", "craters", "moonbase"),
    "forest": ("forest", "woods", "wood", "woodland", "jungle", "grove", "trees", "rainforest", "thicket",
               "clearing", "treehouse", "pines", "forests", "wildwood"),
    "meadow": ("meadow", "field", "fields", "grass", "grassland", "savanna", "savannah", "prairie", "park",
               "countryside", "picnic", "playground", "steppe", "heath", "moor"),
    "hills": ("hill", "hills", "hillside", "valley", "slope", "path", "trail", "hilltop"),
    "mountains": ("mountain", "mountains", "peak", "peaks", "cliff", "cliffs", "volcano", "alps", "summit", "canyon",
                  "rocky"),
    "sea": ("sea", "ocean", "waves", "ship", "underwater", "reef", "harbor", "harbour", "port", "voyage", "bay",
            "deep", "seas", "oceans", "sail", "sailing", "boat"),
    "beach": ("beach", "shore", "seashore", "coast", "sand", "sandy", "island", "seaside", "dock", "pier", "cove",
              "rock pool", "rockpool"),
    "river": ("river", "stream", "brook", "creek", "bridge", "riverbank", "waterfall", "canal"),
    "city": ("city", "downtown", "rooftop", "rooftops", "station", "zoo", "museum", "skyscraper", "skyscrapers",
             "metropolis"),
    "village": ("village", "village square", "village green", "town", "cottage", "farmhouse", "hut", "houses", "neighborhood", "neighbourhood",
                "hamlet", "yard"),
    "snow": ("snow", "snowy", "arctic", "antarctic", "ice", "icy", "glacier", "igloo", "frozen", "north pole",
             "tundra", "snowfield", "snowfields"),
    "desert": ("desert", "dune", "dunes", "sahara", "oasis", "pyramid", "pyramids", "cactus"),
    "cave": ("cave", "cavern", "caves", "tunnel", "underground", "mine", "lair", "grotto", "dungeon", "burrow",
             "den"),
    "space": ("space", "outer space", "space station", "planet", "planets", "galaxy", "rocket", "spaceship", "orbit", "mars",
              "universe", "asteroid", "comet", "spacecraft"),
    "sky": ("sky", "clouds", "cloud", "heaven", "balloon", "rainbow", "skies"),
    "garden": ("garden", "gardens", "flowers", "flowerbed", "backyard", "greenhouse", "patch", "allotment", "vine",
               "vines", "vineyard", "trellis"),
    "lake": ("lake", "pond", "lagoon", "pool", "swamp", "marsh", "lily pad"),
    "bedroom": ("bedroom", "bed", "nursery", "attic", "playroom", "bathroom", "living room", "room"),
    "kitchen": ("kitchen", "dining", "cafe", "café", "restaurant", "pantry", "stove"),
    "classroom": ("classroom", "school", "class", "library", "lesson", "study", "office", "schoolroom"),
}
# a settlement named by its landscape ("a desert town", "a mountain village") is drawn as that landscape
SETTLEMENT_WORDS = frozenset({"town", "village", "hamlet", "settlement"})
INDOOR_SETTINGS = frozenset({"bedroom", "kitchen", "classroom", "castle hall", "shop", "bakery", "workshop"})
SETTINGS: tuple[str, ...] = tuple(SETTING_KEYWORDS)
FALLBACK_SETTING = "meadow"

# how a story names each setting, and where a walk from it leads
PLACE_PHRASES: dict[str, str] = {
    "forest": "the forest", "meadow": "the meadow", "hills": "the hills", "mountains": "the mountains",
    "sea": "the sea", "beach": "the beach", "river": "the river", "city": "the city", "village": "the village",
    "snow": "the snowy fields", "desert": "the desert", "cave": "the cave", "space": "the starry reaches of space",
    "sky": "the sky", "bedroom": "the bedroom", "kitchen": "the kitchen", "classroom": "the classroom",
    "castle hall": "the castle hall", "garden": "the garden", "lake": "the lake",
    "lighthouse": "the lighthouse on the rocks", "shop": "the little shop", "bakery": "the bakery",
    "workshop": "the workshop", "farm": "the farm", "castle": "the castle on the hill",
    "street": "the village street", "moon": "the silver dust of the moon",
}
PLACE_WORDS: dict[str, str] = {  # a setting as one noun ("at the edge of the ...")
    "snow": "snowy fields", "space": "stars", "castle hall": "castle", "lighthouse": "sea", "street": "village",
    "moon": "moon", "shop": "town", "bakery": "town", "workshop": "town",
}
HUMAN_HOMES: dict[str, str] = {  # where a person lives in each of the newer settings
    "lighthouse": "the tall striped lighthouse on the rocks", "shop": "the rooms above the little shop",
    "bakery": "the rooms above the bakery", "workshop": "a cottage behind the workshop", "farm": "the old farmhouse",
    "castle": "the castle on the hill", "castle hall": "the castle on the hill",
    "street": "a narrow house on the village street", "moon": "a little moon base", "sea": "a boat on the sea",
}
NEIGHBOURS: dict[str, list[str]] = {
    "forest": ["meadow", "river", "hills"], "meadow": ["forest", "river", "hills"],
    "hills": ["meadow", "mountains", "river"], "mountains": ["hills", "snow", "forest"],
    "sea": ["beach", "sea"], "beach": ["sea", "river"], "river": ["meadow", "forest", "lake"],
    "city": ["street", "river", "city"], "village": ["street", "meadow", "garden"],
    "snow": ["mountains", "lake", "forest"], "desert": ["desert", "hills"], "cave": ["hills", "forest"],
    "space": ["space", "moon"], "sky": ["hills", "meadow", "sea"], "bedroom": ["garden", "meadow"],
    "kitchen": ["garden", "village"], "classroom": ["garden", "village"], "castle hall": ["castle", "garden"],
    "garden": ["meadow", "village"], "lake": ["river", "meadow", "forest"],
    "lighthouse": ["sea", "beach", "lighthouse"], "shop": ["shop", "street"], "bakery": ["bakery", "street"],
    "workshop": ["workshop", "street"], "farm": ["farm", "meadow", "village"], "castle": ["castle hall", "hills"],
    "street": ["street", "village"], "moon": ["moon", "space"],
}

# prepositions that put something in a place ("in the forest", "to the sea"): the reader weighs these most
LOCATIVE_WORDS = frozenset("in at on inside near by beside under across through into onto to within among atop "
                           "behind outside around along from over toward towards".split())

# ---- weather and time of day -----------------------------------------------------------------------------------

WEATHERS: tuple[str, ...] = ("clear", "clouds", "rain", "snow", "wind", "fog", "storm")
WEATHER_WORDS: dict[str, str] = {
    "storm": "storm", "stormy": "storm", "storms": "storm", "thunder": "storm", "thunderstorm": "storm",
    "lightning": "storm", "gale": "storm", "tempest": "storm", "hurricane": "storm", "blizzard": "snow",
    "rain": "rain", "raining": "rain", "rainy": "rain", "drizzle": "rain", "puddle": "rain", "puddles": "rain",
    "downpour": "rain", "shower": "rain", "snow": "snow", "snowing": "snow", "snowy": "snow", "snowflake": "snow",
    "snowflakes": "snow", "snowfall": "snow", "sleet": "snow", "wind": "wind", "windy": "wind", "breeze": "wind",
    "breezy": "wind", "gust": "wind", "gusty": "wind", "fog": "fog", "foggy": "fog", "mist": "fog", "misty": "fog",
    "haze": "fog", "cloud": "clouds", "clouds": "clouds", "cloudy": "clouds", "overcast": "clouds",
    "sunny": "clear", "sunshine": "clear",
}
TIMES: tuple[str, ...] = ("dawn", "day", "dusk", "night")
TIME_WORDS: dict[str, str] = {
    "night": "night", "nights": "night", "midnight": "night", "nighttime": "night", "moonlight": "night",
    "moonlit": "night", "bedtime": "night", "tonight": "night", "dark": "night", "starlight": "night",
    "evening": "dusk", "dusk": "dusk", "sunset": "dusk", "twilight": "dusk", "nightfall": "dusk",
    "dawn": "dawn", "sunrise": "dawn", "daybreak": "dawn", "morning": "dawn",
    "noon": "day", "afternoon": "day", "midday": "day", "daytime": "day",
}

# ---- kinds -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """What a noun is, as far as a picture book cares."""

    word: str  # the noun itself ("daughter")
    base: str  # the nearest drawable kind up the chain ("girl")
    animate: bool  # can act and speak in a story
    human: bool
    gender: str | None  # "she", "he" or None
    age: str | None  # "child", "adult", "old" or None
    role: str | None  # a trade or title ("keeper", "clockmaker", "king") or None
    chain: tuple[str, ...] = ()  # the word and its parents, nearest first (the illustrator's fallbacks)


# word -> parent word; roots are drawable kinds of their own (see DRAWABLE)
_IS_A_TEXT = """
daughter girl | son boy | sister girl | brother boy | niece girl | nephew boy | granddaughter girl
grandson boy | lass girl | lad boy | schoolgirl girl | schoolboy boy | toddler child | infant baby | kid child
twins child | orphan child | pupil child | student child | princess girl | prince boy
mother woman | mom woman | mum woman | mommy woman | mummy woman | aunt woman | wife woman | lady woman
widow woman | maiden woman | nurse woman | seamstress woman | fishwife woman | duchess woman | countess woman
father man | dad man | daddy man | uncle man | husband man | gentleman man | fisherman man | postman man
policeman man | fireman firefighter | woodcutter man | lumberjack man | duke man | count man | sir man
grandmother grandma | granny grandma | nana grandma | grandfather grandpa | grandad grandpa | granddad grandpa
keeper person | lighthousekeeper person | clockmaker person | watchmaker person | toymaker person
shopkeeper person | tailor person | cobbler person | shoemaker person | blacksmith person | smith person
carpenter person | potter person | miller person | shepherd person | shepherdess woman | milkmaid woman
gardener person | librarian person | inventor scientist | engineer person | mechanic person | builder person
fisher person | sailor person | captain sailor | fishmonger person | grocer person | butcher person
merchant person | traveller person | traveler person | stranger person | neighbour person | neighbor person
villager person | musician singer | dancer person | poet person | writer person
storyteller person | doctor person | vet doctor | veterinarian doctor | nurse person | teacher person
professor teacher | headmistress teacher | headmaster teacher | chef person | cook chef | baker chef
painter artist | sculptor artist | explorer person | adventurer explorer | hunter person | ranger person
zookeeper person | beekeeper person | innkeeper person | guard person | soldier guard | warrior knight
squire knight | astronaut person | cosmonaut astronaut | spaceman astronaut | pilot person | driver person
king man | emperor king | queen woman | empress queen | monarch king | knight person | wizard person
witch woman | sorcerer wizard | magician wizard | enchantress witch | fairy person | pixie fairy | sprite fairy
elf person | gnome person | dwarf person | giant person | ogre monster | goblin monster | troll monster
mermaid person | merman person | pirate person | ghost monster | dragon creature | unicorn horse
people person | human person | man person | woman person | boy child | girl child | child person
baby child | grandma woman | grandpa man | farmer person | fairy creature | robot creature | android robot
monster creature | alien creature | creature creature | person person
puppy dog | pup dog | hound dog | terrier dog | poodle dog | spaniel dog | collie dog | sheepdog dog
retriever dog | beagle dog | dachshund dog | bulldog dog | kitten cat | kitty cat | tomcat cat | moggy cat
stallion horse | mare horse | foal horse | colt horse | pony horse | donkey animal | mule donkey
calf cow | bull cow | ox cow | cattle cow | heifer cow | piglet pig | hog pig | boar pig | sow pig
lamb sheep | ram sheep | ewe sheep | kid_goat goat | billy goat | nanny goat | hen chicken | rooster chicken
cockerel chicken | chick chicken | duckling duck | drake duck | gosling goose | cygnet swan
bunny rabbit | hare rabbit | leveret rabbit | cub bear | grizzly bear | panda bear | wolfcub wolf
vixen fox | fawn deer | stag deer | doe deer | reindeer deer | elk deer | moose deer
robin bird | sparrow bird | wren bird | finch bird | lark bird | blackbird bird | thrush bird | starling bird
magpie bird | jay bird | bluebird bird | canary bird | kingfisher bird | woodpecker bird | puffin bird
pigeon bird | dove bird | hummingbird bird | nightingale bird | swallow bird | seagull bird | gull bird
pelican bird | heron bird | stork bird | crane bird | crow bird | raven bird | rook bird | owl bird | owlet owl
eagle bird | hawk bird | falcon bird | kestrel bird | vulture bird | parrot bird | macaw parrot | cockatoo parrot
penguin bird | flamingo bird | peacock bird | ostrich bird | emu bird | kiwi bird | toucan bird | turkey bird
goose bird | swan bird | duck bird | chicken bird | albatross bird
tadpole frog | toad frog | bullfrog frog | newt lizard | salamander lizard | gecko lizard | iguana lizard
chameleon lizard | crocodile animal | alligator crocodile | tortoise turtle | terrapin turtle
goldfish fish | trout fish | salmon fish | minnow fish | carp fish | cod fish | tuna fish | clownfish fish
seahorse fish | eel fish | stingray fish | jellyfish animal | starfish animal | lobster crab | shrimp animal
orca whale | humpback whale | narwhal whale | porpoise dolphin | walrus seal | sealion seal
caterpillar animal | worm animal | earthworm worm | beetle animal | ladybird ladybug | ladybug beetle
bumblebee bee | wasp bee | hornet bee | moth butterfly | dragonfly animal | firefly animal | glowworm firefly
grasshopper cricket | cricket animal | ant animal | spider animal | snail animal | slug snail | scorpion animal
mole animal | vole mouse | shrew mouse | rat animal | hamster animal | gerbil hamster | guinea pig
squirrel animal | chipmunk squirrel | dormouse mouse | hedgehog animal | porcupine animal | badger animal
otter animal | beaver animal | weasel animal | stoat weasel | ferret weasel | mink weasel | skunk animal
raccoon animal | possum animal | opossum possum | fox animal | wolf animal | coyote wolf | jackal wolf
bear animal | lion animal | lioness lion | tiger animal | tigress tiger | leopard animal | cheetah leopard
jaguar leopard | panther leopard | lynx cat | bobcat cat | cat animal | dog animal | horse animal
elephant animal | mammoth elephant | rhino animal | rhinoceros rhino | hippo animal | hippopotamus hippo
giraffe animal | zebra animal | camel animal | llama animal | alpaca llama | kangaroo animal | wallaby kangaroo
koala animal | sloth animal | monkey animal | ape gorilla | chimp monkey | chimpanzee monkey | gorilla animal
orangutan animal | lemur monkey | bat animal | seal animal | whale animal | dolphin animal | shark animal
octopus animal | squid octopus | crab animal | fish animal | bird animal | frog animal | turtle animal
snake animal | serpent snake | viper snake | cobra snake | python snake | lizard animal | dinosaur animal
mouse animal | rabbit animal | deer animal | pig animal | cow animal | sheep animal | goat animal
mice mouse | geese goose | wolves wolf | bee animal | butterfly animal | animal creature | beast creature
teddy toy | doll toy | puppet toy | toy creature | snowman creature | scarecrow creature | kite thing
star creature | sun creature | cloud creature | moon creature | tree creature | train thing | car thing
boat thing | rocket thing | balloon thing | comet thing | planet thing | snowflake thing
"""
IS_A: dict[str, str] = {}
for _pair in _IS_A_TEXT.replace("\n", "|").split("|"):
    _bits = _pair.split()
    if len(_bits) == 2:
        IS_A.setdefault(_bits[0].replace("_", " "), _bits[1])

HUMAN_ROOTS = frozenset({"person"})
_SHE = frozenset("girl woman grandma daughter sister niece granddaughter lass schoolgirl princess mother mom mum "
                 "mommy mummy aunt wife lady widow maiden seamstress duchess countess queen empress witch "
                 "enchantress mermaid lioness tigress vixen mare ewe hen sow doe nanny shepherdess milkmaid "
                 "headmistress fishwife heifer".split())
_HE = frozenset("boy man grandpa son brother nephew grandson lad schoolboy prince father dad daddy uncle husband "
                "gentleman fisherman postman policeman duke count sir king emperor wizard sorcerer merman stallion "
                "colt bull ox rooster cockerel drake stag ram billy boar headmaster tomcat grandad granddad "
                "grandfather".split())
_CHILD = frozenset("girl boy child kid baby toddler infant daughter son schoolgirl schoolboy pupil orphan lass "
                   "lad princess prince niece nephew granddaughter grandson twins student".split())
_OLD = frozenset("grandma grandpa granny nana grandmother grandfather grandad granddad widow".split())
ROLES = frozenset(
    "keeper lighthousekeeper clockmaker watchmaker toymaker shopkeeper tailor cobbler shoemaker blacksmith smith "
    "carpenter potter miller shepherd shepherdess milkmaid gardener librarian inventor engineer mechanic builder "
    "fisherman fisher sailor captain fishmonger grocer butcher merchant musician dancer poet writer storyteller "
    "doctor vet veterinarian nurse teacher professor chef cook baker painter artist sculptor explorer "
    "adventurer hunter ranger zookeeper beekeeper innkeeper guard soldier warrior squire astronaut cosmonaut "
    "spaceman pilot driver king queen emperor empress monarch knight wizard witch sorcerer magician "
    "enchantress pirate farmer firefighter fireman postman policeman woodcutter lumberjack scientist detective "
    "princess prince singer".split())
# a role seen in a picture: the prop drawn beside a person who has it (a sprite word)
ROLE_PROPS: dict[str, str] = {
    "keeper": "lantern", "lighthousekeeper": "lantern", "clockmaker": "clock", "watchmaker": "clock",
    "toymaker": "teddy", "shopkeeper": "basket", "tailor": "thread", "cobbler": "shoe", "shoemaker": "shoe",
    "blacksmith": "hammer", "smith": "hammer", "carpenter": "hammer", "potter": "amphora", "miller": "bread",
    "shepherd": "sheep", "shepherdess": "sheep", "gardener": "seedling", "librarian": "book",
    "inventor": "gear", "engineer": "gear", "mechanic": "wrench", "builder": "hammer", "fisherman": "fishing pole",
    "fisher": "fishing pole", "sailor": "anchor", "captain": "anchor", "musician": "violin", "poet": "scroll",
    "writer": "scroll", "storyteller": "book", "vet": "paw prints", "nurse": "syringe", "doctor": "stethoscope",
    "beekeeper": "honey", "woodcutter": "axe", "lumberjack": "axe", "hunter": "bow and arrow", "explorer": "compass",
    "adventurer": "compass", "innkeeper": "beer mug", "milkmaid": "milk", "wizard": "wand", "witch": "broom",
    "magician": "wand", "sorcerer": "wand", "knight": "shield", "squire": "shield", "warrior": "shield",
    "pirate": "map", "baker": "bread", "cook": "pot", "chef": "pot", "painter": "paintbrush", "artist": "paintbrush",
}


@functools.lru_cache(maxsize=4096)
def kind_of(word: str) -> Kind | None:
    """What a noun is (its chain of parents up to a root), or None when the vocabulary does not know it."""
    w = (word or "").strip().lower()
    if not w:
        return None
    if w not in IS_A:
        if w.endswith("s") and w[:-1] in IS_A:
            w = w[:-1]
        elif w.endswith("es") and w[:-2] in IS_A:
            w = w[:-2]
        else:
            return None
    chain = [w]
    while chain[-1] in IS_A and IS_A[chain[-1]] != chain[-1] and len(chain) < 12:
        chain.append(IS_A[chain[-1]])
    root = chain[-1]
    human = root == "person" or "person" in chain
    animate = human or root in ("creature", "animal") and not ({"thing", "toy"} & set(chain))
    if root == "creature" and chain[0] in ("kite", "train", "car", "boat", "rocket", "balloon"):
        animate = False
    gender = next(("she" if c in _SHE else "he" for c in chain if c in _SHE or c in _HE), None)
    age = "child" if any(c in _CHILD for c in chain[:3]) else "old" if any(c in _OLD for c in chain[:2]) else (
        "adult" if human else None)
    role = next((c for c in chain if c in ROLES), None)
    return Kind(word=w, base=picture_base(chain, human), animate=animate, human=human, gender=gender, age=age,
                role=role, chain=tuple(chain))


PEOPLE_BASES = frozenset("girl boy child baby man woman grandma grandpa person".split())


def picture_base(chain: list[str], human: bool) -> str:
    """The plain kind a picture shows: for people the nearest of girl, boy, man, woman... or a role that has a
    look of its own (knight, king, chef); for anything else the word itself."""
    if not human:
        return chain[0]
    for c in chain:
        if c in PEOPLE_BASES or c in _DRAWN_ROLES:
            return c
    return "person"


# roles that have a sprite of their own (the rest are drawn as a person with their ROLE_PROPS prop)
_DRAWN_ROLES = frozenset("astronaut chef baker farmer teacher scientist doctor artist painter singer firefighter "
                         "pilot detective guard soldier knight king queen prince princess wizard witch pirate "
                         "student cook".split())


# words for a relation, not a kind: "her friend the heron" is a heron, "his dragon friend" a dragon
RELATION_WORDS = frozenset("friend friends pal pals buddy buddies companion companions mate partner sidekick "
                           "helper guide".split())
# the setting a hero with this role or kind lives in, when the prompt names none
KIND_HOME: dict[str, str] = {
    "fish": "sea", "goldfish": "lake", "whale": "sea", "dolphin": "sea", "shark": "sea", "octopus": "sea",
    "crab": "beach", "seal": "snow", "penguin": "snow", "polar bear": "snow", "robot": "city", "duck": "lake",
    "duckling": "lake", "frog": "lake", "toad": "lake", "swan": "lake", "camel": "desert", "bat": "cave",
    "astronaut": "space", "alien": "space", "rocket": "space", "moon": "sky", "star": "sky", "sun": "sky",
    "cloud": "sky", "cow": "farm", "pig": "farm", "sheep": "farm", "hen": "farm", "chicken": "farm",
    "goat": "mountains", "horse": "meadow", "pony": "meadow", "dragon": "hills", "troll": "hills",
    "mermaid": "sea", "pirate": "sea", "sailor": "sea", "captain": "sea", "fisherman": "beach",
    "princess": "castle", "prince": "castle", "king": "castle hall", "queen": "castle hall", "knight": "castle",
    "snowman": "snow", "reindeer": "snow", "chef": "kitchen", "cook": "kitchen", "baker": "bakery",
    "teacher": "classroom", "keeper": "lighthouse", "lighthousekeeper": "lighthouse", "otter": "river",
    "beaver": "river", "train": "hills", "car": "city", "boat": "sea", "kite": "meadow", "bee": "garden",
    "butterfly": "garden", "caterpillar": "garden", "ladybug": "garden", "snail": "garden",
    "clockmaker": "shop", "watchmaker": "shop", "toymaker": "workshop", "shopkeeper": "shop",
    "blacksmith": "workshop", "carpenter": "workshop", "inventor": "workshop", "mechanic": "workshop",
    "farmer": "farm", "shepherd": "farm", "milkmaid": "farm", "gardener": "garden", "librarian": "classroom",
    "wizard": "castle", "lion": "meadow", "giraffe": "meadow", "zebra": "meadow", "elephant": "meadow",
    "fox": "forest", "owl": "forest", "bear": "forest", "wolf": "forest", "deer": "forest", "squirrel": "forest",
    "hedgehog": "garden", "rabbit": "meadow", "mouse": "meadow", "mole": "meadow", "kitten": "bedroom",
    "puppy": "garden", "teddy": "bedroom", "monkey": "forest", "tiger": "forest",
    "scientist": "workshop", "doctor": "village", "nurse": "village",
}


def home_of(kind: "Kind | None") -> str | None:
    """The setting a figure of this kind calls home (its own word first, then its role, then up its chain)."""
    if kind is None:
        return None
    for c in (kind.word, kind.role or "", *kind.chain):
        if c in KIND_HOME:
            return KIND_HOME[c]
    return None


# what an activity implies about the place, when the prompt names none
ACTIVITY_PLACES: dict[str, str] = {"bake": "kitchen", "cook": "kitchen", "sail": "sea", "surf": "beach",
                                   "dig": "garden", "plant": "garden", "skate": "snow", "ski": "snow",
                                   "sled": "snow", "fish": "river", "study": "classroom", "read": "bedroom"}
WEATHER_RANK = {"storm": 0, "snow": 1, "rain": 2, "fog": 3, "wind": 4, "clouds": 5, "clear": 6}


def is_kind_word(word: str) -> bool:
    """Whether the vocabulary knows the noun as a kind of figure (animate or a thing that can be a hero)."""
    return kind_of(word) is not None


# ---- words for emoji and traits -----------------------------------------------------------------------------

EMOJI_WORDS = {
    "🦊": "fox", "🐻": "bear", "🐉": "dragon", "🐲": "dragon", "🐱": "cat", "🐈": "cat", "🐶": "dog", "🐕": "dog",
    "🐰": "rabbit", "🐇": "rabbit", "🤖": "robot", "🦉": "owl", "🐭": "mouse", "🐸": "frog", "🐢": "turtle",
    "🐧": "penguin", "🦁": "lion", "🐯": "tiger", "🐘": "elephant", "🦄": "unicorn", "🐟": "fish", "🐠": "fish",
    "🐋": "whale", "🐳": "whale", "🐬": "dolphin", "🐙": "octopus", "🦀": "crab", "🐝": "bee", "🦋": "butterfly",
    "🐦": "bird", "🦆": "duck", "🐷": "pig", "🐮": "cow", "🐑": "sheep", "🦔": "hedgehog", "🐿": "squirrel",
    "🦝": "raccoon", "🦦": "otter", "🐺": "wolf", "🦕": "dinosaur", "🦖": "dinosaur", "👧": "girl", "👦": "boy",
    "🧒": "child", "👸": "princess", "🤴": "prince", "🧙": "wizard", "🧚": "fairy", "👽": "alien",
    "🍰": "cake", "🎂": "cake", "🍪": "cookies", "🍎": "apples", "🍯": "honey", "🧀": "cheese", "🍕": "pizza",
    "🌙": "moon", "🌛": "moon", "⭐": "star", "🌟": "star", "☀": "sun", "🌞": "sun", "🌧": "rain", "❄": "snow",
    "🚀": "rocket", "🪁": "kite", "🎈": "balloon", "🎨": "paint", "🖌": "paintbrush", "📚": "books",
    "🏰": "castle", "🌊": "sea", "🏔": "mountains", "🌲": "forest", "🌳": "forest", "🌸": "flowers",
    "💎": "treasure", "🗺": "map", "⛵": "boat", "🎵": "music", "🎶": "music", "⚽": "football",
}

TRAITS = {
    "shy": "shy", "timid": "shy", "bashful": "shy", "quiet": "quiet", "brave": "brave", "bold": "brave",
    "greedy": "greedy", "selfish": "greedy", "proud": "proud", "boastful": "proud", "vain": "proud",
    "arrogant": "proud", "lazy": "lazy", "curious": "curious", "nosy": "curious", "lonely": "lonely",
    "clumsy": "clumsy", "sleepy": "sleepy", "tired": "sleepy", "grumpy": "grumpy", "cranky": "grumpy",
    "kind": "kind", "gentle": "kind", "clever": "clever", "smart": "clever", "wise": "clever", "silly": "silly",
    "funny": "silly", "goofy": "silly", "scared": "scared", "afraid": "scared", "nervous": "scared",
    "fearful": "scared", "anxious": "scared", "bossy": "bossy", "impatient": "impatient", "jealous": "jealous",
    "stubborn": "stubborn", "forgetful": "forgetful", "messy": "messy", "noisy": "noisy", "loud": "noisy",
    "cheerful": "cheerful", "happy": "cheerful", "sad": "sad", "dreamy": "dreamy", "restless": "restless",
    "tiny": "tiny", "little": "tiny", "small": "tiny", "old": "old", "young": "young", "hungry": "hungry",
    "careless": "careless", "rude": "rude",
}


# ---- props ------------------------------------------------------------------------------------------------------

PROP_WORDS = frozenset(
    "kite lantern treasure map boat balloon cake cookies apples honey cheese pizza paintbrush paint brush easel "
    "book books hat scarf umbrella drum guitar violin flute piano song ball football crown sword shield key "
    "door box chest shell shells feather feathers rocket telescope star stars moon flower flowers seed seeds "
    "acorn acorns bell blanket pillow teddy candle letter compass rope ladder bicycle bike wagon basket berries "
    "carrot carrots cupcake pie bread sandcastle snowman sled wand potion egg eggs bone bridge tower clock clocks "
    "jar button buttons pebble pebbles ribbon mirror necklace ring crayons pencil camera tent raft net grapes "
    "grape lamp loaf loaves gear gears watch hammer anchor ship sack coin coins".split())


@functools.lru_cache(maxsize=1)
def setting_lookup() -> dict[str, str]:
    """Every setting keyword (one or two words) -> its setting."""
    out: dict[str, str] = {}
    for setting, words in SETTING_KEYWORDS.items():
        out.setdefault(setting, setting)
        for w in words:
            out.setdefault(w, setting)
    return out


def setting_of(word: str) -> str | None:
    """The setting a word or two-word phrase names, or None."""
    w = (word or "").strip().lower()
    table = setting_lookup()
    if w in table:
        return table[w]
    if w.endswith("s") and w[:-1] in table:
        return table[w[:-1]]
    return None


def resolve_setting(text: str) -> str:
    """The setting a free-text place names ('the old lighthouse by the ocean' -> 'lighthouse'): a setting's own
    name, else the earliest keyword (two-word keywords first at the same place); the fallback a meadow."""
    import re

    low = (text or "").strip().lower().replace("_", " ").replace("-", " ")
    if low in SETTING_KEYWORDS:
        return low
    words = re.findall(r"[a-z]+", low)
    table = setting_lookup()
    for i in range(len(words)):
        for n in (2, 1):
            piece = " ".join(words[i:i + n])
            for cand in (piece, piece[:-1] if n == 1 and piece.endswith("s") and len(piece) > 3 else None):
                if cand and cand in table:
                    return table[cand]
    return FALLBACK_SETTING
