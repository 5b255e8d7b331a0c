"""Core CLI commands: keys, sign, verify, demo. Thin: parse, call the library, print, exit."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from kit.errors import CredkitError, InvalidCredential, KeyLoadError

PASSPHRASE_ENV = "CREDKIT_KEY_PASSPHRASE"
# A new key's passphrase: at least this many characters unless --weak-passphrase says otherwise
# (Argon2id slows guessing, it cannot save a one-word passphrase).
MIN_PASSPHRASE_CHARS = 12
MAX_CREDENTIAL_BYTES = 8 * 1024 * 1024  # a baked PNG with artwork stays far below this


def _new_passphrase(*, purpose: str, weak: bool) -> bytes:
    """A passphrase for a new key, held to the length policy unless ``weak``."""
    value = _passphrase(confirm=True, purpose=purpose)
    if not weak and len(value.decode("utf-8")) < MIN_PASSPHRASE_CHARS:
        raise KeyLoadError(
            f"{purpose}: the passphrase is too short ({len(value.decode('utf-8'))} characters; at least "
            f"{MIN_PASSPHRASE_CHARS}, or pass --weak-passphrase to accept it)"
        )
    if weak:
        click.echo("credkit: WARNING: --weak-passphrase: the key's passphrase is not checked", err=True)
    return value


def _passphrase(*, confirm: bool, purpose: str) -> bytes:
    """The key passphrase from CREDKIT_KEY_PASSPHRASE, else a hidden prompt on a terminal."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        if not sys.stdin.isatty():
            raise KeyLoadError(f"{purpose}: no passphrase: set {PASSPHRASE_ENV} or run in a terminal")
        value = click.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    if not value:
        raise KeyLoadError(f"{purpose}: the passphrase is empty")
    return value.encode("utf-8")


def load_signing_key(path: str) -> Any:
    """Load a key file for signing, asking for the passphrase only when the key is encrypted."""
    from kit.keys import key_file_is_encrypted, load_key

    passphrase = _passphrase(confirm=False, purpose=path) if key_file_is_encrypted(path) else None
    key = load_key(path, passphrase=passphrase)
    if not key.can_sign:
        raise KeyLoadError(f"{path}: public-only key (no secretKeyMultibase): it can verify but not sign")
    return key


def read_json_file(path: str) -> Any:
    """A JSON document from ``path``; InvalidCredential naming the file when unreadable or malformed."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidCredential(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    return _parse_json(data, path)


def _parse_json(data: bytes, path: str) -> Any:
    """Parse JSON bytes read from ``path``; InvalidCredential naming the file when malformed."""
    from kit.limits import parse_json

    return parse_json(data, source=path, error=InvalidCredential)


@click.group()
def keys() -> None:
    """Make and inspect issuer keys (did:key, Ed25519)."""


@keys.command("new")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Key file to create (mode 0600).")
@click.option("--encrypt", is_flag=True, help=f"Seal the secret with a passphrase ({PASSPHRASE_ENV} or a prompt).")
@click.option("--weak-passphrase", "weak", is_flag=True, help=f"Accept a passphrase shorter than {MIN_PASSPHRASE_CHARS} characters.")
def keys_new(out: str, encrypt: bool, weak: bool) -> None:
    """Generate an issuer key and write it as a Multikey JSON file."""
    from kit.keys import IssuerKey, save_key

    passphrase = _new_passphrase(purpose=out, weak=weak) if encrypt else None
    key = IssuerKey.generate()
    # the README's ~/.jupyter/credkit/... may not exist yet; a new folder for keys is private
    os.makedirs(os.path.dirname(os.path.abspath(os.path.expanduser(out))), mode=0o700, exist_ok=True)
    save_key(key, os.path.expanduser(out), passphrase=passphrase)
    click.echo(f"wrote {out} ({'encrypted' if encrypt else 'unencrypted'}, mode 0600)", err=True)
    click.echo(key.did)


@keys.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
def keys_show(file: str) -> None:
    """Print the key's DID, verification method and public key (never the secret)."""
    from kit.keys import IssuerKey

    doc = read_json_key(file)
    key = IssuerKey.from_multikey({k: v for k, v in doc.items() if k == "publicKeyMultibase"}, source=file)
    click.echo(f"did:                 {key.did}")
    click.echo(f"verificationMethod:  {key.verification_method}")
    click.echo(f"publicKeyMultibase:  {key.public_key_multibase}")
    secret = "encrypted" if "secretKeyEncrypted" in doc else ("present" if ("secretKeyMultibase" in doc or "privateKeyMultibase" in doc) else "absent (public-only)")
    click.echo(f"secret key:          {secret}")


