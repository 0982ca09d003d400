"""The ConText (medspacy 1.3.1) assertion triggers the note reader uses.

ConText ships 101 triggers. Some of them read notes the wrong way for a problem
list, and are replaced here rather than added to:
- "resolved", "now resolved" deny a finding; a resolved problem is past, not absent
  (`RESOLVED_BEFORE`), unless it has not resolved (`STILL_PRESENT`);
- "unlikely" denies; a doctor who finds a diagnosis unlikely still holds it possible
  (`DOUBTED`), as "less likely" and "doubtful" say;
- "evaluate for", "test for", "checked for" deny; looking for a finding is a possibility
  (`LOOKING_FOR`), and so are "screen for", "check for", "order a sleep study for".
Each bounded trigger stops at a comma or semicolon (`_within_clause`), so "PE unlikely, CAP on
the film" doubts the embolism and not the pneumonia.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from models.note_vocabulary import concept_of

NEGATED, POSSIBLE, HYPOTHETICAL, HISTORICAL = (
    "NEGATED_EXISTENCE",
    "POSSIBLE_EXISTENCE",
    "HYPOTHETICAL",
    "HISTORICAL",
)
TERMINATE, PSEUDO = "TERMINATE", "PSEUDO"
DYSPNEA_ON_EXERTION = "dyspnea on exertion"

# Negations ConText's defaults miss when they follow the finding ("pneumothorax ruled out").
EXTRA_NEGATIONS_AFTER = ("ruled out", "was ruled out", "has been ruled out", "excluded", "not seen")
POSSIBLE_AFTER = (
    "cannot be excluded",
    "can not be excluded",
    "could not be excluded",
    "not excluded",
    "cannot be ruled out",
)
# Triggers that govern a short phrase, not the rest of a comma-separated list: "migraine
# without aura, ..., anemia" and "not in labor force, anemia" do not deny the anemia, and
# "ondansetron as needed, ..., omeprazole for GERD" does not make the GERD hypothetical, while
# "No fever, chills or night sweats" (kept unbounded) does deny all three. In tokens.
SHORT_SCOPE_TRIGGERS = {"without": 4, "w/o": 4, "not": 6, "as needed": 3}
# Looking for a finding is a possibility, where ConText's defaults read a denial ("evaluate
# for") or nothing ("screen for sleep apnea").
LOOKING_FOR = (
    "evaluate for",
    "to evaluate for",
    "evaluation for",
    "assess for",
    "screen for",
    "screening for",
    "screened for",
    "check for",
    "checking for",
    "checked for",
    "test for",
    "testing for",
    "tested for",
    "look for",
    "looking for",
    "work up for",
    "workup for",
    "work-up for",
    "monitor for",
    "watch for",
    "wells score for",
    "wells criteria for",
)
# "Order sleep study for OSA": a test ordered for a finding is looking for it.
ORDERED_TESTS = (
    "sleep study",
    "polysomnography",
    "sleep apnea test",
    "test",
    "testing",
    "screening",
    "labs",
    "imaging",
    "ultrasound",
    "echocardiogram",
    "echo",
    "CT",
    "CTA",
    "MRI",
    "duplex",
    "swab",
    "culture",
    "cultures",
)
# "Positive screen for depression" and "diabetic retinopathy screening positive" found it.
SCREENED_POSITIVE = (
    "positive screen for",
    "screened positive for",
    "screens positive for",
    "screen positive for",
    "screening positive for",
    "screening positive",
    "screening was positive",
    "screening is positive",
    "screen positive",
    "screen was positive",
)
# "Colon cancer screening": the screening looks for the finding just before it.
SCREENING_AFTER = ("screening", "screen")
# A resolved problem is past ("pneumonia resolved", "cough has resolved", "rash resolving").
RESOLVED_BEFORE = ("resolved", "now resolved", "resolving", "has resolved", "since resolved")
RESOLVED_BEFORE_SCOPE = 6
RESOLVED_OF = ("resolution of", "recovered from")
# ...unless it has not ("cough has not resolved", "partially resolved"): these trigger nothing.
STILL_PRESENT = (
    "partially resolved",
    "incompletely resolved",
    "slow to resolve",
    "unresolved",
    "non-resolving",
)
# A doubted diagnosis is still a possibility ("PE is unlikely", "less likely", "doubt DVT").
DOUBTED = ("unlikely", "less likely", "not likely", "doubtful", "less probable", "improbable")
DOUBTED_SCOPE = 5
DOUBTED_BEFORE = (
    "doubt",
    "doubt of",
    "low suspicion for",
    "low suspicion of",
    "low probability of",
    "low probability for",
    "low likelihood of",
    "low concern for",
    "low risk for",
)
# Hedged diagnoses: "likely pneumonia", "probable UTI", "suspected DVT", "concern for sepsis".
# The default "possible" reads "likely" forward over the whole sentence ("fatigue, likely from
# anemia"): "possible" keeps that reach, "likely" and its kin are bounded, on either side.
POSSIBLY = ("possible", "possibly", "poss")
HEDGED_EITHER_SIDE = ("likely", "probable", "suspected")
HEDGED_EITHER_SIDE_SCOPE = 3
HEDGED_BEFORE = (
    "most likely",
    "probably",
    "suspect",
    "suspicion for",
    "suspicion of",
    "concern for",
    "concerning for",
    "questionable",
    "presumed",
    "presumptive",
)
HEDGED_BEFORE_SCOPE = 3
HEDGED_AFTER = ("is suspected", "is likely", "is probable", "is possible")
HEDGED_AFTER_SCOPE = 4
# "Fatigue, likely from anemia" attributes a cause; it does not hedge the anemia.
ATTRIBUTED = (
    "likely from",
    "likely due to",
    "likely related to",
    "likely secondary to",
    "likely caused by",
    "likely in the setting of",
)
# "Interval history:" opens the story since the last visit, which is present, not past.
NOT_HISTORY = ("interval history", "history of present illness")
# A relative named in a social history is not a family history: "lives with his wife",
# "victim of intimate partner abuse", "discussed with daughter".
_RELATIVES_IN_SOCIAL_HISTORY = [
    {
        "LOWER": {
            "IN": ["lives", "living", "lived", "resides", "discussed", "spoke", "accompanied"],
        }
    },
    {"LOWER": {"IN": ["with", "by", "alone"]}},
    {"LOWER": {"IN": ["his", "her", "their", "a", "the"]}, "OP": "?"},
    {"LOWER": {"IN": ["wife", "husband", "spouse", "partner", "family", "daughter", "son"]}},
]
SOCIAL_RELATIVES = ("intimate partner", "partner abuse", "partner violence", "family support")
# Plan verbs start a new statement: "no chest pain; continue aspirin for CAD" denies no CAD.
PLAN_VERBS = ("continue", "continues", "resume", "start", "increase", "decrease")
# "No SOB at rest; SOB on stairs": a denial qualified "at rest" does not reach the exertional
# finding, nor the same finding named again, after it.
_AT_REST = re.compile(r"\bat rest\b", re.IGNORECASE)
_CLAUSE_BREAKS = frozenset({",", ";", ":"})
# medspacy 1.3.1 ends a scope at a terminator only when their scopes overlap at an edge (a
# sentence-wide terminator holds a short scope without "overlapping" it), so a terminator is
# given a scope of one token either side, which meets every scope that reaches it.
_TERMINATOR_SCOPE = 1
# "has not resolved", "hasn't yet resolved", "not fully resolving".
_NOT_RESOLVED = [
    {"LOWER": {"IN": ["not", "n't", "never"]}},
    {"LOWER": {"IN": ["yet", "fully", "completely", "entirely", "totally"]}, "OP": "?"},
    {"LOWER": {"IN": ["resolved", "resolving", "resolve"]}},
]


def _outside_modifier(modifier: Any, span_between: Any) -> list[Any]:
    return [t for t in span_between if not modifier.start <= t.i < modifier.end]


def _inside(target: Any, modifier: Any) -> bool:
    """A trigger inside a finding's own name ("migraine without aura") does not modify it."""
    return bool(target.start <= modifier.start and modifier.end <= target.end)


