"""Issuer keys: did:key and Multikey round trips, key files, passphrases, and their failures."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from kit.errors import KeyLoadError, VerificationError
from kit.keys import IssuerKey, load_key, resolve_did_key, save_key
from tests.conftest import DATA
from tests.helpers import assert_one_line_error, private_copy, run_credkit

VECTOR_KEY = DATA / "vectors" / "vc-di-eddsa" / "keyPair.json"
UNSIGNED = DATA / "vectors" / "vc-di-eddsa" / "unsigned.json"


def test_vector_key_pair_round_trips(tmp_path: Path) -> None:
    pair = json.loads(VECTOR_KEY.read_text())
    key = load_key(private_copy(VECTOR_KEY, tmp_path))
    assert key.public_key_multibase == pair["publicKeyMultibase"]
    assert key.to_multikey()["secretKeyMultibase"] == pair["privateKeyMultibase"]
    assert key.did == "did:key:" + pair["publicKeyMultibase"]
    assert resolve_did_key(key.verification_method) == (key.did, key.public_key)


def test_generated_key_round_trips_through_a_file(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    save_key(key, tmp_path / "k.json")
    again = load_key(tmp_path / "k.json")
    assert again == key and again.seed == key.seed
    doc = json.loads((tmp_path / "k.json").read_text())
    assert doc["type"] == "Multikey" and doc["controller"] == key.did and doc["id"] == key.verification_method
    assert doc["publicKeyMultibase"].startswith("z6Mk") and doc["secretKeyMultibase"].startswith("z3u2")
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600


def test_encrypted_key_needs_the_right_passphrase(tmp_path: Path) -> None:
    key = IssuerKey.generate()
    save_key(key, tmp_path / "k.json", passphrase=b"correct horse")
    doc = json.loads((tmp_path / "k.json").read_text())
    assert "secretKeyMultibase" not in doc and key.to_multikey()["secretKeyMultibase"] not in json.dumps(doc)
    assert load_key(tmp_path / "k.json", passphrase=b"correct horse").seed == key.seed
    with pytest.raises(KeyLoadError, match="wrong passphrase"):
        load_key(tmp_path / "k.json", passphrase=b"battery staple")
    with pytest.raises(KeyLoadError, match="encrypted"):
        load_key(tmp_path / "k.json")


def test_mismatched_secret_and_bad_did_key_are_refused() -> None:
    a, b = IssuerKey.generate(), IssuerKey.generate()
    doc = a.to_multikey() | {"secretKeyMultibase": b.to_multikey()["secretKeyMultibase"]}
    with pytest.raises(KeyLoadError, match="does not belong"):
        IssuerKey.from_multikey(doc)
    with pytest.raises(VerificationError, match="does not match"):
        resolve_did_key(f"{a.did}#{b.public_key_multibase}")
    with pytest.raises(VerificationError, match="not a did:key"):
        resolve_did_key("https://example.edu/issuers/1#key-1")


def test_cli_new_show_sign_with_plain_and_encrypted_keys(tmp_path: Path) -> None:
    plain = run_credkit("keys", "new", "--out", str(tmp_path / "plain.json"))
    assert plain.returncode == 0, plain.stderr
    did = plain.stdout.strip()
    assert did.startswith("did:key:z6Mk")
    shown = run_credkit("keys", "show", str(tmp_path / "plain.json"))
    assert did in shown.stdout and "z3u2" not in shown.stdout

    env = {"CREDKIT_KEY_PASSPHRASE": "s3cret passphrase"}
    sealed = run_credkit("keys", "new", "--out", str(tmp_path / "sealed.json"), "--encrypt", env=env)
    assert sealed.returncode == 0, sealed.stderr
    assert stat.S_IMODE((tmp_path / "sealed.json").stat().st_mode) == 0o600
    signed = run_credkit("sign", str(UNSIGNED), "--key", str(tmp_path / "sealed.json"), env=env)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["proof"]["verificationMethod"].startswith(sealed.stdout.strip())

    again = run_credkit("keys", "new", "--out", str(tmp_path / "plain.json"))
    assert_one_line_error(again, "plain.json", "already exists")


def test_cli_key_failures_are_one_clear_line(tmp_path: Path) -> None:
    env = {"CREDKIT_KEY_PASSPHRASE": "right"}
    assert run_credkit("keys", "new", "--out", str(tmp_path / "sealed.json"), "--encrypt", "--weak-passphrase", env=env).returncode == 0
    wrong = run_credkit("sign", str(UNSIGNED), "--key", str(tmp_path / "sealed.json"), env={"CREDKIT_KEY_PASSPHRASE": "wrong"})
    assert_one_line_error(wrong, "sealed.json", "wrong passphrase")

    assert run_credkit("keys", "new", "--out", str(tmp_path / "k.json")).returncode == 0
    text = (tmp_path / "k.json").read_text()
    (tmp_path / "truncated.json").write_text(text[: len(text) // 2])
    truncated = run_credkit("sign", str(UNSIGNED), "--key", str(tmp_path / "truncated.json"))
    assert_one_line_error(truncated, "truncated.json", "not valid JSON")

    public = {k: v for k, v in json.loads(text).items() if k != "secretKeyMultibase"}
    (tmp_path / "public.json").write_text(json.dumps(public))
    public_only = run_credkit("sign", str(UNSIGNED), "--key", str(tmp_path / "public.json"))
    assert_one_line_error(public_only, "public.json", "public-only")

    missing = run_credkit("sign", str(UNSIGNED), "--key", str(tmp_path / "nope.json"))
    assert_one_line_error(missing, "nope.json", "no such key file")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o777, 0o660, 0o602])
def test_a_secret_key_others_can_reach_is_refused_with_the_chmod_to_run(tmp_path: Path, mode: int) -> None:
    for encrypt in (False, True):
        path = tmp_path / f"key {encrypt}.json"  # a space: the chmod line must be quoted to work verbatim
        save_key(IssuerKey.generate(), path, passphrase=b"long enough passphrase" if encrypt else None)
        os.chmod(path, mode)
        env = {"CREDKIT_KEY_PASSPHRASE": "long enough passphrase"}
        refused = run_credkit("sign", str(UNSIGNED), "--key", str(path), env=env)
        assert_one_line_error(refused, str(path), f"mode {mode:04o}", "chmod 600")
        fix = refused.stderr.strip().rsplit("run ", 1)[1]
        subprocess.run(fix, shell=True, check=True)  # the line's own command, verbatim
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert run_credkit("sign", str(UNSIGNED), "--key", str(path), env=env).returncode == 0
    public = tmp_path / "public.json"
    public.write_text(json.dumps({k: v for k, v in IssuerKey.generate().to_multikey().items() if k != "secretKeyMultibase"}))
    os.chmod(public, 0o644)
    assert run_credkit("keys", "show", str(public)).returncode == 0  # no secret in it: nothing to protect


@pytest.mark.parametrize("passphrase", ["x", "12345678901", "short one"])
def test_a_short_passphrase_needs_weak_passphrase(tmp_path: Path, passphrase: str) -> None:
    env = {"CREDKIT_KEY_PASSPHRASE": passphrase}
    refused = run_credkit("keys", "new", "--out", str(tmp_path / "k.json"), "--encrypt", env=env)
    assert_one_line_error(refused, "k.json", "too short", "--weak-passphrase")
    assert not (tmp_path / "k.json").exists()
    accepted = run_credkit("keys", "new", "--out", str(tmp_path / "k.json"), "--encrypt", "--weak-passphrase", env=env)
    assert accepted.returncode == 0 and "WARNING" in accepted.stderr
    assert run_credkit("keys", "new", "--out", str(tmp_path / "ok.json"), "--encrypt", env={"CREDKIT_KEY_PASSPHRASE": "123456789012"}).returncode == 0
