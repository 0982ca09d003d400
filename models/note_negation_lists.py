"""Lists under a negation header: "Negative for:" then one finding a line, or bullets, or numbers.

The reader ends a sentence at each list item (so a denial on one line never reaches the next),
which leaves ConText blind to a header that denies a whole list. This pass carries the header
("Negative for:", "Denies:", "ROS negative for:", "No:", "Pertinent negatives:") over the items
that follow it, on its own line and the next ones, until the list ends: a blank line, a new
header ("Positive for:", "Plan:", "## Exam"), or a line that is not an item (a sentence that
reports something, or a line that holds more than findings).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

# The header, alone on its line or followed by the first items ("Negative for: fever,").
_NEGATION_HEADER = re.compile(
    r"""^[ \t]*(?:[-*+\u2022][ \t]*)?
    (?:(?:ROS|review[ \t]+of[ \t]+systems)[ \t]*:?[ \t]*)?
    (?:(?:the[ \t]+)?(?:patient|pt\.?|he|she)[ \t]+)?
    (?:(?:is|was|were|are)[ \t]+)?
    (?P<cue>negative(?:[ \t]+for)?|denies|denied|no|none|none[ \t]+of
      |pertinent[ \t]+negatives?|without)
    (?:[ \t]+(?:any|all))?(?:[ \t]+of)?(?:[ \t]+the[ \t]+following)?(?:[ \t]+symptoms)?
    [ \t]*(?::(?P<rest>[^\n]*)|$)""",
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)
# Without a colon, only a cue that cannot be a form's answer heads a list ("Denies" alone on
# its line does; "No" or "None" alone answers the line before it).
_BARE_CUE = re.compile(r"negative|denies|pertinent", re.IGNORECASE)
# A list item's marker: a bullet, "1." / "1)" / "(1)" / "a.", or the reading copy's "1 " for "1.".
_ITEM_MARKER = re.compile(
    r"^[ \t]*(?:[-*+>\u2022\u2023\u25aa\u25cf\u2013\u2014]+"
    r"|\(?(?:\d{1,2}|[A-Za-z])[.)]|\d{1,2}(?=[ \t]))[ \t]*"
)
# Any line ending in a colon, or opening with a label and a colon, is a new header.
_HEADER = re.compile(r"^[ \t]*(?:#{1,6}[ \t]|[A-Za-z][A-Za-z /&()-]{0,40}:|[^\n]*:[ \t]*$)")
# An item that opens with one of these reports something: the list has ended.
_REPORTING = re.compile(
    r"^(?:reports?|reported|endorses|endorsed|admits|positive|complains|c/o|has|have|had|but"
    r"|however|notes|states|presents|patient|pt|he|she|they)\b",
    re.IGNORECASE,
)
# Words a plain line may hold besides findings ("fever and chills", "night sweats").
_LIST_WORDS = frozenset({"and", "or", "nor", "any", "other", "recent", "no"})
_MAX_OTHER_WORDS = 2
# A sentence inside the header line ends the items on it ("Negative for: fever. Has a cough.").
_SENTENCE_END = re.compile(r"[.;](?:\s|$)")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _is_plain_item(line: str, offset: int, mentions: Sequence[tuple[int, int]]) -> bool:
    """A line with no marker is an item when it holds findings and little else, and no number."""
    if any(ch.isdigit() for ch in line):
        return False
    kept = list(line)
    for start, end in mentions:
        for i in range(max(start - offset, 0), min(end - offset, len(line))):
            kept[i] = " "
    others = [w for w in re.findall(r"[A-Za-z']+", "".join(kept)) if w.lower() not in _LIST_WORDS]
    return len(others) <= _MAX_OTHER_WORDS


def denied_list_items(text: str, mentions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character ranges of `text` denied by a negation header over a list.

    `mentions` are the findings' (start, end) offsets, used to tell a line of findings from a
    sentence. `text` is the reading copy (each line's offsets are those of the note).
    """
    denied: list[tuple[int, int]] = []
    lines = list(_lines(text))
    index = 0
    while index < len(lines):
        offset, line = lines[index]
        header = _NEGATION_HEADER.match(line)
        index += 1
        if header is None or (header.group("rest") is None and not _BARE_CUE.match(header["cue"])):
            continue
        # "Denies" alone on its line (no colon) heads a list the same way.
        rest = header.group("rest") or ""
        rest_start = offset + (header.start("rest") if header.group("rest") else len(line))
        stop = _SENTENCE_END.search(rest)
        denied.append((rest_start, rest_start + (stop.start() if stop else len(rest))))
        if stop and rest[stop.end() :].strip():
            continue  # the line went on to say something else: no list follows
        while index < len(lines):
            offset, line = lines[index]
            if not line.strip() or _NEGATION_HEADER.match(line):
                break
            marker = _ITEM_MARKER.match(line)
            body = line[marker.end() :] if marker else line
            if _HEADER.match(body) or _REPORTING.match(body.strip()):
                break
            if marker is None and not _is_plain_item(line, offset, mentions):
                break
            denied.append((offset, offset + len(line)))
            index += 1
    return denied
