"""Story shapes as phrase grammars: beats made of slots, each slot a list of alternative templates.

Template syntax (plain data, filled by the planner):
  {hero} {He} {his} {him} {kind} {a_hero} {friend} {a_friend} {fhe} {fhis} {fhim} {friend2} {place}
  {home} {home_place} {far_place} {goal} {goal_ing} {goal_past} {goal_me} {goal_you} {moral} {thing}
  "||" separates lines; a part starting "hero:", "friend:" or "friend2:" is that character's speech.
  A leading "~" marks a template for kids only, "^" one for teens and adults only.
A capitalised slot ({He}, {His}, {Fhe}) is the same value with a capital letter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Beat:
    """One scene's worth of story: core slots in order, extra sentences to pad, and picture hints."""

    key: str
    role: str  # intro, want, inciting, attempt, dark, climax, end
    core: tuple[tuple[str, ...], ...]
    extra: tuple[str, ...] = ()
    place: str = "home"  # home, away, goal, night
    time: str = "day"
    mood: str = "calm"
    cast: str = "hero"  # hero, friend, all
    action: tuple[str, ...] = ()
    props: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shape:
    """A whole story shape: its beats and which beats go first when scenes are few."""

    name: str
    beats: tuple[Beat, ...]
    drop_order: tuple[str, ...]
    keywords: tuple[str, ...] = field(default=())


def _b(key, role, core, extra=(), **kw) -> Beat:
    return Beat(key, role, tuple(tuple(s) for s in core), tuple(extra), **{k: tuple(v) if isinstance(v, list)
                                                                          else v for k, v in kw.items()})


# ---- shared phrase material ---------------------------------------------------------------------------------

TRAIT_LINES = {
    "shy": ["{He} spoke in a whisper and went pink whenever anyone said hello.",
            "{He} was so shy that {he} often hid behind the nearest bush when visitors came.",
            "When others laughed and played, {hero} watched quietly from the edge."],
    "quiet": ["{He} liked quiet corners and quiet mornings best of all.",
              "{He} hardly ever spoke, but {he} noticed everything."],
    "brave": ["{He} was brave about almost everything, or at least {he} liked to think so.",
              "Nothing much frightened {hero}, not thunder and not the dark."],
    "greedy": ["{He} wanted more of everything: more berries, more shiny things, more of the best spot in the sun.",
               "Whatever {hero} found, {he} kept, and {he} never shared a single crumb.",
               "{His} pockets were always full, and still {he} wanted more."],
    "proud": ["{He} thought {he} was the finest {kind} who had ever lived, and {he} told everyone so.",
              "Every morning {he} admired {his} reflection in the pond for a very long time.",
              "{He} liked to boast, and {he} liked to be admired even more."],
    "lazy": ["{He} loved long naps and hated hard work.",
             "While everyone else was busy, {hero} could usually be found snoozing in the sun."],
    "curious": ["{He} asked questions about everything: why the sky was blue, where the wind went, what lay beyond the hill.",
                "{His} nose was always poking into something new."],
    "lonely": ["{He} had nobody to play with, and the days felt very long.",
               "Most evenings {hero} sat alone, wishing for a friend."],
    "clumsy": ["{He} tripped over roots, bumped into doors and dropped almost everything {he} carried.",
               "Wherever {hero} went, a little crash followed."],
    "sleepy": ["{He} yawned at breakfast, yawned at lunch and yawned most of all at bedtime.",
               "{He} was always a little bit sleepy, even in the middle of the day."],
    "grumpy": ["{He} grumbled at the rain, grumbled at the sun and grumbled at anyone who said good morning.",
               "{His} frown was famous all over {home_place}."],
    "kind": ["{He} always had a kind word and a spare snack for anyone who needed one.",
             "Everyone knew {hero} had the kindest heart in {home_place}."],
    "clever": ["{He} could solve any puzzle, and {he} loved nothing more than a tricky problem.",
               "{His} head was always full of clever ideas."],
    "silly": ["{He} told the silliest jokes and laughed at them loudest of all.",
              "{He} once wore a teapot as a hat, just to see who would notice."],
    "scared": ["Lots of things frightened {hero}: loud noises, deep shadows and anything new.",
               "{He} was a little bit scared of almost everything."],
    "bossy": ["{He} liked to tell everyone exactly what to do.",
              "{He} gave orders from morning till night, whether anyone listened or not."],
    "impatient": ["{He} could never wait for anything, not even for the kettle to boil.",
                  "{He} wanted everything to happen right now, this very minute."],
    "jealous": ["Whenever someone else had something nice, {hero} wanted it too.",
                "{He} often looked at others and wished {he} had what they had."],
    "stubborn": ["Once {hero} made up {his} mind, nothing could change it.",
                 "{He} never, ever listened to advice."],
    "forgetful": ["{He} forgot where {he} put things, forgot what day it was and once forgot {his} own birthday.",
                  "{His} memory was as full of holes as an old sock."],
    "messy": ["{His} home was a jumble of odds and ends that {he} never tidied.",
              "{He} left a trail of crumbs and clutter wherever {he} went."],
    "noisy": ["{He} sang loudly, laughed loudly and even whispered loudly.",
              "Everyone always knew when {hero} was coming."],
    "cheerful": ["{He} hummed while {he} worked and smiled at everyone {he} met.",
                 "Even on rainy days, {hero} found something to be glad about."],
    "sad": ["Lately {hero} had felt a little grey inside, like a cloudy afternoon.",
            "{He} did not smile much these days."],
    "dreamy": ["{He} spent whole afternoons watching the clouds drift by.",
               "{His} head was always somewhere up among the daydreams."],
    "restless": ["{He} could never sit still for long.", "{He} always seemed to be itching to go somewhere new."],
    "tiny": ["{He} was so small that even the daisies seemed tall.",
             "Being small meant that most things in the world were much bigger than {hero}."],
    "old": ["{He} had seen many summers, and {he} still had one wish left.",
            "{He} was old and wise, but not too old to learn something new."],
    "young": ["{He} was still very young, and the world felt enormous.",
              "{He} had only just learned to find {his} own way home."],
    "hungry": ["{His} tummy was always rumbling, no matter how much {he} ate.",
               "{He} thought about snacks almost all of the time."],
    "careless": ["{He} rushed through everything and never looked where {he} was going.",
                 "{He} broke things, lost things and never said sorry."],
    "rude": ["{He} never said please and never said thank you.",
             "{He} pushed to the front of every queue."],
}
GENERIC_TRAIT_LINES = [
    "{He} was small, but {his} wishes were big.",
    "{He} had a good heart, a busy mind and a head full of questions.",
    "{He} liked quiet mornings, warm afternoons and the sound of the wind.",
    "Everyone in {home_place} knew {hero}, and most of them liked {him} very much.",
]

