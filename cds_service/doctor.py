"""`cdss doctor`: what is installed and configured, and what a newcomer should do next.

Each check is a small function that returns findings: a status, the thing, what was found and
how to fix it. Nothing is changed: no database is migrated or made, no key file written, no
Spark or model started beyond reading and verifying the artifacts, no URL fetched unless asked
(`--online`). What is printed is safe to paste into an issue: no token, digest, key or patient
data, and a database password as `***`.

    examine()                        the whole report, from the settings file
    ├── doctor_findings              the records: a finding and its status
    ├── doctor_install               extras, the Java runtime, the note embedder
    ├── doctor_access                issuers and their key sets, admin tokens, the patient key
    └── doctor_service               server, budgets, the database and its schema, the models
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cds_service import doctor_access, doctor_install, doctor_service
from cds_service.doctor_findings import Finding, Status
from cds_service.settings import ConfigurationError, load_settings

__all__ = ["ConfigurationSource", "Finding", "Report", "Section", "Status", "examine", "render"]

# Status words are padded to this width so that the things line up.
_STATUS_WIDTH = 8


@dataclass(frozen=True)
class Section:
    """Findings about one part of the service, under a heading."""

    title: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Report:
    """Everything `cdss doctor` found, and what to do next."""

    sections: tuple[Section, ...]
    next_steps: tuple[str, ...]

    @property
    def blocks_serving(self) -> bool:
        """Whether something found would stop `cdss serve` (the command then exits 1)."""
        return any(
            finding.status is Status.ERROR
            for section in self.sections
            for finding in section.findings
        )


@dataclass(frozen=True)
class ConfigurationSource:
    """Where the settings come from: a file named by `--config` or `$CDSS_CONFIG`, or none."""

    file: Path | None
    from_environment: bool = False

    def describe(self) -> str:
        """The source in words: the file and who named it, or the built-in defaults."""
        if self.file is None:
            return "built-in defaults (no --config, $CDSS_CONFIG unset)"
        named_by = "$CDSS_CONFIG" if self.from_environment else "--config"
        return f"{self.file} ({named_by})"

    def serve_command(self) -> str:
        """The `cdss serve` command that reads the same configuration."""
        if self.file is None or self.from_environment:
            return "cdss serve"
        return f"cdss serve --config {self.file}"


def examine(source: ConfigurationSource, *, online: bool = False) -> Report:
    """Check the installation and the configuration `source` names; `online` fetches key sets."""
    installed = Section("Installed", tuple(doctor_install.installation_findings()))
    try:
        # The `CDSS_*` variables apply as for `cdss serve`; the file was resolved by the caller.
        settings = load_settings(source.file)
    except ConfigurationError as exc:
        broken = Finding(
            Status.ERROR,
            "configuration",
            f"{source.describe()}: {exc}",
            "correct the key it names (all keys and their defaults: cds_service/settings.py)",
        )
        return _report(installed, [Section("Configuration", (broken,))], source)
    configuration = [
        Finding(
            Status.OK,
            "configuration",
            f"{source.describe()}; any CDSS_<SECTION>__<KEY> variable overrides a key",
        ),
        *doctor_service.server_findings(settings),
    ]
    callers = [
        *doctor_access.issuer_findings(settings.auth, online=online),
        *doctor_access.admin_findings(settings.admin),
        doctor_access.patient_key_finding(settings.privacy),
    ]
    sections = [
        Section("Configuration", tuple(configuration)),
        Section("Callers and secrets", tuple(callers)),
        Section("Database", tuple(doctor_service.database_findings(settings.storage))),
        Section(
            "Models",
            (
                *doctor_service.model_findings(settings.models),
                doctor_install.embedder_finding(settings.notes),
            ),
        ),
    ]
    return _report(installed, sections, source)


def _report(
    installed: Section, configured: Sequence[Section], source: ConfigurationSource
) -> Report:
    sections = (installed, *configured)
    findings = [finding for section in sections for finding in section.findings]
    blocked = any(finding.status is Status.ERROR for finding in findings)
    steps = ["fix each error above, then run `cdss doctor` again"] if blocked else []
    # What serving needs comes first, then the start itself, then the extras to try.
    for section in configured:
        steps.extend(finding.next_step for finding in section.findings if finding.next_step)
    if not blocked:
        steps.append(f"start the service: `{source.serve_command()}`")
    steps.extend(finding.next_step for finding in installed.findings if finding.next_step)
    return Report(sections, tuple(dict.fromkeys(steps)))


def render(report: Report) -> list[str]:
    """The report as lines: a status word, the thing and what was found; the fix beneath."""
    lines: list[str] = []
    for section in report.sections:
        lines.append(section.title)
        for finding in section.findings:
            status = finding.status.value.ljust(_STATUS_WIDTH)
            lines.append(f"  {status} {finding.subject}: {finding.detail}")
            if finding.fix is not None:
                lines.append(f"  {'':{_STATUS_WIDTH}} -> {finding.fix}")
        lines.append("")
    lines.append("Next:")
    lines.extend(f"  - {step}" for step in report.next_steps)
    return lines
