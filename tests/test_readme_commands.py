"""The README's commands, run from a fresh clone exactly as written, each held to its promise.

The clone is of HEAD of the checkout these tests run in (`git clone`), so uncommitted changes are
not in it: commit before running this module. Every command is taken from the README by
tests/readme_blocks.py (its fenced ```sh blocks, or an inline command of its prose) and run with
bash in the clone's root, in the environment of a newcomer's shell (no `CDSS_*` variables, no
virtual environment on the path); the only substitutions are the placeholders the README tells
the reader to fill in (`<the digest>`, `<the token>`, `DIR`). The commands use the README's
ports, 8080, 8090 and 8091: each test fails, naming the port, if one is taken when it starts.

1. `bash scripts/demo.sh`: the demo EHR answers on http://127.0.0.1:8090/ and every patient on
   its list opens a chart with at least one card; Ctrl-C stops it all. Started again (reusing
   the Synthea patients kept in var/demo), `kill` (SIGTERM) to that command stops it all too.
2. `bash scripts/serve.sh`: the README's curl block answers (discovery lists the README's three
   services, /openapi.json is OpenAPI 3.1, the signed `patient-view` call answers with the one
   card the README quotes); `cdss keys generate` writes a private key and a public key set;
   `cdss doctor --config config/cdss.toml` exits 0; the admin walkthrough: `cdss admin-token`
   prints a token and its digest, `/admin/config` refuses the token (401), Ctrl-C stops the
   service, the README's environment-variable line starts it again with the digest, and the
   README's admin curl gets the configuration; SIGTERM to that command stops it all.
3. `.venv/bin/python tests/synthetic_patients.py --out DIR` writes the synthetic patients.

Not run here, and what covers them instead:
- `bash scripts/test.sh`: CI runs exactly it (`.ci/run`), this module included.
- `bash scripts/install.sh --population` and `cdss population export` / `score`: they need Java
  and a Bulk Data server; tests/cds_service/test_cli_population_export.py and
  test_cli_population_score.py run both commands against real servers.
- `cdss train` / `cdss evaluate`: the [train] extra and minutes of training;
  tests/models/training/test_pipeline.py runs both commands.
- `cdss token --key ... --iss ISS --aud URL` in the prose: the curl block runs it, with values.
- `docker build ... && docker run ...`: no container engine here; tests/deploy/test_manifests.py
  reads the Dockerfile's environment and holds the deployment to the run command's configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from readme_blocks import inline_command, shell_block_with

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
HOST = "127.0.0.1"
EHR_PORT, SERVICE_PORT, FHIR_PORT = 8090, 8080, 8091
DEMO_EHR = f"http://{HOST}:{EHR_PORT}"
SERVICE = f"http://{HOST}:{SERVICE_PORT}"
# Bounds on waits, only reached when something is wrong: the first command installs into a
# fresh venv (about two minutes here, more on a busy machine) before it starts.
START_TIMEOUT_SECONDS = 900
STOP_TIMEOUT_SECONDS = 90
COMMAND_TIMEOUT_SECONDS = 300
CHART_TIMEOUT_SECONDS = 60
PATIENT_LINK = re.compile(r'href="/patients/(?P<id>[^"/?#]+)"[^>]*>(?P<name>[^<]*)<')
CARD = re.compile(r'<section class="card[ "]')  # demo_ehr/templates/demo_ehr/chart.html


def readme_service_ids() -> frozenset[str]:
    """The ids of the README's first table, `| service id | what it will say | status |`."""
    table = README[README.index("| service id |") :].split("\n\n", 1)[0]
    return frozenset(re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.MULTILINE))