# what changes in the hero at the end, by trait
TRAIT_CHANGE = {
    "shy": "{hero} was not quite so shy anymore", "quiet": "{hero} found {his} voice",
    "greedy": "{hero} found that sharing felt far better than keeping",
    "proud": "{hero} stopped boasting and started listening", "lazy": "{hero} learned to enjoy a good day's work",
    "lonely": "{hero} was never lonely again", "scared": "{hero} was a good deal braver than before",
    "grumpy": "{hero} smiled a little more each day", "bossy": "{hero} learned to ask instead of tell",
    "impatient": "{hero} learned that good things are worth waiting for",
    "jealous": "{hero} learned to be glad for others", "stubborn": "{hero} learned to listen to a friend",
    "careless": "{hero} took a little more care", "rude": "{hero} remembered {his} please and thank you",
    "sad": "{hero} felt the sunshine come back inside", "clumsy": "{hero} stopped minding the odd tumble",
}

MORALS = {
    "greedy": ["Those who share have more than those who keep.", "Greed loses what generosity gains."],
    "proud": ["Pride goes before a fall.", "It is better to be kind than to be admired."],
    "lazy": ["Hard work today brings comfort tomorrow.", "Those who prepare are ready when winter comes."],
    "impatient": ["Slow and steady wins the race.", "Good things come to those who wait."],
    "jealous": ["Be glad of what you have.", "Another's luck takes nothing away from yours."],
    "stubborn": ["A wise heart listens.", "Even the strong do well to heed good advice."],
    "bossy": ["Friends are won by kindness, not by orders.", "A good leader listens first."],
    "careless": ["Look before you leap.", "A little care saves a lot of trouble."],
    "rude": ["Kind words cost nothing and are worth a great deal.", "Manners open more doors than pushing."],
    "scared": ["Courage is being afraid and trying anyway.", "Fear shrinks when you face it."],
    "shy": ["A friendly word can open any door.", "Small voices are worth hearing too."],
}
GENERIC_MORALS = ["Little by little, great things are done.", "A friend in need is a friend indeed.",
                  "Kindness is never wasted.", "Never give up on what matters to you.",
                  "Together is better than alone."]

# goal topic -> climax flourish lines
FLOURISH = {
    "fly": ["{He} rose above {home_place}, and the wind sang in {his} ears.",
            "Below {him}, the world looked like a patchwork quilt, all greens and golds.",
            "{He} swooped and twirled until {he} was giddy with joy."],
    "paint": ["Colours swirled from {his} brush: sunset orange, sea blue and buttercup yellow.",
              "When {he} stepped back, the picture seemed to glow.",
              "Every stroke showed something {he} loved."],
    "swim": ["{He} glided through the cool water as if {he} had always known how.",
             "Bubbles tickled {his} nose as {he} dived and twirled."],
    "sing": ["{His} song rose clear and sweet, and everyone stopped to listen.",
             "The notes floated up like bright little birds."],
    "dance": ["{He} spun and leapt and twirled, light as a leaf in the wind.",
              "Soon everyone was dancing too."],
    "climb": ["At the very top, {he} could see the whole wide world.", "The wind up there smelled of snow and sky."],
    "bake": ["The smell of it drifted all the way down the lane.", "It was golden, warm and perfectly delicious."],
    "shine": ["A soft silver glow spread across the sky, brighter than ever.",
              "Far below, sleepy faces looked up and smiled."],
    "find": ["There it was, right where nobody had thought to look.", "It gleamed in the light, just as {he} had hoped."],
    "face": ["It was not nearly as frightening as {he} had feared.", "{He} stood tall, and {his} heart felt strong."],
    "read": ["The words on the page suddenly made sense, one after another.",
             "A whole new world opened between the covers."],
    "": ["It felt even better than {he} had ever dreamed.", "{His} heart was so full it felt ready to burst.",
         "For a moment, everything was perfectly still and perfectly right.", "{He} could hardly believe it.",
         "All that practice had been worth it.", "^It was, {he} thought, the finest moment of {his} whole life.",
         "~{He} wanted to laugh and cry and shout all at once."],
}
GOAL_TOPICS = {  # word in the goal -> (topic, scene setting for the climax, props)
    "fly": ("fly", "sky", ["feather"]), "soar": ("fly", "sky", []), "flying": ("fly", "sky", []),
    "paint": ("paint", None, ["paintbrush", "easel"]), "draw": ("paint", None, ["crayons", "paper"]),
    "swim": ("swim", "lake", []), "dive": ("swim", "sea", []), "sail": ("swim", "sea", ["boat"]),
    "sing": ("sing", None, []), "dance": ("dance", None, []), "climb": ("climb", "mountains", ["rope"]),
    "bake": ("bake", "kitchen", ["oven", "mixing bowl"]), "cook": ("bake", "kitchen", ["pot"]),
    "shine": ("shine", "sky", ["stars"]), "glow": ("shine", "sky", []), "moon": ("fly", "sky", ["moon"]),
    "find": ("find", None, []), "treasure": ("find", "cave", ["treasure chest", "map"]),
    "face": ("face", None, []), "read": ("read", None, ["book"]), "friend": ("", None, []),
    "star": ("shine", "sky", ["star"]), "stars": ("shine", "sky", ["stars"]), "space": ("fly", "space", ["rocket"]),
}