@keys.command("rotate")
@click.option("--course", default=".", show_default=True, type=click.Path(file_okay=False), help="The nbgrader course folder (its c.Credkit.issuer_did and key_file).")
@click.option("--compromised", is_flag=True, help="The old key leaked: mark it revoked in the DID document, so everything it signed fails verification.")
@click.option("--encrypt", is_flag=True, help=f"Seal the new key's secret with a passphrase ({PASSPHRASE_ENV} or a prompt).")
@click.option("--weak-passphrase", "weak", is_flag=True, help=f"Accept a passphrase shorter than {MIN_PASSPHRASE_CHARS} characters.")
def keys_rotate(course: str, compromised: bool, encrypt: bool, weak: bool) -> None:
    """Sign with a new key from now on; the old key stays in the did:web DID document (revoked with --compromised)."""
    from grading.config import load_course_config  # the course side, loaded only for this command
    from grading.publish import rotate_key

    from kit.keys import key_file_is_encrypted

    settings = load_course_config(course)
    if key_file_is_encrypted(settings.key_file) and not encrypt:
        raise KeyLoadError(f"{settings.key_file}: the current key is encrypted; pass --encrypt so the new one is too")
    passphrase = _new_passphrase(purpose="new key", weak=weak) if encrypt else None
    old, new, kept = rotate_key(settings, compromised=compromised, passphrase=passphrase)
    fate = "revoked: what it signed now fails verification" if compromised else "retired: what it signed keeps verifying"
    click.echo(f"old key {old.public_key_multibase} {fate} (its file moved to {kept})", err=True)
    click.echo(f"new key {settings.issuer_did}#{new.public_key_multibase} in {settings.key_file}")
    click.echo(f"next: credkit publish --course {settings.course_root} --out SITE, and upload SITE (the DID document changed)")


def read_json_key(path: str) -> dict[str, Any]:
    from kit.limits import parse_json

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"{path}: no such key file") from None
    except OSError as exc:
        raise KeyLoadError(f"{path}: not a readable key file ({exc.strerror or exc.__class__.__name__})") from None
    doc = parse_json(data, source=path, error=KeyLoadError, what="JSON key file", max_bytes=64 * 1024)
    if not isinstance(doc, dict):
        raise KeyLoadError(f"{path}: a key file must hold a JSON object")
    return doc


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False), help="Issuer key file.")
@click.option("--cryptosuite", type=click.Choice(["eddsa-rdfc-2022", "eddsa-jcs-2022"]), default="eddsa-rdfc-2022", show_default=True)
@click.option("--created", help="Proof creation time (ISO 8601 with a time zone); default now.")
@click.option("--verification-method", help="Verification method URI; default the key's did:key method.")
def sign(file: str, key_file: str, cryptosuite: str, created: str | None, verification_method: str | None) -> None:
    """Sign a VC 2.0 credential and print it with its DataIntegrityProof."""
    from kit.credentials import parse_datetime
    from kit.proofs import sign as sign_document

    if created is not None:
        try:
            parse_datetime(created)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--created") from None
    from kit.proofs import check_cryptosuite_for

    document = read_json_file(file)
    if isinstance(document, dict):
        try:
            check_cryptosuite_for(document, cryptosuite)
        except CredkitError as exc:
            raise type(exc)(f"{file}: {exc.diagnostics()}") from exc
    key = load_signing_key(key_file)
    try:
        signed = sign_document(document, key, cryptosuite=cryptosuite, created=created, verification_method=verification_method)
    except CredkitError as exc:
        raise type(exc)(f"{file}: {exc.diagnostics()}") from exc
    click.echo(json.dumps(signed, indent=2, ensure_ascii=False))


def _parse_given(values: tuple[str, ...], option: str, what: str) -> dict[str, dict[str, Any]]:
    """``KEY=FILE`` pairs (a status list URL or a DID) to the JSON objects in the files."""
    given: dict[str, dict[str, Any]] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            raise click.BadParameter(f"{value!r} is not {option.split()[-1]}", param_hint=option.split()[0])
        document = read_json_file(path)
        if not isinstance(document, dict):
            raise InvalidCredential(f"{path}: {what} must be a JSON object")
        given[key] = document
    return given