def _within_clause(target: Any, modifier: Any, span_between: Any) -> bool:
    """A bounded trigger does not reach across a comma, semicolon or colon."""
    return not _inside(target, modifier) and not any(
        t.text in _CLAUSE_BREAKS for t in _outside_modifier(modifier, span_between)
    )


def _resolution_reaches(target: Any, modifier: Any, span_between: Any) -> bool:
    """ "Pneumonia, now resolved" is past; in "CHF, pneumonia resolved" the CHF is not."""
    if _inside(target, modifier):
        return False
    between = _outside_modifier(modifier, span_between)
    if any(t.text in {";", ":"} for t in between):
        return False
    return not (any(t.text == "," for t in between) and len(span_between.ents) > 0)


def _denial_reaches(target: Any, modifier: Any, span_between: Any) -> bool:
    """A denial stops at "at rest" before the exertional finding or the same finding again."""
    if _inside(target, modifier):
        return False
    if target.start < modifier.start or not _AT_REST.search(span_between.text):
        return True
    concept = concept_of(target.text)
    if concept == DYSPNEA_ON_EXERTION:
        return False
    return all(concept_of(other.text) != concept for other in span_between.ents)


def context_rules(defaults: Iterable[Any]) -> list[Any]:
    """ConText's default rules with those above replaced, and this project's added."""
    from medspacy.context import ConTextRule

    replaced = {
        *LOOKING_FOR,
        *RESOLVED_BEFORE,
        *DOUBTED,
        *DOUBTED_BEFORE,
        *POSSIBLY,
    }

    def rule(literal: str, category: str, direction: str, **extra: Any) -> Any:
        if category == NEGATED and "on_modifies" not in extra:
            extra["on_modifies"] = _denial_reaches
        return ConTextRule(literal, category, direction=direction, **extra)

    rules = [
        ConTextRule(
            default.literal,
            default.category,
            pattern=default.pattern,
            direction=default.direction,
            max_scope=_TERMINATOR_SCOPE
            if default.direction == TERMINATE
            else SHORT_SCOPE_TRIGGERS.get(default.literal.lower(), default.max_scope),
            on_modifies=_denial_reaches if default.category == NEGATED else None,
        )
        for default in defaults
        # Its forward "ruled out" claims the phrase in "pneumothorax ruled out": rebuilt below
        # requiring "for" or "against".
        if not (default.literal == "ruled out" and default.direction == "FORWARD")
        and default.literal.lower() not in replaced
    ]
    rules += [
        *(
            rule(f"{lead}ruled out {word}", NEGATED, "FORWARD")
            for lead in ("", "was ", "is ", "been ", "has been ", "have been ", "had been ")
            for word in ("for", "against")
        ),
        *(rule(literal, NEGATED, "BACKWARD") for literal in EXTRA_NEGATIONS_AFTER),
        # Longer than the default backward "was negative", so "X was negative for Y" denies Y.
        *(
            rule(f"{verb} negative for", NEGATED, "FORWARD")
            for verb in ("was", "is", "are", "were")
        ),
        *(rule(literal, POSSIBLE, "FORWARD", max_scope=8) for literal in LOOKING_FOR),
        *(
            rule(
                f"{test} for",
                POSSIBLE,
                "FORWARD",
                max_scope=6,
                pattern=[
                    *({"LOWER": word} for word in test.lower().split()),
                    {"LOWER": {"IN": ["ordered", "scheduled", "arranged", "requested"]}, "OP": "?"},
                    {"LOWER": "for"},
                ],
            )
            for test in ORDERED_TESTS
        ),
        *(rule(literal, PSEUDO, "PSEUDO") for literal in SCREENED_POSITIVE),
        *(
            rule(literal, HYPOTHETICAL, "BACKWARD", max_scope=1, on_modifies=_within_clause)
            for literal in SCREENING_AFTER
        ),
        # Longer than "excluded": a doubt, not a denial.
        *(rule(literal, POSSIBLE, "BACKWARD") for literal in POSSIBLE_AFTER),
        *(
            rule(
                literal,
                HISTORICAL,
                "BACKWARD",
                max_scope=RESOLVED_BEFORE_SCOPE,
                on_modifies=_resolution_reaches,
            )
            for literal in RESOLVED_BEFORE
        ),
        *(
            rule(literal, HISTORICAL, "FORWARD", max_scope=3, on_modifies=_within_clause)
            for literal in RESOLVED_OF
        ),
        *(rule(literal, PSEUDO, "PSEUDO") for literal in STILL_PRESENT),
        rule("has not resolved", PSEUDO, "PSEUDO", pattern=_NOT_RESOLVED),
        *(
            rule(
                literal,
                POSSIBLE,
                "BIDIRECTIONAL",
                max_scope=DOUBTED_SCOPE,
                on_modifies=_within_clause,
            )
            for literal in DOUBTED
        ),
        *(
            rule(literal, POSSIBLE, "FORWARD", max_scope=DOUBTED_SCOPE, on_modifies=_within_clause)
            for literal in DOUBTED_BEFORE
        ),
        *(
            rule(
                literal,
                POSSIBLE,
                "FORWARD",
                max_scope=HEDGED_BEFORE_SCOPE,
                on_modifies=_within_clause,
            )
            for literal in HEDGED_BEFORE
        ),
        *(
            rule(
                literal,
                POSSIBLE,
                "BACKWARD",
                max_scope=HEDGED_AFTER_SCOPE,
                on_modifies=_within_clause,
            )
            for literal in HEDGED_AFTER
        ),
        *(
            rule(
                literal,
                POSSIBLE,
                "BIDIRECTIONAL",
                max_scope=HEDGED_EITHER_SIDE_SCOPE,
                on_modifies=_within_clause,
            )
            for literal in HEDGED_EITHER_SIDE
        ),
        *(rule(literal, POSSIBLE, "FORWARD") for literal in POSSIBLY),
        *(rule(literal, PSEUDO, "PSEUDO") for literal in ATTRIBUTED),
        *(rule(literal, PSEUDO, "PSEUDO") for literal in NOT_HISTORY),
        *(rule(literal, PSEUDO, "PSEUDO") for literal in SOCIAL_RELATIVES),
        rule("lives with wife", PSEUDO, "PSEUDO", pattern=_RELATIVES_IN_SOCIAL_HISTORY),
        *(
            rule(literal, TERMINATE, TERMINATE, max_scope=_TERMINATOR_SCOPE)
            for literal in PLAN_VERBS
        ),
    ]
    return rules