DEFAULT_GOALS = {
    "spine": ["see what lay beyond the far hills", "find a true friend", "make something truly wonderful",
              "see the sea for the very first time", "find the place where rainbows end"],
    "fable": ["keep every shiny thing for {him}self", "prove {he} was the best in all the land",
              "win the great race", "have the biggest share of the harvest"],
    "bedtime": ["count every star in the sky", "find where the moon goes to sleep", "catch a falling star",
                "hear the song of the night wind"],
    "adventure": ["find the hidden treasure", "reach the top of the tallest mountain", "find the lost golden key",
                  "discover what lay at the end of the secret map"],
}
FABLE_WANTS = {  # trait -> goal for a fable when the prompt gives none
    "greedy": "keep every shiny thing for {him}self", "proud": "prove {he} was the finest of all",
    "lazy": "get through the whole summer without doing a scrap of work", "impatient": "win the great race",
    "jealous": "have everything the others had", "stubborn": "cross the river {his} own way",
    "bossy": "be in charge of everyone", "careless": "get everything done in a hurry",
    "rude": "always be first in line",
}

ARRIVALS = ["came wandering by", "stopped right beside {him}", "appeared on the path",
            "peeked around a tree", "came hurrying along"]

ATTEMPT_OPENERS = ["The next morning", "The day after that", "Another day", "Later that week", "Once again",
                   "Early the next day", "After a good night's sleep", "That afternoon", "When the sun came up",
                   "A few days later", "On a breezy morning", "On a grey, drizzly day", "One blustery afternoon",
                   "As the frost melted", "Just after breakfast", "Long before lunch", "By the light of dawn",
                   "Once the rain had stopped", "On the first warm day", "Some time later", "The following week",
                   "After a short rest", "Bright and early", "With fresh hope", "Refusing to give up"]
ATTEMPT_WAYS = ["tried again from {place}", "set off once more for {place}", "practised for hours in {place}",
                "had a brand new idea and hurried to {place}", "gave it another go in {place}",
                "tried a different way out in {place}", "went to {place} to try something new",
                "asked {friend} for a tip and tried again in {place}", "made a careful plan and took it to {place}",
                "gathered {his} courage and tried once more in {place}"]
OBSTACLES = ["a gust of wind knocked {him} sideways", "{he} slipped on a wet stone", "{he} got all in a muddle",
             "a puddle appeared in just the wrong place", "{he} lost {his} balance at the last moment",
             "a noisy crowd of geese got in the way", "{his} plan fell apart like a wet paper boat",
             "the path turned steep and slippery", "a sudden shower soaked {him} to the skin",
             "{he} tumbled into a heap of leaves", "{he} went left when {he} meant to go right",
             "everything wobbled and then went wrong", "a prickly bramble caught hold of {him}",
             "a sneeze came at the very worst moment", "the ground was bumpier than it looked",
             "the light faded before {he} was ready", "{he} rushed, and rushing never helps",
             "{he} forgot the most important step", "a log rolled away under {him}",
             "a bossy crow laughed and put {him} off", "the fog came down thick and grey",
             "{his} knees knocked together with nerves", "it started to snow, of all things",
             "a snail crossed {his} path and {he} stopped to let it pass"]
LESSONS = ["that going slowly can be the quickest way", "to look before {he} leapt",
           "that a wobble is not the same as a fall", "to listen to the wind",
           "to take one small step at a time", "that resting is part of trying",
           "that laughing at a mistake makes it smaller", "to ask for help sooner",
           "to start again from the beginning", "to keep {his} eyes on where {he} wanted to go",
           "that being tired is not the same as being beaten", "to breathe deeply before {he} began",
           "that every try gets {him} a little closer", "that practice is a kind of magic",
           "to trust {his} own feet"]
LESSON_FRAMES = ["This time, {hero} learned {lesson}.", "At least {he} learned {lesson}.",
                 "Still, {hero} had learned something: {lesson_bare}.", "{He} learned {lesson}, which was something.",
                 "That day's lesson was {lesson_plain}."]
HERO_CRIES = ["Oh, bother", "Not again", "Oops", "Well", "Hmm", "Oh dear", "Goodness", "Ouch", "Drat",
              "Whoops-a-daisy", "Well, well", "Phew", "Oh no"]
HERO_THOUGHTS = ["I will get it next time.", "I am not giving up.", "Maybe a little slower?",
                 "That was closer than before!", "One more try.", "I think I see what went wrong.",
                 "Tomorrow is another day.", "I nearly had it!", "That was a funny one.",
                 "I can do this.", "Let me think about that.", "I will try it another way.",
                 "Practice, practice, practice."]
FRIEND_CHEERS = ["You are getting better every time, {hero}.", "Keep going, {hero}. I believe in you.",
                 "Even the tallest tree was once a seed.", "Try breathing slowly first.",
                 "Mistakes are how we learn, {hero}.", "You were so close that time!",
                 "Rest a little, then try again.", "Look how far you have come already.",
                 "Do not worry, {hero}. Tomorrow you will be stronger.", "That was your best try yet!",
                 "Remember what I told you, and go gently.", "Every try counts, {hero}."]
SPEECH_INTROS = ["{hero} huffed.", "{hero} sat up and brushed {him}self off.", "{hero} shook {his} head.",
                 "{hero} laughed in spite of {him}self.", "{hero} took a steadying breath.",
                 "{hero} wrinkled {his} nose.", "{hero} gave a little sigh."]
INTRO_TAILS = ["", " and looked up", " and grinned", ", then laughed", " and thought hard", " for a moment",
               " and tried to smile"]