def _parse_status_lists(values: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return _parse_given(values, "--status-list URL=FILE", "a status list credential")


def load_credential_file(path: str) -> Any:
    """The credential in a JSON file or a baked PNG/SVG badge."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CREDENTIAL_BYTES + 1)
    except OSError as exc:
        raise InvalidCredential(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise InvalidCredential(f"{path}: larger than {MAX_CREDENTIAL_BYTES // 2**20} MiB; not a credential")
    head = data.lstrip()[:1]
    if head not in (b"{", b"["):
        from kit.baking import unbake

        try:
            data = unbake(data).encode("utf-8")
        except CredkitError as exc:
            raise InvalidCredential(f"{path}: {exc.diagnostics()}") from None
    return _parse_json(data, path)


_LABELS = {"proof": "signature", "issuer": "issuer", "trust": "trust", "validity": "validity", "schema": "schema", "status": "status", "recipient": "recipient"}
_EXIT_INVALID, _EXIT_UNCHECKED = 1, 3


def _plain(text: Any) -> str:
    """Text from a credential or a web server, safe to print on a terminal (no control characters)."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def _marker(check: Any) -> str:
    if check.unchecked:
        return "??"
    if check.passed is False:
        return "FAIL"
    if check.caution:
        return "NOTE"
    return "ok" if check.passed else "--"


def _human(path: str, report: Any) -> list[str]:
    """The answer for one credential: a verdict line, then one line per outcome."""
    data = report.to_json()
    issuer = data.get("issuer") or {}
    name = _plain(data.get("name"))
    who = f"domain {issuer['domain']}" if issuer.get("domain") else "not bound to any domain"
    if report.verified:
        head = f"OK   {path}: verified — {name}, issued by \"{_plain(issuer.get('name'))}\" ({who})"
    else:
        failure = report.first_failure or report.first_unchecked
        reason = f"{failure.name}: {_plain(failure.message)}" if failure else f"status: {report.status}"
        if report.status == "unchecked":
            head = f"??   {path}: not fully checked — {reason}"
        else:
            head = f"FAIL {path}: {report.status} — {reason}"
    lines = [head]
    for check in report.checks:
        if check.name in _LABELS:
            lines.append(f"     {_LABELS[check.name]:<10} {_marker(check):<4} {_plain(check.message)}")
    return lines


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per credential with each check's outcome.")
@click.option("--recipient", metavar="EMAIL|ID", help="Also check that the credential was issued to this e-mail address or learner id.")
@click.option("--offline", is_flag=True, help="Use no network: only the files given and what earlier checks cached.")
@click.option("--status-list", "status_lists", multiple=True, metavar="URL=FILE", help="Use FILE as the status list published at URL (repeatable).")
@click.option("--did-document", "did_documents", multiple=True, metavar="DID=FILE", help="Use FILE as the DID document of did:web DID (repeatable).")
@click.option("--require-bound", is_flag=True, help="Fail a credential whose issuer no domain vouches for (a bare did:key).")
@click.option("--trust", "trust", multiple=True, metavar="FILE|URL",
              help="A trust registry (DCC dcc-legacy registry, or a known-registries list) to look issuers up in (repeatable).")
@click.option("--require-trusted", is_flag=True, help="Fail a credential whose issuer no --trust registry lists.")
def verify(
    files: tuple[str, ...], as_json: bool, recipient: str | None, offline: bool, status_lists: tuple[str, ...],
    did_documents: tuple[str, ...], require_bound: bool, trust: tuple[str, ...], require_trusted: bool,
) -> None:
    """Verify credentials (JSON or baked PNG/SVG): signature, issuer, dates, status, recipient.

    Fetches the issuer's DID document and status lists over HTTPS (cached) unless --offline.
    Exit 0 when every credential verifies, 1 when one is invalid (tampered, revoked, suspended,
    expired, not the recipient's, not vouched for), 3 when one could not be fully checked.
    """
    from kit.sources import Sources, default_cache_dir
    from kit.verify import verify_credential

    sources = Sources(
        status_lists=_parse_status_lists(status_lists),
        did_documents=_parse_given(did_documents, "--did-document DID=FILE", "a DID document"),
        offline=offline,
        cache_dir=default_cache_dir(),
    )
    registries = None
    if trust or require_trusted:
        from datetime import datetime, timezone

        from kit.trust import load_trust

        registries = load_trust(list(trust), sources, datetime.now(timezone.utc))
    worst = 0
    for path in files:
        try:
            document = load_credential_file(path)
        except CredkitError as exc:
            document, load_error = None, exc.diagnostics().removeprefix(f"{path}: ")
        else:
            load_error = None
        if load_error is not None:
            report_json: dict[str, Any] = {
                "file": path, "verified": False, "status": "invalid",
                "checks": [{"check": "format", "passed": False, "outcome": "failed", "message": load_error}],
            }
            code, lines = _EXIT_INVALID, [f"FAIL {path}: invalid — format: {_plain(load_error)}"]
        else:
            report = verify_credential(
                document, source=path, recipient=recipient, sources=sources, require_bound=require_bound,
                trust=registries, require_trusted=require_trusted,
            )
            report_json, lines = report.to_json(), _human(path, report)
            code = 0 if report.verified else (_EXIT_UNCHECKED if report.status == "unchecked" else _EXIT_INVALID)
        worst = code if worst == 0 or code == _EXIT_INVALID else worst
        click.echo(json.dumps(report_json, ensure_ascii=False) if as_json else "\n".join(lines))
    if worst:
        sys.exit(worst)


@click.command()
@click.option("--out", "out", default="demo", show_default=True, type=click.Path(file_okay=False), help="Folder for the demo's course, wallets and summary.")
def demo(out: str) -> None:
    """Run the main job end to end on the shipped assessments, into OUT."""
    from grading.demo import run_demo  # the nbgrader side, loaded only for this command

    run_demo(Path(out))