@dataclass(frozen=True)
class ProcessId:
    """A process, told apart from a later one given the same pid by its start time."""

    pid: int
    started: int


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """State, parent, session and start time of a process, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[3]), int(fields[19])


def _all_processes() -> dict[int, tuple[str, int, int, int]]:
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    return stats


def processes_of(leader: int) -> set[ProcessId]:
    """The command's processes: its session, and every descendant (sekmet has its own session)."""
    stats = _all_processes()
    found = {pid for pid, (_, _, session, _) in stats.items() if session == leader}
    found |= {leader} if leader in stats else set()
    grew = True
    while grew:
        children = {pid for pid, (_, parent, _, _) in stats.items() if parent in found}
        grew = not children <= found
        found |= children
    return {ProcessId(pid, stats[pid][3]) for pid in found}


def command_line(pid: int) -> str:
    """The command line of a running process ("" once it is gone)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return " ".join(words).strip()


def still_running(processes: set[ProcessId]) -> dict[int, str]:
    """Those of the processes that run (not exited, not a zombie), with their command lines."""
    running = {}
    for process in sorted(processes, key=lambda p: p.pid):
        stat = _stat(process.pid)
        if stat is not None and stat[3] == process.started and stat[0] != "Z":
            running[process.pid] = command_line(process.pid)
    return running


def answering(port: int) -> bool:
    """Whether something accepts connections on the port of 127.0.0.1."""
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((HOST, port)) == 0


def newcomer_environment() -> dict[str, str]:
    """This process's environment as a newcomer's shell has it: no CDSS_*, no active venv."""
    hidden = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CDSS_") and name not in hidden
    }
    test_venv = str(Path(sys.prefix) / "bin")
    path = environment.get("PATH", "").split(os.pathsep)
    environment["PATH"] = os.pathsep.join(entry for entry in path if entry != test_venv)
    return environment


@dataclass
class Clone:
    """A fresh clone of the repository, where the README's commands run, and their log."""

    root: Path
    log: Path
    started: list[RunningCommand] = field(default_factory=list)

    def output(self) -> str:
        """The end of everything the commands wrote (installs included), for a failure."""
        return self.log.read_text(errors="replace")[-20000:]

    def run(self, command: str, **placeholders: str) -> str:
        """Run a command to its end with bash in the clone's root; its output, if it succeeds."""
        for placeholder, value in placeholders.items():
            assert placeholder in command, f"{placeholder!r} is not in {command!r}"
            command = command.replace(placeholder, value)
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.root,
            env=newcomer_environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        assert result.returncode == 0, (
            f"{command}\nexited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def start(self, command: str, ready_url: str, **placeholders: str) -> RunningCommand:
        """Start a long-running command as a terminal does, once `ready_url` answers 200."""
        for port in (SERVICE_PORT, EHR_PORT, FHIR_PORT):
            if answering(port):
                pytest.fail(f"port {port} of {HOST} is in use: the README's commands need it free")
        for placeholder, value in placeholders.items():
            assert placeholder in command, f"{placeholder!r} is not in {command!r}"
            command = command.replace(placeholder, value)
        with self.log.open("a") as log:
            log.write(f"\n$ {command}\n")
        with self.log.open("ab") as log:
            # Its own session and process group, as a terminal's job is: bash runs the README's
            # one command in place (exec), so this pid is `bash scripts/...` itself.
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.root,
                env=newcomer_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = RunningCommand(command, process, self)
        self.started.append(running)
        running.wait_until_ready(ready_url)
        return running


@dataclass
class RunningCommand:
    """A README command that runs until stopped, and every process it started."""

    command: str
    process: subprocess.Popen[bytes]
    clone: Clone
    processes: set[ProcessId] = field(default_factory=set)

    def wait_until_ready(self, url: str) -> None:
        """Wait until the URL answers 200, noting the processes the command started."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.command} exited:\n{self.clone.output()}"
            self.note_processes()
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    self.note_processes()
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        raise AssertionError(
            f"{url} did not answer within {START_TIMEOUT_SECONDS} s:\n" + self.clone.output()
        )

    def note_processes(self) -> None:
        """Remember every process the command runs now, to check later that none is left."""
        self.processes |= processes_of(self.process.pid)

    def ctrl_c(self) -> None:
        """Ctrl-C in the terminal: SIGINT to the command's whole process group."""
        self.note_processes()
        os.killpg(self.process.pid, signal.SIGINT)

    def kill(self) -> None:
        """`kill PID`: SIGTERM to the command's process only."""
        self.note_processes()
        # The pid is the README's command itself (bash ran it in place, and the scripts exec the
        # service), not a `bash -c` wrapper around it that would take the signal instead.
        assert not command_line(self.process.pid).startswith("bash -c ")
        self.process.send_signal(signal.SIGTERM)

    def assert_nothing_left(self, ports: tuple[int, ...]) -> None:
        """The command ended, none of its processes runs and none of its ports answers."""
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.command} still runs:\n{self.clone.output()}") from None
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        left = still_running(self.processes | processes_of(self.process.pid))
        while left and time.monotonic() < deadline:
            time.sleep(1)
            left = still_running(self.processes | processes_of(self.process.pid))
        listed = "\n".join(f"{pid}: {command}" for pid, command in left.items())
        assert not left, f"left running after {self.command}:\n{listed}\n{self.clone.output()}"
        taken = [port for port in ports if answering(port)]
        assert taken == [], f"{taken} still answer after {self.command}:\n{self.clone.output()}"

    def stop_whatever_happened(self) -> None:
        """SIGTERM to the group, SIGKILL after a while, then to any process it left behind."""
        if self.process.poll() is None:
            self.note_processes()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # What the group's signals could not reach: sekmet runs in a session of its own.
        for signum in (signal.SIGTERM, signal.SIGKILL):
            for pid in still_running(self.processes):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            time.sleep(5 if still_running(self.processes) else 0)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    """A fresh clone of this checkout's HEAD; every command started in it is stopped at the end."""
    workdir = tmp_path_factory.mktemp("readme")
    root = workdir / "cdss"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(root)], check=True, timeout=300)
    fresh = Clone(root=root, log=workdir / "commands.log")
    fresh.log.write_text("")
    try:
        yield fresh
    finally:
        for running in fresh.started:
            running.stop_whatever_happened()
        # The clone's venv takes about 2 GB; the log beside it stays for a failure's reader.
        shutil.rmtree(root, ignore_errors=True)


