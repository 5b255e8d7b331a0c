"""Shared test helpers: run the real ``credkit`` console script and read what it printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.credentials import Award

CREDKIT = str(Path(sys.executable).with_name("credkit"))


def run_credkit(*args: str, env: dict[str, str] | None = None, input: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``credkit ARGS`` as a user would; never raises on a non-zero exit."""
    full_env = {k: v for k, v in os.environ.items() if k != "CREDKIT_KEY_PASSPHRASE"}
    full_env.update(env or {})
    return subprocess.run([CREDKIT, *args], capture_output=True, text=True, env=full_env, input=input, cwd=cwd, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A user error: non-zero exit, exactly one line on stderr naming what went wrong, no traceback."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def sample_award(**overrides: object) -> "Award":
    """A realistic two-skill award with alignment and evidence, as the grading hook would make."""
    from datetime import datetime, timedelta, timezone

    from kit.credentials import Achievement, Alignment, Award, Evidence, Recipient, SkillResult

    now = datetime.now(timezone.utc)
    esco = Alignment(
        target_name="manipulate data with pandas",
        target_url="http://data.europa.eu/esco/skill/7b9f9f6b-0000-4000-8000-000000000001",
        target_code="S5.6.1",
        target_framework="ESCO",
        target_type="ext:ESCOSkill",
    )
    fields: dict[str, object] = dict(
        achievement=Achievement(
            id="https://credkit.example.edu/credentials/pandas-wrangling",
            name="pandas data wrangling",
            description="Cleans, reshapes and aggregates tabular data with pandas.",
            criteria="At least 80% of the points on groupby and on merge tests.",
            image="https://credkit.example.edu/badges/pandas-wrangling.svg",
        ),
        recipient=Recipient("ada.lovelace@example.edu", salt="f00dfeed"),
        skills=(
            SkillResult("groupby", "Aggregate with groupby", 8, 10, 8, (esco,)),
            SkillResult("merge", "Combine tables with merge", 3.5, 4, 3.2),
        ),
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=365),
        evidence=(Evidence(name="pandas assessment", description="Autograded nbgrader submission", id="https://credkit.example.edu/evidence/1"),),
    )
    fields.update(overrides)
    return Award(**fields)  # type: ignore[arg-type]


SAMPLE_ISSUER_ARGS = dict(name="Example University", url="https://credkit.example.edu", email="badges@credkit.example.edu")


def private_copy(key_file: Path, folder: Path) -> Path:
    """A copy of a checked-in key file (mode 0644 in git) with mode 0600, as credkit requires of a secret key."""
    import shutil

    target = folder / f"private-{key_file.name}"
    shutil.copyfile(key_file, target)
    os.chmod(target, 0o600)
    return target


def _endorsement_jws() -> str:
    """A real EdDSA compact JWS (VC-JWT) of an EndorsementCredential, signed with a fixed test seed."""
    import base64
    import json

    import nacl.signing

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    signer = nacl.signing.SigningKey(bytes(range(32)))
    header = {"alg": "EdDSA", "typ": "JWT", "kid": "did:example:endorser#key-1"}
    payload = {
        "iss": "did:example:endorser",
        "jti": "urn:uuid:1d6f3d2e-7a52-4c8e-9b0b-2f1d8a1e6b01",
        "nbf": 1767225600,
        "sub": "https://credkit.example.edu/credentials/pandas-wrangling",
        "vc": {
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "type": ["VerifiableCredential", "EndorsementCredential"],
            "issuer": {"id": "did:example:endorser", "type": ["Profile"], "name": "Example Industry Council"},
            "credentialSubject": {"id": "https://credkit.example.edu/credentials/pandas-wrangling", "type": ["EndorsementSubject"],
                                  "endorsementComment": "Matches what our members expect of a junior data analyst."},
        },
    }
    signing_input = f"{b64url(json.dumps(header, separators=(',', ':')).encode())}.{b64url(json.dumps(payload, separators=(',', ':')).encode())}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode('ascii')).signature)}"


# An endorsement in the VC-JWT form (OB 3.0 ``endorsementJwt``), as another issuer's badge may carry it.
ENDORSEMENT_JWS = _endorsement_jws()