FRIEND_INTROS = ["{friend} smiled.", "{friend} nodded kindly.", "{friend} came closer.", "{friend} chuckled.",
                 "{friend} hurried over.", "{friend} tapped {fhis} chin.", "{friend} gave a cheerful hoot of a laugh.",
                 "{friend} patted {hero} on the shoulder.", "{friend} gave an encouraging wink."]

# scene detail sentences by setting: "thing that happens"
DETAILS = {
    "forest": ["leaves whispered overhead", "a woodpecker drummed on a hollow trunk", "pine needles crunched underfoot",
               "sunlight fell in golden stripes between the trees", "mushrooms peeked out from the moss"],
    "meadow": ["buttercups nodded in the breeze", "bees buzzed from flower to flower", "the long grass swished and swayed",
               "a lark sang high above", "dandelion seeds floated past like tiny umbrellas"],
    "hills": ["the green hills rolled away like sleeping giants", "sheep dotted the far slopes",
              "the wind brushed the heather", "a stream tumbled down between the stones"],
    "mountains": ["snowy peaks glittered in the distance", "the air was thin and cold and clean",
                  "an eagle circled far overhead", "loose pebbles clattered down the slope"],
    "sea": ["waves rolled and splashed", "gulls cried over the water", "the sea sparkled all the way to the sky",
            "salty spray danced in the air"],
    "beach": ["the sand was warm and soft", "little crabs scuttled sideways", "shells glinted along the shore",
              "the waves left lacy foam on the sand"],
    "river": ["the river chattered over its stones", "dragonflies zipped above the water",
              "reeds bowed along the bank", "a fish flicked its silver tail"],
    "city": ["buses rumbled past", "windows glowed in the tall buildings", "pigeons strutted along the pavement",
             "a busker played a cheerful tune on the corner"],
    "village": ["chimneys puffed little clouds of smoke", "a church bell rang the hour", "hens clucked in a yard",
                "the baker's window was full of warm loaves"],
    "snow": ["snowflakes drifted down without a sound", "the snow squeaked underfoot", "icicles sparkled like glass",
             "everything was white and hushed"],
    "desert": ["the sand dunes rippled like a golden sea", "the sun blazed in a wide blue sky",
               "a lizard darted into the shade", "the wind drew patterns in the sand"],
    "cave": ["water dripped somewhere in the dark", "the walls glittered with tiny crystals",
             "echoes bounced off the stone", "a cool draught blew from deep inside"],
    "space": ["stars glittered in every direction", "a ringed planet floated by", "everything was silent and vast",
              "a comet streaked past with a glowing tail"],
    "sky": ["fluffy clouds drifted by", "the wind whistled softly", "the world below looked tiny",
            "birds wheeled and dipped nearby"],
    "bedroom": ["the night-light glowed softly", "the curtains stirred in the breeze", "the blanket was warm and soft",
                "a clock ticked quietly on the shelf"],
    "kitchen": ["the kettle murmured on the stove", "the kitchen smelled of cinnamon", "pots and pans gleamed on their hooks",
                "flour dusted the wooden table"],
    "classroom": ["chalk squeaked on the board", "paper stars hung from the ceiling", "the clock ticked above the door",
                  "crayons rolled across a desk"],
    "castle hall": ["banners fluttered on the stone walls", "a great fire crackled in the hearth",
                    "suits of armour stood in silent rows", "light poured through tall coloured windows"],
    "garden": ["sunflowers turned their faces to the sun", "a robin hopped along the path", "the roses smelled sweet",
               "a watering can sat beside the beans"],
    "lake": ["the lake lay still as a mirror", "ducks paddled among the reeds", "ripples spread in wide circles",
             "willows trailed their branches in the water"],
    "lighthouse": ["the great lamp turned slowly at the top of the tower", "waves boomed against the rocks below",
                   "gulls wheeled around the striped tower", "the smell of salt and seaweed filled the air"],
    "shop": ["clocks ticked from every shelf", "a little bell jingled above the door",
             "the counter was crowded with tiny gears and springs", "a tall clock chimed the hour in a deep voice"],
    "bakery": ["warm loaves cooled on the racks", "the oven glowed orange in the corner",
               "the whole bakery smelled of fresh bread", "flour drifted like snow over the counter"],
    "workshop": ["tools hung neatly on the wall", "sawdust curled across the floor", "a lamp hummed over the workbench",
                 "gears and springs lay sorted in little tins"],
    "farm": ["the cows lowed in the barn", "hens pecked about the yard", "the tractor rumbled in the far field",
             "hay bales stood in golden rows"],
    "castle": ["flags snapped on the tall towers", "the drawbridge creaked", "guards marched along the walls",
               "the castle's stone walls glowed in the light"],
    "street": ["shop bells jingled along the street", "the cobbles were worn smooth by many feet",
               "window boxes spilled over with flowers", "a cat watched from a doorstep"],
    "moon": ["grey dust puffed up with every step", "the Earth hung blue and white in the black sky",
             "craters stretched away like giant bowls", "everything was silent and still",
             "footprints stayed sharp in the dust, for no wind ever blew there",
             "far off, the moon's mountains glowed silver"],
}
# weather details, used before the setting's own when the prompt named the weather
WEATHER_DETAILS = {
    "storm": ["the wind howled and rattled everything it could find", "thunder rumbled across the sky",
              "lightning flashed and lit up the whole world for a moment", "the rain came down in silver sheets"],
    "snow": ["snowflakes drifted down without a sound", "the snow squeaked underfoot", "everything was white and hushed"],
    "rain": ["rain pattered on every leaf and roof", "puddles shivered in the rain", "raindrops dripped from every edge"],
    "fog": ["the fog wrapped everything in soft grey", "shapes came and went in the mist",
            "the fog muffled every sound"],
    "wind": ["the wind tugged and whistled", "leaves went tumbling past in the wind"],
}
DETAIL_OPENERS = ["All around, ", "Nearby, ", "In {place}, ", "Out in {place}, ", ""]
DETAIL_TAILS = ["", " as {hero} went on", " and {hero} stopped to look", " as if to cheer {him} on"]

