"""`cdss admin-token`: a fresh token each time, and the digest the configuration takes."""

from __future__ import annotations

import hashlib
import re

from click.testing import CliRunner

from cds_service.cli import main


def test_admin_token_prints_a_token_and_its_sha256() -> None:
    outputs = [CliRunner().invoke(main, ["admin-token"]) for _ in range(2)]
    tokens = []
    for result in outputs:
        assert result.exit_code == 0, result.output
        token = re.search(r"^token:\s+(\S+)$", result.output, re.MULTILINE)
        digest = re.search(r"^sha256:\s+([0-9a-f]{64})$", result.output, re.MULTILINE)
        assert token is not None
        assert digest is not None
        assert hashlib.sha256(token.group(1).encode()).hexdigest() == digest.group(1)
        assert len(token.group(1)) >= 43  # 32 random bytes
        tokens.append(token.group(1))
    assert tokens[0] != tokens[1]
