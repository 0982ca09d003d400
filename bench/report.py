"""Writing one benchmark's section into docs/benchmarks.md without touching the others."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime
from pathlib import Path

TITLE = "# Benchmarks\n\n"


def replace_section(target: Path, section: str) -> None:
    """Put `section` (starting with its `## ` heading) in place of the one with that heading."""
    heading = section.splitlines()[0]
    if not heading.startswith("## "):
        raise ValueError("a section starts with a '## ' heading")
    text = target.read_text(encoding="utf-8") if target.exists() else TITLE
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = text.find("\n## ", start + len(heading))
        rest = "" if end == -1 else text[end + 1 :]
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    target.write_text(text, encoding="utf-8")


def publish(section: str, write: Path | None, repo: Path) -> None:
    """Print the report's section; with `--write FILE` (relative: to the repo), also put it in
    place in that file."""
    print(section)
    if write:
        target = write if write.is_absolute() else repo / write
        replace_section(target, section)
        print(f"wrote {target}", file=sys.stderr)


def emit(section: str, repo: Path) -> None:
    """Print the section; with `--write FILE` on the command line, also put it in that file."""
    print(section)
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        replace_section(repo / sys.argv[2], section)


# Below this 1-minute load average per core at the start, a report calls the machine idle.
IDLE_LOAD_PER_CORE = 0.15


def machine_line(started: datetime, load_at_start: tuple[float, ...], detail: str = "") -> str:
    """The report's line on when and where it ran: the date, the machine (with `detail`, e.g.
    the database), the load average at the start and the end, and whether it was idle."""
    cores = os.cpu_count() or 1
    state = "idle" if load_at_start[0] < IDLE_LOAD_PER_CORE * cores else "loaded"
    load_text = ", ".join(f"{value:.2f}" for value in load_at_start)
    return (
        f"Date: {started:%Y-%m-%d %H:%M} UTC. Machine: {cores} cores (`os.cpu_count()`), Python "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}{detail}; load "
        f"average at the start {load_text} (1, 5, 15 min), at the end {os.getloadavg()[0]:.2f}: "
        f"the machine was {state} at the start.\n"
    )
