"""The audience rule as a writer is told it: one fixed sentence per audience, stated in every LLM writer's system
prompt (where no text in the idea can change it) and repeated, with what was wrong, when a story is asked for again."""
from __future__ import annotations

AUDIENCE_RULES = {
    "kids": ("The story is for young children: keep it gentle and kind. No killing, no blood or injuries, no weapons "
             "used on anyone, no cruelty, no romance beyond friendship, no alcohol, drugs or smoking, no swearing, "
             "no insults about any group, nothing about hurting oneself. Danger may come, but it ends safely."),
    "teens": ("The story is for teenagers: conflict, danger and sadness are fine, told without gore. No sexual "
              "content, no drug use shown as good, no self-harm methods, no slurs or hate against any group, "
              "no strong swearing."),
    "adults": ("The story is for adults: mature themes are fine, but no sexual content involving anyone under 18, "
               "no hate or slurs against any group, no instructions for self-harm."),
}


def audience_rule(audience: str) -> str:
    """The rule for an audience (kids, teens or adults; anything else gets the kids rule, the strictest)."""
    return AUDIENCE_RULES.get(audience, AUDIENCE_RULES["kids"])
