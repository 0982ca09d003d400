"""Sentences of a note not worth a clinician's seconds: boilerplate, found by kind, not by list.

A note carries lines a template or the EHR wrote, not the clinician: "No orders placed at this
visit.", "Patient currently has Cigna Health.", a list of the procedures billed
("- initial patient assessment (procedure)"), "Electronically signed by ...". Quoting them
crowds out the assessment. Rather than a list of such strings (which the next EHR's wording
defeats), a sentence is boilerplate when it belongs to one of four kinds:

- `CODED_TERM`: every line is a coded term whose SNOMED CT semantic tag names no disorder
  ("(procedure)", "(regime/therapy)", "(situation)", a social "(finding)" the reader found no
  problem in), a LOINC test name listed without its result ("- lipid panel - serum or
  plasma"), or a lead-in label ("The following procedures were conducted:");
- `ADMINISTRATIVE`: attestation, signature, billing and "nothing recorded" statements, by
  their grammar ("I have reviewed ...", "... seen and examined", "signed by", "no ... placed");
- `NO_CLINICAL_CONTENT`: a statement about the patient as a person (its subject is "Patient",
  or it is the "Name is a 45 year-old female" banner line) with no finding the reader
  recognised, no measurement (a number that is not an age or a date), no plan or treatment
  verb and no clinical word stem ("-itis", "cardi-", "lesion", ...): demographics, coverage,
  marital status. Exam and radiology prose is never judged so: its vocabulary is too wide;
- `TEMPLATE`: the same line in many notes of the chart without a finding in it (a finding
  copied forward is still the patient's current statement, and is quoted once, from the newest).

A sentence in which the reader found a finding is never boilerplate by the first three kinds'
grammar alone unless it is a coded term whose tag names no disorder.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

# A note's lines must recur in at least this many notes, and this share of the chart, to be
# a template's: two notes sharing a line is copy-forward, not a template.
TEMPLATE_MIN_NOTES = 3
TEMPLATE_MIN_SHARE = 0.5

# SNOMED CT semantic tags that name a problem; every other tag (procedure, regime/therapy,
# situation, person, substance, observable entity, ...) names something done or a context.
PROBLEM_SEMANTIC_TAGS = frozenset({"disorder", "morphologic abnormality"})
FINDING_SEMANTIC_TAG = "finding"
# "- history and physical examination (procedure)": an optional list marker, a term, a tag.
_CODED_TERM_LINE = re.compile(
    r"^\s*(?:[-*\u2022]|\d{1,2}[.)])?\s*[^()]+\(([a-z /]+)\)\s*[.;,]?\s*$"
)
# "- lipid panel with direct ldl - serum or plasma", "- patient health questionnaire 2 item
# (phq-2) [reported]": a list item that is a LOINC name (a panel, a specimen after " - ", a
# bracketed property or method, a numbered-item survey) names a test done, not its result.
_LIST_ITEM = re.compile(r"^\s*[-*\u2022]\s")
_LOINC_NAME = re.compile(
    r"\bpanel\b|\s-\s(?:blood|serum|plasma|urine|arterial|venous)\b|\[[^\]]+\]|"
    r"\b\d+\s+item\b|\bquestionnaire\b",
    re.IGNORECASE,
)
# "Body Weight: 80.2 kg": a name with its result.
_RESULT = re.compile(r"[:=]\s*[<>]?\s*\d")
# "The following procedures were conducted:": a label that introduces a list, not a statement.
_LEAD_IN_LINE = re.compile(r":\s*$")

# Attestation, signature and "nothing recorded" statements, by grammar: who signed or saw,
# and what was not done. Each is a pattern of a kind of sentence, not a sentence.
_ADMINISTRATIVE = (
    # "I have reviewed ...", "I personally examined ...", "We discussed and agree ..."
    re.compile(
        r"\b(?:i|we)\s+(?:have\s+)?(?:personally\s+)?"
        r"(?:reviewed|examined|seen|saw|discussed|agree|attest|confirm|spent)\b",
        re.IGNORECASE,
    ),
    # "Patient was seen and examined", "seen and evaluated with the resident"
    re.compile(r"\bseen\s+and\s+(?:examined|evaluated)\b", re.IGNORECASE),
    # "Electronically signed by", "Dictated but not read", "cosigned", "transcribed by"
    re.compile(
        r"\b(?:electronically\s+signed|signed\s+by|dictated\s+(?:by|but)|co-?signed|"
        r"transcribed\s+by|authenticated\s+by|attending\s+attestation)\b",
        re.IGNORECASE,
    ),
    # "No orders placed at this visit.", "None recorded at this visit.", "No new diagnoses
    # recorded.": a statement that nothing was entered says nothing about the patient.
    re.compile(
        r"^\W*(?:no|none|nothing)\b[^.;]*\b(?:placed|recorded|documented|entered|"
        r"ordered|reported)\b",
        re.IGNORECASE,
    ),
    # "Routine visit", "Follow-up visit": the kind of visit, a billing fact.
    re.compile(r"^\W*(?:routine|scheduled|annual|well)\s+(?:visit|check-?up)\b", re.IGNORECASE),
)

# A number that is a measurement: not an age ("45 year-old", "45 yo") nor part of a date.
_AGE = re.compile(r"\b\d{1,3}[- ]?(?:year|yr|y/?o\b|month|week|day)s?[- ]?old\b|\b\d{1,3}\s?y/?o\b")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
_NUMBER = re.compile(r"\d")
# What a clinician does about a problem: plans, treatments, follow-up.
_PLAN_VERB = re.compile(
    r"\b(?:start|stop|continu|increas|decreas|reduc|titrat|taper|discontinu|hold|held|resum|"
    r"switch|chang|add|refer|recheck|repeat|follow|return|schedul|order|prescrib|monitor|"
    r"check|counsel|advis|educat|admit|discharg|consult|obtain|draw|vaccin|immuniz|inject|"
    r"biops|surg|imag|screen|test|treat|therap|dose|dosing|medicat|tolerat|improv|worsen|"
    r"resolv|stabl|unchang|controll|uncontroll|adher|complian)\w*",
    re.IGNORECASE,
)
# Clinical words by their suffix (pathology, procedures) or stem (anatomy, examination,
# results): enough to keep "No acute cardiopulmonary abnormality." and "Chest radiograph, two
# views." as content. Stems match at a word's start only ("rate", not "moderate").
_CLINICAL_SUFFIX = re.compile(
    r"\b\w+(?:itis|osis|emia|aemia|oma|pathy|algia|ectomy|otomy|plasty|scopy|graphy|gram|"
    r"uria|pnea|pnoea|cele|penia|megaly)s?\b",
    re.IGNORECASE,
)
_CLINICAL_STEM = re.compile(
    r"\b(?:cardi|pulmon|hepat|renal|nephr|gastr|neur|derm|oste|arthr|vascul|abdom|thorac|"
    r"cerebr|thyro|glyc|lipid|cholesterol|insulin|pressure|pulse|rate|saturation|weight|bmi|"
    r"temperature|fever|pain|ache|mass|lesion|nodul|rash|spot|swell|edema|oedema|murmur|wheez|"
    r"crackl|tender|fractur|infect|abnormal|normal|negative|positive|acute|chronic|symptom|"
    r"diagnos|smok|tobacco|alcohol|drug|abus|overdos|injur|allerg|chest|lung|heart|kidney|"
    r"liver|bone|skin|bowel|bladder|urin|blood|breath|cough|nause|vomit|diarrh|constipat|"
    r"fatigue|dizz|syncop|sleep|mood|anxi|depress|suicid|cognit|memory|wound|ulcer|bleed|"
    r"radiograph|x-ray|ultrasound|scan|mri|ct\b|ecg|ekg|lab|appear|alert|orient|comfort|"
    r"distress|speak|ambulat|gait|appetit|feel)\w*",
    re.IGNORECASE,
)
# "dependent drug abuse (disorder)": a coded term tagged as a problem is clinical content.
_PROBLEM_TAG = re.compile(r"\((?:disorder|morphologic abnormality)\)")
# A statement about the patient as a person, where a missing clinical word means a social or
# coverage fact ("Patient currently has Cigna Health."). Elsewhere (an exam, a radiology
# finding, a hospital course) the clinical vocabulary is too wide for a word list to judge.
_PERSON_SUBJECT = re.compile(r"^\W*(?:the\s+)?(?:patient|pt)\b", re.IGNORECASE)
# "Amalia is a 45 year-old non hispanic asian female.": the chart's banner, said again.
_DEMOGRAPHIC_INTRO = re.compile(
    r"^\W*[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?\s+is\s+an?\s+\d{1,3}[- ]?(?:year|yr)s?[- ]?old\b"
    r"[\w\s,-]*?\b(?:male|female|man|woman|boy|girl|person)\W*$"
)
_NORMALISE = re.compile(r"[^a-z0-9]+")


class Boilerplate(StrEnum):
    """The kind of boilerplate a sentence is (see the module)."""

    CODED_TERM = "coded term"
    ADMINISTRATIVE = "administrative"
    NO_CLINICAL_CONTENT = "no clinical content"
    TEMPLATE = "template"


def normalised_line(text: str) -> str:
    """The text as compared across notes: lower case, words only."""
    return _NORMALISE.sub(" ", text.lower()).strip()


def _coded_term_or_lead_in(line: str, has_finding: bool) -> bool:
    # The sentence's finding may sit on its other line: a lead-in is judged by itself.
    if _LEAD_IN_LINE.search(line) and not _has_measurement(line):
        return True
    if _LIST_ITEM.match(line) and _LOINC_NAME.search(line) and not _RESULT.search(line):
        return True
    coded = _CODED_TERM_LINE.match(line)
    if coded is None:
        return False
    tag = coded.group(1).strip()
    if tag in PROBLEM_SEMANTIC_TAGS:
        return False
    # "prediabetes (finding)" is a problem; "full-time employment (finding)" is not.
    return not (tag == FINDING_SEMANTIC_TAG and has_finding)


def _has_measurement(text: str) -> bool:
    bare = _LIST_MARKER.sub(" ", _DATE.sub(" ", _AGE.sub(" ", text)))
    return _NUMBER.search(bare) is not None


def about_the_person(text: str) -> bool:
    """A statement whose subject is the patient as a person ("Patient is single.")."""
    return _PERSON_SUBJECT.match(text) is not None or _DEMOGRAPHIC_INTRO.match(text) is not None


def has_clinical_content(text: str, has_finding: bool) -> bool:
    """A finding, a measurement, a plan or treatment verb, or a clinical word stem."""
    return (
        has_finding
        or _has_measurement(text)
        or _PLAN_VERB.search(text) is not None
        or _CLINICAL_SUFFIX.search(text) is not None
        or _CLINICAL_STEM.search(text) is not None
        or _PROBLEM_TAG.search(text) is not None
    )


def boilerplate_kind(text: str, has_finding: bool, template: bool = False) -> Boilerplate | None:
    """The kind of boilerplate this sentence is, or None when it is worth quoting.

    `has_finding`: the reader found a finding in it; `template`: its line recurs across the
    chart's notes (see `template_lines`).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and all(_coded_term_or_lead_in(line, has_finding) for line in lines):
        return Boilerplate.CODED_TERM
    if has_finding:
        return None
    if any(pattern.search(text) for pattern in _ADMINISTRATIVE):
        return Boilerplate.ADMINISTRATIVE
    if about_the_person(text) and not has_clinical_content(text, has_finding):
        return Boilerplate.NO_CLINICAL_CONTENT
    if template:
        return Boilerplate.TEMPLATE
    return None


def template_lines(notes_sentences: Sequence[Sequence[str]]) -> frozenset[str]:
    """Normalised sentences that recur in many of the chart's notes (see the module's limits)."""
    if len(notes_sentences) < TEMPLATE_MIN_NOTES:
        return frozenset()
    counts: Counter[str] = Counter()
    for sentences in notes_sentences:
        counts.update({normalised_line(s) for s in sentences})
    needed = max(TEMPLATE_MIN_NOTES, TEMPLATE_MIN_SHARE * len(notes_sentences))
    return frozenset(line for line, count in counts.items() if line and count >= needed)