TONE_EXTRAS = {
    "funny": ["{hero} hiccuped so loudly that a squirrel dropped its acorn.",
              "{friend} laughed so hard that {fhe} had to sit down.",
              "Somewhere, a frog made a very rude noise, and everyone giggled.",
              "{hero} tried to look serious, but {his} ears would not stop wiggling."],
    "spooky": ["Shadows stretched long and strange across the ground.", "Somewhere, an owl hooted twice.",
               "A chilly breeze whispered through the branches.", "Something rustled in the dark, then went still."],
    "gentle": ["Everything was soft and slow and kind.", "A warm breeze carried the smell of clover.",
               "The light was gentle and golden."],
    "exciting": ["{His} heart was racing.", "There was not a moment to lose!", "Everything seemed to happen at once."],
}
TONE_ALIASES = {"silly": "funny", "humorous": "funny", "comic": "funny", "scary": "spooky", "creepy": "spooky",
                "calm": "gentle", "soothing": "gentle", "cosy": "gentle", "cozy": "gentle", "thrilling": "exciting",
                "adventurous": "exciting"}


# ---- the shapes -----------------------------------------------------------------------------------------------

SPINE = Shape("spine", (
    _b("once", "intro", [
        ["Once upon a time, in {home}, there lived {a_hero} named {hero}.",
         "Once upon a time there was {a_hero} called {hero}, who lived in {home}.",
         "Once upon a time, {a_hero} named {hero} made {his} home in {home}.",
         "Once upon a time, in {home}, lived {a_hero} by the name of {hero}.",
         "Once upon a time, not so very long ago, {a_hero} called {hero} lived in {home}."],
        ["{trait_line}"],
    ], ["{He} knew every path and puddle in {home_place}.",
        "^It was a quiet life, and mostly a happy one.", "{He} wore {item} every single day.",
        "Mornings there smelled of dew and wild thyme.", "{His} days were small and simple and mostly sunny.",
        "~{He} had a favourite cup, a favourite song and a favourite cloud.",
        "Nobody ever had to remind {him} to say good morning.", "^Life there moved slowly, like honey off a spoon."],
       place="home", time="dawn", mood="calm", action=["{hero} at home", "{hero} greeting the morning"]),
    _b("everyday", "want", [
        ["Every day, {hero} dreamed of {goal_ing}.",
         "Every day, {hero} {routine}, wishing with all {his} heart that {he} could {goal}.",
         "Every morning, {hero} woke up thinking about {goal_ing}.",
         "Every day {hero} {routine}, and every day {he} wished to {goal}.",
         "Every single day, {hero} thought about how wonderful it would be to {goal}."],
        ["{He} sighed a small sigh. || hero: If only I could {goal_me}.",
         "{hero} whispered a secret to the wind. || hero: One day, I am going to {goal_me}.",
         "Sometimes {he} said it out loud, just to hear how it sounded. || hero: I will {goal_me}. I will!",
         "{He} told {his} wish to a passing beetle. || hero: Do you think someone like me could ever {goal_me}?",
         "hero: Why not me? || {He} asked the empty sky, and the sky did not answer.",
         "{He} drew a picture of it in the dust. || hero: That is me, the day I {goal_past_me}."],
    ], ["But {he} did not know how to begin.", "^The wish grew bigger with every passing week.",
        "Nobody {he} knew had ever done such a thing.", "{He} did not dare tell anyone, not yet.",
        "The others said it could not be done.", "{He} had no idea where to start.",
        "^{He} turned the idea over and over, like a smooth stone.", "It felt like the most important wish in the world.",
        "{He} kept the wish tucked away, like a pebble in a pocket.", "It seemed impossible, but {he} could not stop hoping.",
        "~It was the biggest wish a {kind} had ever had."],
       place="home", time="day", mood="wistful", action=["{hero} daydreaming about {goal_ing}"]),
    _b("one_day", "inciting", [
        ["Until one day, {a_friend} named {friend} {arrival}.",
         "Until one day, something unexpected happened: {a_friend} called {friend} {arrival}.",
         "But one bright morning, everything changed, because {a_friend} named {friend} {arrival}.",
         "Until one day, when the wind was just right, {a_friend} named {friend} {arrival}."],
        ["{friend} looked at {hero} kindly. || friend: Why do you look so wistful, little one?",
         "friend: Hello there. You look like someone with a big wish. || {friend} said it with a twinkle.",
         "{friend} peered at {hero} over {fhis} {f_item_word}. || friend: Something is on your mind, I can tell.",
         "friend: Good morning, {hero}! Why the long face? || {friend} settled down nearby.",
         "{friend} tilted {fhis} head. || friend: What is it you wish for, {hero}?",
         "friend: You have been sighing all morning. || {friend} sat down beside {hero}. || friend: Tell me what is wrong."],
        ["{hero} took a deep breath. || hero: I want to {goal_me}, but I do not know how.",
         "{hero} hesitated, then the words tumbled out. || hero: I have always wanted to {goal_me}.",
         "hero: Promise you will not laugh? I want to {goal_me}. || {hero} held {his} breath.",
         "{hero} blushed. || hero: It is silly, really. I want to {goal_me}.",
         "hero: Can you keep a secret? I want to {goal_me}. || {hero} looked around to be sure nobody was listening.",
         "{hero} looked at {his} feet. || hero: I want to {goal_me}. Everyone will laugh.",
         "hero: I wish I could {goal_me}. || {hero} said it so quietly that {friend} had to lean in close."],
        ["friend: Then we will find a way together. || {friend} gave a warm smile.",
         "{friend} thought for a moment. || friend: Every big thing starts with a small try. Shall we begin?",
         "friend: What a splendid wish. I can help, if you like. || {hero} nodded so hard {he} nearly fell over.",
         "{friend} beamed. || friend: Then tomorrow, we start.",
         "{friend} chuckled softly. || friend: Nobody laughs at a brave wish. I will help you.",
         "friend: I know just where to start. || {friend} began to explain."],
    ], ["{friend} was {friend_desc}.", "^{friend} had a calm, unhurried way about {fhim}."],
       place="home", time="day", mood="curious", cast="friend",
       action=["{friend} meets {hero}", "{hero} and {friend} talking"]),
    _b("because", "attempt", [
        ["Because of that, {hero} practised every day.",
         "Because of that, {hero} and {friend} began to practise.",
         "Because of that, {hero} tried, and tried, and tried again.",
         "Because of that, {hero} got up early each morning to practise.",
         "Because of that, {hero} and {friend} went out to {place} to begin.",
         "Because of that, {friend} showed {hero} the very first step.",
         "Because of that, {hero} made a plan, a list and a very determined face."],
        ["{first_try}"],
        ["{hero_reaction}"],
        ["{friend_reaction}"],
    ], [], place="away", time="day", mood="determined", cast="friend",
       action=["{hero} trying to {goal}", "{hero} practising with {friend}"]),
    _b("finally", "climax", [
        ["Until finally, one golden morning, {hero} {goal_past}!",
         "Until finally, with {friend} cheering {him} on, {hero} took a deep breath and {goal_past}.",
         "Until finally, when {he} least expected it, {hero} {goal_past}.",
         "Until finally, on the brightest day of the year, {hero} {goal_past}!"],
        ["{flourish}"],
        ["hero: I did it! I really did it!", "hero: Look, {friend}! Look at me!", "hero: It worked! It finally worked!",
         "hero: Oh, {friend}, this is the best day ever!", "{hero} laughed out loud. || hero: I knew I could!",
         "hero: Wheee! || {hero} could not stop grinning."],
        ["{friend} cheered. || friend: I knew you could.", "friend: Well done, {hero}! || {friend} wiped away a happy tear.",
         "{friend} clapped and clapped.", "{friend} whooped with delight. || friend: Bravo, {hero}, bravo!",
         "friend: Look at you! || {friend} called, proud as could be."],
    ], ["{flourish}"], place="goal", time="day", mood="joyful", cast="friend",
       action=["{hero} {goal_ing} at last", "{hero} {goal_ing} while {friend} cheers"]),
    _b("ever_since", "end", [
        ["From that day on, {change}.",
         "And after that, {change}.",
         "And from then on, {change}."],
        ["Whenever someone else needed help, {hero} was there, just as {friend} had been for {him}.",
         "{He} and {friend} became the very best of friends.",
         "Now, on bright mornings, you might see {hero} {goal_ing}, with {friend} close by.",
         "Every evening, {hero} and {friend} sat together and talked about the day."],
        ["~And {hero} never forgot that brave wishes can come true.", "^Some wishes, it turns out, only need a friend and a first step.",
         "And that is how {hero} learned that nothing is too big to try.",
         "And if you listen closely on a quiet evening, you might just hear {him} laughing.",
         "~And {he} still keeps {item} for luck.", "The end."],
    ], ["{friend2_line}"], place="home", time="dusk", mood="content", cast="all",
       action=["{hero} and {friend} at sunset", "{hero} happy at home"]),
), drop_order=("because", "everyday", "one_day"))

