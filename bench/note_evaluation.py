"""The note summary on its development and held-out sets: ROUGE beside a lead-N baseline,
faithfulness, assertion by class and informativeness, each set reported apart.

Run: `.venv/bin/python bench/note_evaluation.py --write docs/note-summary.md`
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cds_service.app  # noqa: F401  (the package first: tests/ on the path would shadow it)
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer
from models.sentence_vectors import MiniLmVectors, TfidfVectors
from models.training.note_evaluation import (
    BUCKETS,
    ROUGE_TYPES,
    evaluate,
    file_digest,
    load_cases,
    recorded_digest,
)

REPO = Path(__file__).resolve().parent.parent
NOTE_SETS = REPO / "tests" / "data" / "note_eval"
DEVELOPMENT = NOTE_SETS / "cases.json"
HELD_OUT = NOTE_SETS / "heldout.json"
HELD_OUT_DIGEST = NOTE_SETS / "heldout.sha256"
ROUGE_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}
sys.path.insert(0, str(REPO / "bench"))

from report import emit  # noqa: E402


def _row(label: str, cells: list[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else "- (0/0)"


def set_tables(results: list[dict[str, Any]]) -> list[str]:
    """The tables of one set: ROUGE, faithfulness and informativeness, assertion by class."""
    methods = [r["method"] for r in results]
    header = "|---|" + "---:|" * len(results)
    findings = results[0]["findings"]
    return [
        "| excerpts chosen by | " + " | ".join(ROUGE_NAMES[n] for n in ROUGE_TYPES) + " |",
        "|---|" + "---:|" * len(ROUGE_TYPES),
        *(_row(r["method"], [f"{100 * r['rouge'][n]:.1f}" for n in ROUGE_TYPES]) for r in results),
        _row(
            "lead-N baseline (first N sentences of the newest note)",
            [f"{100 * results[0]['lead_n_rouge'][n]:.1f}" for n in ROUGE_TYPES],
        ),
        "",
        _row("faithfulness and informativeness", methods),
        header,
        _row(
            "excerpts that are not verbatim spans of their note",
            [str(len(r["not_verbatim"])) for r in results],
        ),
        _row(
            "cases with a denied, possible, past or family finding listed as present",
            [str(len(r["false_present"])) for r in results],
        ),
        _row(
            "phrases a summary should hold, held",
            [f"{100 * r['must_include_recall']:.0f}%" for r in results],
        ),
        _row(
            "chosen excerpts that are labelled template text",
            [
                _percent(
                    r["informativeness"]["uninformative_excerpts"],
                    r["informativeness"]["excerpts"],
                )
                if r["informativeness"]["labelled_uninformative"]
                else "not labelled in this set"
                for r in results
            ],
        ),
        _row(
            "reference excerpts chosen",
            [
                _percent(
                    r["informativeness"]["reference_chosen"],
                    r["informativeness"]["reference_excerpts"],
                )
                for r in results
            ],
        ),
        "",
        "Findings by assertion (the same for both methods: the reading does not depend on",
        "them), precision and recall with counts (correct / listed, correct / labelled). A case",
        'that labels a finding in two classes ("admitted with pneumonia ... pneumonia',
        'resolved") is held to every statement the reading found; one that labels each',
        "finding once, to the card's list, where the newest, most certain statement decides:",
        "",
        "| class | precision | recall |",
        "|---|---:|---:|",
        *(
            _row(
                bucket,
                [
                    f"{findings[bucket]['precision']:.2f} "
                    f"({findings[bucket]['true_positive']}/{findings[bucket]['found']})",
                    f"{findings[bucket]['recall']:.2f} "
                    f"({findings[bucket]['true_positive']}/{findings[bucket]['expected']})",
                ],
            )
            for bucket in BUCKETS
        ),
    ]


def false_present_list(results: list[dict[str, Any]]) -> list[str]:
    """The held-out cases with a finding wrongly listed as present (the method named if only
    one method lists it: the reading is shared, so the lists normally agree)."""
    by_case: dict[str, dict[str, str]] = {}
    for result in results:
        for case_id, concepts in result["false_present"].items():
            by_case.setdefault(case_id, {})[result["method"]] = ", ".join(concepts)
    lines = []
    for case_id, listed in sorted(by_case.items()):
        if len(listed) == len(results) and len(set(listed.values())) == 1:
            lines.append(f"- `{case_id}`: {next(iter(listed.values()))}")
        else:
            lines += [f"- `{case_id}` ({method}): {found}" for method, found in listed.items()]
    return lines or ["- none"]


def main() -> None:
    """Evaluate both methods on both sets; print the section, and write it with `--write FILE`."""
    digest = file_digest(HELD_OUT)
    if digest != recorded_digest(HELD_OUT_DIGEST):
        raise SystemExit("heldout.json does not match heldout.sha256: the held-out set was edited")
    reader = ClinicalReader.load()
    summarizers = [NoteSummarizer(reader, v) for v in (MiniLmVectors.load(), TfidfVectors())]
    development = [evaluate(s, load_cases(DEVELOPMENT)) for s in summarizers]
    held_out = [evaluate(s, load_cases(HELD_OUT)) for s in summarizers]
    dev, held = development[0], held_out[0]
    lines = [
        "## Evaluation",
        "",
        "Command: `.venv/bin/python bench/note_evaluation.py --write docs/note-summary.md`",
        "",
        "Two sets of notes written for this project (public domain, invented patients), each case",
        "with reference excerpts, phrases a summary should hold, every finding labelled by",
        "assertion and, in the held-out set, the template sentences that should never be chosen.",
        "ROUGE is F1 averaged over the cases.",
        "",
        "**No rule is changed because of a held-out failure without moving that case to the",
        "development set and saying so.** A held-out case that has informed a rule no longer",
        "measures anything.",
        "",
        "### Development set",
        "",
        f"{dev['cases']} cases, {dev['notes']} notes in [`tests/data/note_eval/cases.json`]"
        "(../tests/data/note_eval/cases.json). **Not an independent test**: the reading's rules",
        "were corrected against this set's failures, so its assertion figures flatter the",
        "reading. The excerpt selection was not tuned on it.",
        "",
        *set_tables(development),
        "",
        "### Held-out set",
        "",
        f"{held['cases']} cases, {held['notes']} notes in [`tests/data/note_eval/heldout.json`]"
        "(../tests/data/note_eval/heldout.json), written by one author who had not read the",
        "rules, in the styles of several clinicians (progress notes, histories and physicals,",
        "discharge summaries, ED notes, telehealth visits, radiology reports; vertical lists,",
        "text tables, copy-forward, primary-care abbreviations, template lines), and frozen",
        "before any rule change of issue 17 (commit a50d923).",
        f"SHA-256 `{digest}`, recorded in `heldout.sha256` and checked by",
        "`tests/models/training/test_note_evaluation.py`, so an edit fails the tests. With the",
        "rules as they were before issue 17, 20 of its cases listed a finding that is not",
        "present as present (precision / recall: present 0.79 / 0.74, denied 0.92 / 0.79,",
        "possible 0.50 / 0.17, historical 0.17 / 0.19); issue 17's rules were written against",
        "the development set, and the figures below are after them.",
        "",
        *set_tables(held_out),
        "",
        "Held-out cases with a denied, possible, past or family finding listed as present (the",
        "test allows this many and no more; each is a known failure, not a case to tune on):",
        "",
        *false_present_list(held_out),
        "",
        'ROUGE counts shared words and is blind to negation: "no pneumothorax" and',
        '"pneumothorax" score alike, which is why the faithfulness rows are checked apart',
        "(non-verbatim excerpts held at zero on both sets, false present at zero on the",
        "development set, by `tests/models/training/test_note_evaluation.py`). For scale,",
        "ACI-Bench (Scientific Data 2023) reports full-note ROUGE-L of 32.7 for an extractive",
        "baseline and 46 for BART and GPT-4; its notes and references differ from these, so the",
        "numbers do not compare directly.",
    ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
