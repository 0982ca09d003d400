"""A chronic condition under "history of" is the patient's present problem, unless said to be over.

ConText reads "history of", "h/o", "hx of", "past (medical) history" and a past-medical-history
section ("PMH:") as past. For an acute or episodic event that is right ("h/o pneumonia", "history
of DVT in 2021", "hx of MI"), but clinicians write "history of hypertension" or "PMH: CKD stage 3"
for a condition the patient still has: one that, once diagnosed, lasts for life or is managed for
years (Synthea's "Patient has a history of hypertension, chronic kidney disease, ..." lists the
active problems of a patient on lisinopril). For those concepts (`CHRONIC_CONCEPTS`) this pass
turns a past reading that came only from such a history cue into a present one, unless the note
says the condition is over (`_OVER`: "resolved", "in remission", "no longer", "past", "previous",
"former", "prior", "remote", "childhood", "during pregnancy"), in the words leading to the finding
or in its clause after it. A denial, a doubt, a hypothetical or a relative's condition is not
touched: the reader calls this only for a finding it reads as past and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from models.note_vocabulary import concept_of

# Conditions that, once diagnosed, are lifelong or managed long-term, so "history of" names a
# problem the patient has (the chronic conditions of CMS's Chronic Conditions Warehouse and of
# primary-care problem lists). Deliberately left out:
# - anemia: a laboratory finding with many self-limited causes (blood loss, pregnancy, iron
#   deficiency corrected by replacement); the lasting anaemias are named by their cause;
# - cancer: "history of cancer" means treated, in surveillance or in remission;
# - gestational diabetes, diabetes insipidus: the one ends with the pregnancy, the other is
#   often transient (after pituitary surgery);
# - events and symptoms (myocardial infarction, stroke, pneumonia, fracture, chest pain...).
CHRONIC_CONCEPTS = frozenset(
    {
        "type 2 diabetes",
        "type 1 diabetes",
        "diabetes",
        "prediabetes",
        "hypertension",
        "chronic kidney disease",
        "heart failure",
        "coronary artery disease",
        "atrial fibrillation",
        "hyperlipidemia",
        "obesity",
        "COPD",
        "asthma",
        "hypothyroidism",
        "depression",
        "anxiety",
        "dementia",
        "osteoarthritis",
        "obstructive sleep apnea",
        "GERD",
        "migraine",
        "neuropathy",
        "diabetic retinopathy",
        # Persistent by definition (KDIGO: albuminuria lasting over 3 months).
        "proteinuria",
    }
)
HISTORICAL = "HISTORICAL"
# ConText's literals for its history triggers ("history" also covers "hx", "hist", "ho"; "past
# history" covers "past medical history").
HISTORY_TRIGGERS = frozenset({"history", "h/o", "past history"})
# medspacy's sectionizer marks every finding in this section past (its DEFAULT_ATTRS).
PAST_MEDICAL_HISTORY_SECTION = "past_medical_history"
# Words saying the condition is over. "Past medical history" is the name of the list, not one.
_OVER = re.compile(
    r"\b(?:resolved|resolution|resolving|remission|remitted|no\s+longer|past|previous(?:ly)?"
    r"|former(?:ly)?|prior|remote|childhood|as\s+an?\s+(?:child|kid|teen(?:ager)?)|outgrew"
    r"|cured|(?:during|in)\s+(?:her\s+|a\s+)?pregnancy|gestational)\b",
    re.IGNORECASE,
)
_PAST_MEDICAL_HISTORY = re.compile(r"\bpast\s+medical\s+(?:history|hx)\b", re.IGNORECASE)
# A clause break that ends what a cue before it can say about the finding.
_CLAUSE_END = re.compile(r"[;.](?:\s|$)")
# The words leading to a cue stop at a comma too: in "prior stroke, history of HTN" the "prior"
# is the stroke's.
_LEAD_BREAK = re.compile(r"[,;.](?:\s|$)")


def _history_cue(entity: Any) -> tuple[bool, tuple[int, int] | None]:
    """Whether the past reading came only from history cues, and the last cue's characters."""
    past = [m for m in entity._.modifiers if m.category == HISTORICAL]
    if any(m.rule.literal.lower() not in HISTORY_TRIGGERS for m in past):
        return False, None  # "resolved", "resolution of": said to be over
    if not past:
        # No trigger: the past reading is the section's, and only the medical history counts.
        return entity._.section_category == PAST_MEDICAL_HISTORY_SECTION, None
    first, last = max(m.modifier_span for m in past)
    cue = entity.doc[first:last]
    return True, (cue.start_char, cue.end_char)


def _says_over(text: str) -> bool:
    return _OVER.search(_PAST_MEDICAL_HISTORY.sub(" ", text)) is not None


def _clause_start(copy: str, start: int, end: int, breaks_at: re.Pattern[str] = _CLAUSE_END) -> int:
    """Where the clause holding `end` begins, no earlier than `start`."""
    breaks = list(breaks_at.finditer(copy, start, end))
    return breaks[-1].end() if breaks else start


def current_chronic_conditions(copy: str, findings: Sequence[Any]) -> list[tuple[int, int]]:
    """The (start, end) offsets of chronic conditions a history cue alone made past.

    `findings` are the note's finding entities in text order; `copy` is the reading copy.
    """
    current: list[tuple[int, int]] = []
    for index, entity in enumerate(findings):
        if concept_of(entity.text) not in CHRONIC_CONCEPTS or not entity._.is_historical:
            continue
        only_history, cue = _history_cue(entity)
        if not only_history:
            continue
        sentence_start, sentence_end = entity.sent.start_char, entity.sent.end_char
        # The words leading to the cue ("remote history of", "past history of"), in its clause.
        previous = findings[index - 1].end_char if index else sentence_start
        lead = ""
        # Only for the cue's own finding: in "past pregnancy history of miscarriage,
        # prediabetes" the "past" is the miscarriage's, not the next list item's.
        if (
            cue is not None
            and cue[1] <= entity.start_char
            and not _LEAD_BREAK.search(copy, cue[1], entity.start_char)
        ):
            lead_start = max(sentence_start, min(previous, cue[0]))
            lead = copy[_clause_start(copy, lead_start, cue[0], _LEAD_BREAK) : cue[1]]
        # Then what lies between the cue, or the finding before in the list, and this one.
        between_start = max(
            sentence_start,
            previous,
            cue[1] if cue is not None and cue[1] <= entity.start_char else sentence_start,
        )
        between = copy[_clause_start(copy, between_start, entity.start_char) : entity.start_char]
        # After it: its clause, up to the next finding ("hypertension, no longer treated").
        following = findings[index + 1].start_char if index + 1 < len(findings) else sentence_end
        after = copy[entity.end_char : max(entity.end_char, min(following, sentence_end))]
        clause_end = _CLAUSE_END.search(after)
        after = after[: clause_end.start()] if clause_end else after
        if not any(_says_over(text) for text in (lead, between, after)):
            current.append((entity.start_char, entity.end_char))
    return current