FABLE = Shape("fable", (
    _b("intro", "intro", [
        ["There was once {a_hero} named {hero}, who lived in {home}.",
         "In {home} there lived {a_hero} called {hero}.",
         "Long ago, {a_hero} named {hero} lived in {home}.",
         "{A_hero} named {hero} once lived in {home}."],
        ["{trait_line}"],
    ], ["{He} thought that was just the way things ought to be.", "^{His} neighbours had long ago stopped arguing with {him}.",
        "{He} was not wicked, only a little foolish."],
       place="home", time="day", mood="calm", action=["{hero} in {home_place}"]),
    _b("want", "want", [
        ["More than anything, {hero} wanted to {goal}.",
         "One summer, {hero} decided that {he} would {goal}.",
         "{hero} had one great ambition: to {goal}.",
         "It was not long before {hero} set {his} heart on a plan: {he} would {goal}."],
        ["hero: Nobody can stop me. || {hero} puffed out {his} chest.",
         "{He} rubbed {his} {paws} together. || hero: This will be easy.",
         "hero: Just wait and see what I can do. || {He} grinned to {him}self."],
    ], ["{He} never stopped to think about anyone else.", "^{He} did not notice the others shaking their heads."],
       place="home", time="day", mood="eager", action=["{hero} making a plan"]),
    _b("warning", "inciting", [
        ["{A_friend} named {friend} had been watching.",
         "Now, {a_friend} called {friend} lived nearby, and {fhe} had seen it all before.",
         "High on a branch sat {a_friend} named {friend}, who had watched everything."],
        ["friend: Take care, {hero}. Wanting too much can leave you with nothing. || {friend} spoke gently.",
         "{friend} shook {fhis} head. || friend: Think of the others, {hero}, and think again.",
         "friend: Slow down, my friend. Not every plan is a good plan. || {friend} warned."],
        ["hero: What do you know about it? || {hero} laughed and went on {his} way.",
         "{hero} only sniffed. || hero: I know exactly what I am doing.",
         "hero: Mind your own business. || {hero} turned {his} back."],
    ], ["{friend} sighed, for {fhe} knew how the story would end."], place="home", time="day", mood="uneasy",
       cast="friend", action=["{friend} warning {hero}"]),
    _b("folly", "attempt", [
        ["So {hero} went ahead with {his} plan.", "And so {hero} tried to {goal}, all alone.",
         "{hero} set out to {goal}, ignoring every warning."],
        ["{folly_line}"],
        ["{hero_reaction}"],
    ], ["{He} did not stop to rest, and {he} did not stop to think.", "The others watched and shook their heads.",
        "Soon {he} was tired, cross and all alone.", "^It was harder than it had looked, and lonelier too."],
       place="away", time="dusk", mood="tense", action=["{hero} in trouble"]),
    _b("lesson", "climax", [
        ["Cold and sorry, {hero} sat down and thought for a long time.",
         "At last, {hero} understood what {friend} had meant.",
         "That night, {hero} could not sleep for thinking."],
        ["{friend} came and sat beside {him}. || friend: It is never too late to choose differently.",
         "When {friend} found {him}, {hero} hung {his} head. || hero: You were right, {friend}. I am sorry.",
         "hero: I was foolish. || {hero} said it softly, and {friend} nodded."],
        ["{amends}"],
    ], ["{His} friends gathered round, and nobody said I told you so."], place="home", time="dusk", mood="thoughtful",
       cast="all", action=["{hero} and {friend} making peace"]),
    _b("moral", "end", [
        ["From then on, {change}.", "After that day, {change}.", "And from that day on, {change}."],
        ["Everyone agreed that {hero} had grown wiser.", "{hero} and {friend} became good friends.",
         "The whole of {home_place} was happier for it."],
        ["And the moral of this fable? {moral}", "The moral is simple. {moral}", "And so we learn. {moral}"],
    ], ["{friend2_line}"], place="home", time="day", mood="content", cast="all",
       action=["{hero} sharing with friends", "everyone together"]),
), drop_order=("want", "folly", "warning"))