def demo_charts() -> dict[str, str]:
    """Each patient on the demo EHR's list: chart id to the name shown."""
    page = httpx.get(DEMO_EHR + "/", timeout=CHART_TIMEOUT_SECONDS)
    assert page.status_code == 200
    return {link["id"]: link["name"].strip() for link in PATIENT_LINK.finditer(page.text)}


def test_demo_shows_cards_for_every_patient_and_ctrl_c_or_kill_stops_it(clone: Clone) -> None:
    demo_command = shell_block_with(README, "bash scripts/demo.sh")
    demo = clone.start(demo_command, DEMO_EHR + "/")

    charts = demo_charts()
    assert charts, "the demo EHR lists no patient"
    without_cards = []
    for patient_id, name in charts.items():
        chart = httpx.get(f"{DEMO_EHR}/patients/{patient_id}", timeout=CHART_TIMEOUT_SECONDS)
        assert chart.status_code == 200, f"{name} ({patient_id}): {chart.status_code}"
        if not CARD.search(chart.text):
            without_cards.append(f"{name} ({patient_id})")
    assert without_cards == [], f"charts without a card: {without_cards}"

    demo.ctrl_c()
    demo.assert_nothing_left((EHR_PORT, SERVICE_PORT, FHIR_PORT))

    # Started again, it reuses the Synthea patients kept in var/demo: the same people.
    again = clone.start(demo_command, DEMO_EHR + "/")
    assert sorted(demo_charts().values()) == sorted(charts.values())
    again.kill()
    again.assert_nothing_left((EHR_PORT, SERVICE_PORT, FHIR_PORT))