BEDTIME = Shape("bedtime", (
    _b("evening", "intro", [
        ["When the sun sank low over {home_place}, {a_hero} named {hero} curled up in {home}.",
         "In {home}, as the sky turned pink and gold, {a_hero} called {hero} was getting ready for bed.",
         "The evening was soft and purple, and {a_hero} named {hero} was snug in {home}.",
         "As the first star appeared, {a_hero} named {hero} yawned a great big yawn in {home}."],
        ["{trait_line}"],
    ], ["The birds sang their last sleepy songs.", "~The air smelled of warm milk and lavender.",
        "The shadows grew long and blue."],
       place="home", time="dusk", mood="cozy", action=["{hero} getting ready for bed"]),
    _b("wish", "want", [
        ["But tonight, {hero} could not settle, because {he} wanted to {goal}.",
         "Tonight, though, {hero} was thinking about how lovely it would be to {goal}.",
         "{hero} lay awake, dreaming of {goal_ing}."],
        ["{He} whispered to the moon. || hero: Please, could I {goal_me}, just this once?",
         "hero: I wonder what it would be like to {goal_me}. || {He} said it in a tiny voice.",
         "{He} hugged {his} blanket. || hero: Just one little wish, and then I will sleep."],
    ], ["The moon peeped in at the window.", "Outside, the crickets began their gentle song."],
       place="night_home", time="night", mood="dreamy", action=["{hero} awake under the moon"]),
    _b("visitor", "inciting", [
        ["Then, with a soft glow, {a_friend} named {friend} appeared at the window.",
         "Just then, {a_friend} called {friend} {arrival}, glowing softly in the dark.",
         "A moment later, {a_friend} named {friend} tapped gently on the window."],
        ["friend: Hush now, {hero}. I heard your wish. || {friend} smiled a sleepy smile.",
         "{friend} spoke in a voice like falling snow. || friend: Come with me, little one, just for a while.",
         "friend: Would you like to see something wonderful? || {friend} whispered."],
        ["hero: Yes, please. || {hero} tiptoed out as quietly as could be.",
         "{hero} nodded, eyes shining. || hero: But only for a little while."],
    ], ["{friend} was {friend_desc}."], place="night_home", time="night", mood="magical", cast="friend",
       action=["{friend} visiting {hero} at night"]),
    _b("drift", "attempt", [
        ["Together they drifted through the quiet night.", "Side by side, they went softly out into the dark.",
         "They floated along a path of moonbeams."],
        ["{night_sight}"],
        ["{hero} yawned. || hero: It is so peaceful out here.", "hero: Look at that, {friend}! || {hero} pointed with delight.",
         "{friend} hummed a lullaby as they went. || friend: Almost there, little one."],
    ], ["{night_sight}"], place="away", time="night", mood="peaceful", cast="friend",
       action=["{hero} and {friend} drifting through the night"]),
    _b("wonder", "climax", [
        ["And there, under a sky full of stars, {hero} {goal_past}.",
         "And at last, quiet as a feather, {hero} {goal_past}.",
         "And so, in the hush of the night, {hero} {goal_past}."],
        ["{flourish}"],
        ["hero: Thank you, {friend}. || {hero} whispered, so as not to wake the world.",
         "friend: Now you know, {hero}. Wishes are made of night and hope. || {friend} smiled."],
    ], ["{flourish}"], place="goal", time="night", mood="wonder", cast="friend",
       action=["{hero} {goal_ing} under the stars"]),
    _b("sleep", "end", [
        ["Then {friend} carried {hero} gently home and tucked {him} in.",
         "Soon {hero} was back in {home}, warm and sleepy.",
         "Slowly, softly, {hero} drifted home to bed."],
        ["{His} eyes grew heavy, and {his} breathing grew slow.", "The blanket was warm, and the pillow was soft.",
         "{He} smiled a sleepy smile and closed {his} eyes."],
        ["Goodnight, {hero}. Sweet dreams.", "And with that, {hero} fell fast asleep. Goodnight.",
         "The moon kept watch all night long. Sleep tight, {hero}."],
    ], ["Outside, the stars twinkled on and on."], place="bed", time="night", mood="sleepy", cast="hero",
       action=["{hero} fast asleep"]),
), drop_order=("drift", "wish", "visitor"))

ADVENTURE = Shape("adventure", (
    _b("call", "intro", [
        ["In {home}, there lived {a_hero} named {hero}, who longed for adventure.",
         "{A_hero} named {hero} lived in {home}, and {he} was ready for something exciting.",
         "Once upon a time, {a_hero} called {hero} found an old, crumpled map in {home}."],
        ["One morning, {he} decided {he} would {goal}.",
         "The map showed the way, and {hero} knew at once: {he} would {goal}.",
         "Word had spread that a brave heart might {goal}, and {hero} wanted to be that heart."],
        ["hero: This is it. My great adventure! || {He} packed {his} bag in a hurry.",
         "{He} tied on {item}. || hero: Adventure, here I come!"],
    ], ["{trait_line}"], place="home", time="dawn", mood="excited", action=["{hero} finding a map"],
       props=["map"]),
    _b("set_out", "want", [
        ["On the road, {hero} met {a_friend} named {friend}.",
         "At the edge of {home_place}, {a_friend} called {friend} was waiting.",
         "Before long, {a_friend} named {friend} {arrival}."],
        ["friend: Where are you going in such a hurry? || {friend} asked.",
         "{friend} looked at the map. || friend: That is a long way to go alone."],
        ["hero: I am going to {goal_me}. Come with me! || {hero} grinned.",
         "{hero} stood tall. || hero: Come with me, and we will {goal_me} together."],
    ], ["{friend} was {friend_desc}.", "So off they went, side by side."], place="away", time="day", mood="hopeful",
       cast="friend", action=["{hero} and {friend} setting out"], props=["map"]),
    _b("obstacle", "attempt", [
        ["The road was long, and soon they came to {place}.", "Their path led on to {place}.",
         "By noon they had reached {place}, where the trouble began."],
        ["{first_try}"],
        ["{hero_reaction}"],
        ["{friend_reaction}"],
    ], [], place="away", time="day", mood="tense", cast="friend", action=["{hero} and {friend} facing a challenge"]),
    _b("dark", "dark", [
        ["As night fell, they reached the darkest part of the journey.",
         "Then the sky grew dark, and the way ahead grew harder still.",
         "By dusk they were tired, and the path disappeared into shadow."],
        ["{He} felt very small. || hero: Maybe we should turn back.",
         "hero: I am not sure I can go on. || {hero} whispered."],
        ["friend: We have come so far. Just a little further. || {friend} held up a lantern.",
         "{friend} squeezed {his} {paw}. || friend: Together, remember?"],
    ], ["A cold wind whistled past.", "Somewhere, water dripped in the dark."], place="cave", time="night",
       mood="scary", cast="friend", action=["{hero} and {friend} in the dark with a lantern"], props=["lantern"]),
    _b("triumph", "climax", [
        ["And then, just when all seemed lost, {hero} {goal_past}!",
         "With one last brave step, {hero} {goal_past}.",
         "At the very end of the path, {hero} {goal_past}!"],
        ["{flourish}"],
        ["hero: We did it, {friend}! We really did it!", "friend: You were brave, {hero}. Truly brave."],
    ], ["{flourish}"], place="goal", time="dawn", mood="triumphant", cast="friend",
       action=["{hero} triumphant", "{hero} and {friend} celebrating"]),
    _b("home", "end", [
        ["At last, tired and happy, they made their way home to {home_place}.",
         "The journey home felt short, because their hearts were light.",
         "When they finally reached {home_place}, everyone came out to meet them."],
        ["Ever since then, {change}.", "From that day on, {change}."],
        ["And whenever {hero} looks at that old map, {he} smiles.",
         "And {hero} and {friend} are already planning their next adventure.",
         "But that, of course, is another story."],
    ], ["{friend2_line}"], place="home", time="dusk", mood="content", cast="all",
       action=["{hero} and {friend} coming home"]),
), drop_order=("dark", "set_out", "obstacle"))

SHAPES = {s.name: s for s in (SPINE, FABLE, BEDTIME, ADVENTURE)}
SHAPE_KEYWORDS = {
    "bedtime": ("bedtime", "sleep", "sleepy", "asleep", "moon", "night", "dream", "dreams", "lullaby", "stars",
                "goodnight", "bed", "tired"),
    "fable": ("lesson", "learns that", "moral", "greedy", "proud", "lazy", "selfish", "boastful", "vain",
              "jealous", "fable", "impatient", "stubborn", "rude", "bossy"),
    "adventure": ("quest", "treasure", "dragon", "dragons", "journey", "adventure", "map", "pirate", "pirates",
                  "explore", "explorer", "knight", "castle", "sword", "lost", "island", "mountain", "volcano"),
}

FOLLY_LINES = [
    "But {his} plan went wrong, just as {friend} had said it would, and {he} ended up with nothing at all.",
    "Before long, everything tumbled down around {him}, and {hero} was left alone in the cold.",
    "But the harder {he} tried, the worse things became, until {he} was stuck and sorry.",
]
AMENDS = {
    "greedy": ["So {hero} shared what {he} had, and to {his} surprise it felt wonderful.",
               "{He} gave back every shiny thing, one by one, with a smile."],
    "proud": ["So {hero} said sorry to everyone {he} had boasted to.", "{He} laughed at {him}self, and everyone laughed with {him}."],
    "": ["So {hero} set about putting things right, one small kindness at a time.",
         "{He} thanked {friend} and promised to listen next time."],
}
# where nothing grows or sings and the moon is not in the sky: earthly touches are left out of the story there
LIFELESS_PLACES = frozenset({"moon", "space"})
EARTHLY = re.compile(r"(?i)\b(cricket|bird|owl|firefl|flower|dais|petal|moon peeped|moon laid|wind)")
NIGHT_SIGHTS = ["Fireflies blinked like tiny lanterns.", "The moon laid a silver path across the ground.",
                "Sleepy flowers had closed their petals tight.", "An owl called softly from far away.",
                "The stars hummed a song too quiet to hear.", "Below them, every window had gone dark."]