def json_documents(text: str) -> list[Any]:
    """The JSON documents curl printed one after another."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while position < len(text.rstrip()):
        while text[position].isspace():
            position += 1
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise AssertionError(f"not JSON at {position}: {text[position:][:2000]}") from error
        documents.append(document)
    return documents


def admin_token_printed(output: str) -> Mapping[str, str]:
    """The token and its SHA-256 digest `cdss admin-token` printed."""
    token = re.search(r"^token:\s+(\S+)$", output, flags=re.MULTILINE)
    digest = re.search(r"^sha256:\s+([0-9a-f]{64})$", output, flags=re.MULTILINE)
    assert token is not None, "cdss admin-token printed no token"
    assert digest is not None, "cdss admin-token printed no digest"
    return {"token": token[1], "digest": digest[1]}


def test_serve_answers_the_readme_calls_and_the_admin_walkthrough(clone: Clone) -> None:
    service = clone.start(shell_block_with(README, "bash scripts/serve.sh"), SERVICE + "/readyz")

    curl_block = shell_block_with(README, "curl -s http://127.0.0.1:8080/cds-services")
    discovery, openapi, hook_answer = json_documents(clone.run(curl_block))
    assert {entry["id"] for entry in discovery["services"]} == readme_service_ids()
    assert len(readme_service_ids()) == 3
    assert openapi["openapi"].startswith("3.1")
    promised = re.search(r'The call answers with one card, "([^"]+)"', " ".join(README.split()))
    assert promised is not None, "the README no longer says what the signed call answers"
    assert [card["summary"] for card in hook_answer["cards"]] == [promised[1]], hook_answer

    keys = inline_command(README, ".venv/bin/cdss keys generate")
    clone.run(keys)
    private_key, key_set = re.findall(r"--(?:private|jwks) (\S+)", keys)
    assert "d" in json.loads((clone.root / private_key).read_text())
    assert all("d" not in key for key in json.loads((clone.root / key_set).read_text())["keys"])

    clone.run(inline_command(README, ".venv/bin/cdss doctor --config"))

    printed = admin_token_printed(clone.run(shell_block_with(README, ".venv/bin/cdss admin-token")))
    bearer = {"Authorization": f"Bearer {printed['token']}"}
    assert httpx.get(SERVICE + "/admin/config", headers=bearer).status_code == 401
    service.ctrl_c()
    service.assert_nothing_left((SERVICE_PORT,))

    with_digest = shell_block_with(README, "CDSS_ADMIN__TOKEN_SHA256=")
    restarted = clone.start(with_digest, SERVICE + "/readyz", **{"<the digest>": printed["digest"]})
    admin_curl = shell_block_with(README, "ADMIN_TOKEN=")
    assert "'" not in printed["token"]  # it goes between the README's single quotes
    configuration = json.loads(clone.run(admin_curl, **{"<the token>": printed["token"]}))
    assert {"version", "config"} <= configuration.keys(), configuration
    assert httpx.get(SERVICE + "/admin/config", headers=bearer).status_code == 200
    restarted.kill()
    restarted.assert_nothing_left((SERVICE_PORT,))


def test_synthetic_patients_are_written_to_a_folder(clone: Clone, tmp_path: Path) -> None:
    """Needs the [demo] extra (carebundle, Synthea), which the demo command installed."""
    if not (clone.root / ".venv" / "bin" / "synthea").exists():
        # Run on its own, without the demo test before it: the demo command's install step.
        clone.run("bash scripts/install.sh --demo")
    command = inline_command(README, ".venv/bin/python tests/synthetic_patients.py")
    listed = clone.run(command, DIR=str(tmp_path / "patients"))
    written = sorted(path.stem for path in (tmp_path / "patients").glob("*.json"))
    assert written
    assert written == sorted(line.split()[0] for line in listed.splitlines())
