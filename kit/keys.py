"""Issuer keys: Ed25519 via PyNaCl, as did:key identifiers and Multikey JSON files.

Key file format (DESIGN.md)::

    {"type": "Multikey", "id": "did:key:z6Mk…#z6Mk…", "controller": "did:key:z6Mk…",
     "publicKeyMultibase": "z6Mk…", "secretKeyMultibase": "z3u2…"}

The encrypted form replaces ``secretKeyMultibase`` with ``secretKeyEncrypted``: the 32-byte seed
sealed by a SecretBox whose key is derived from the passphrase with Argon2id.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base58
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from kit.errors import CredkitError, KeyLoadError, VerificationError
from kit.fileio import write_atomic

__all__ = [
    "key_file_is_encrypted",
    "IssuerKey",
    "load_key",
    "save_key",
    "resolve_did_key",
    "public_key_from_multibase",
    "ENVELOPE_TYPE",
]

# Multicodec prefixes (varint-encoded): ed25519-pub 0xed, ed25519-priv 0x1300.
_PUB_PREFIX = b"\xed\x01"
_SECRET_PREFIX = b"\x80\x26"
ENVELOPE_TYPE = "credkit-argon2id-secretbox-v1"


def _multibase_b58(data: bytes) -> str:
    return "z" + base58.b58encode(data).decode("ascii")


def _from_multibase_b58(value: str, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z") or len(value) < 2:
        raise ValueError(f"{what} is not a base58btc multibase string (it must start with 'z')")
    try:
        return base58.b58decode(value[1:])
    except ValueError as exc:
        raise ValueError(f"{what} is not valid base58btc") from exc


def public_key_from_multibase(value: str) -> bytes:
    """The 32-byte Ed25519 public key in a ``z6Mk…`` Multikey value; raises ValueError."""
    raw = _from_multibase_b58(value, "publicKeyMultibase")
    if len(raw) != 34 or raw[:2] != _PUB_PREFIX:
        raise ValueError("publicKeyMultibase is not an Ed25519 Multikey (expected 0xed01 + 32 bytes)")
    return raw[2:]


def resolve_did_key(verification_method: str) -> tuple[str, bytes]:
    """Resolve a ``did:key:z6Mk…#z6Mk…`` verification method offline to (controller DID, public key).

    Raises VerificationError(check="issuer") when it is not a well-formed Ed25519 did:key method.
    """
    if not isinstance(verification_method, str) or not verification_method.startswith("did:key:"):
        raise VerificationError(
            f"verification method {verification_method!r} is not a did:key (only did:key resolves offline)",
            check="did-resolution",
        )
    did, sep, fragment = verification_method.partition("#")
    ident = did[len("did:key:"):]
    if sep and fragment != ident:
        raise VerificationError(
            f"verification method fragment {fragment!r} does not match its did:key {ident!r}",
            check="did-resolution",
        )
    try:
        return did, public_key_from_multibase(ident)
    except ValueError as exc:
        raise VerificationError(f"cannot resolve {did}: {exc}", check="did-resolution") from exc


@dataclass(frozen=True)
class IssuerKey:
    """An Ed25519 issuer key; the secret half is absent for a public-only key."""

    public_key: bytes
    seed: bytes | None = field(default=None, repr=False)

    @classmethod
    def generate(cls) -> IssuerKey:
        """A fresh random key."""
        signing = nacl.signing.SigningKey.generate()
        return cls(public_key=bytes(signing.verify_key), seed=bytes(signing))

    @classmethod
    def from_seed(cls, seed: bytes) -> IssuerKey:
        signing = nacl.signing.SigningKey(seed)
        return cls(public_key=bytes(signing.verify_key), seed=seed)

    @property
    def public_key_multibase(self) -> str:
        return _multibase_b58(_PUB_PREFIX + self.public_key)

    @property
    def did(self) -> str:
        """The issuer's DID: the issuer ``id`` in every credential it signs."""
        return f"did:key:{self.public_key_multibase}"

    @property
    def verification_method(self) -> str:
        return f"{self.did}#{self.public_key_multibase}"

    @property
    def can_sign(self) -> bool:
        return self.seed is not None

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``; raises KeyLoadError for a public-only key."""
        if self.seed is None:
            raise KeyLoadError(f"key {self.did} has no secret part: it can verify but not sign")
        return nacl.signing.SigningKey(self.seed).sign(message).signature

    def to_multikey(self, *, passphrase: bytes | None = None) -> dict[str, Any]:
        """The key-file JSON object; the secret sealed with ``passphrase`` when one is given."""
        doc: dict[str, Any] = {
            "type": "Multikey",
            "id": self.verification_method,
            "controller": self.did,
            "publicKeyMultibase": self.public_key_multibase,
        }
        if self.seed is None:
            return doc
        if passphrase is None:
            doc["secretKeyMultibase"] = _multibase_b58(_SECRET_PREFIX + self.seed)
        else:
            doc["secretKeyEncrypted"] = _seal(self.seed, passphrase)
        return doc

    @classmethod
    def from_multikey(
        cls, doc: Any, *, passphrase: bytes | None = None, source: str = "key"
    ) -> IssuerKey:
        """Parse a key-file object (also the W3C vectors' ``privateKeyMultibase`` form).

        Raises KeyLoadError naming ``source`` for every malformed, mismatched or undecryptable key.
        """
        if not isinstance(doc, dict):
            raise KeyLoadError(f"{source}: a key file must hold a JSON object")
        try:
            public = public_key_from_multibase(doc.get("publicKeyMultibase"))  # type: ignore[arg-type]
        except ValueError as exc:
            raise KeyLoadError(f"{source}: {exc}") from None
        secret_text = doc.get("secretKeyMultibase", doc.get("privateKeyMultibase"))
        seed: bytes | None = None
        if secret_text is not None:
            try:
                raw = _from_multibase_b58(secret_text, "secretKeyMultibase")
            except ValueError as exc:
                raise KeyLoadError(f"{source}: {exc}") from None
            if len(raw) != 34 or raw[:2] != _SECRET_PREFIX:
                raise KeyLoadError(f"{source}: secretKeyMultibase is not an Ed25519 secret Multikey")
            seed = raw[2:]
        elif "secretKeyEncrypted" in doc:
            if passphrase is None:
                raise KeyLoadError(f"{source}: the key is encrypted; set CREDKIT_KEY_PASSPHRASE or enter it")
            seed = _open(doc["secretKeyEncrypted"], passphrase, source)
        key = cls(public_key=public, seed=seed)
        if seed is not None and cls.from_seed(seed).public_key != public:
            raise KeyLoadError(f"{source}: the secret key does not belong to publicKeyMultibase")
        for name, expected in (("controller", key.did), ("id", key.verification_method)):
            if name in doc and doc[name] != expected:
                raise KeyLoadError(f"{source}: {name} {doc[name]!r} does not match the key ({expected})")
        return key


def _seal(seed: bytes, passphrase: bytes) -> dict[str, Any]:
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    ops, mem = nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE
    box_key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=ops, memlimit=mem)
    sealed = nacl.secret.SecretBox(box_key).encrypt(seed)
    return {
        "type": ENVELOPE_TYPE,
        "kdf": {"name": "argon2id", "opslimit": ops, "memlimit": mem, "salt": base64.b64encode(salt).decode()},
        "ciphertext": base64.b64encode(bytes(sealed)).decode(),
    }


def _open(envelope: Any, passphrase: bytes, source: str) -> bytes:
    try:
        if envelope["type"] != ENVELOPE_TYPE or envelope["kdf"]["name"] != "argon2id":
            raise KeyLoadError(f"{source}: unknown encrypted-key format {envelope.get('type')!r}")
        kdf = envelope["kdf"]
        salt = base64.b64decode(kdf["salt"], validate=True)
        ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        ops, mem = int(kdf["opslimit"]), int(kdf["memlimit"])
    except KeyLoadError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise KeyLoadError(f"{source}: the encrypted key envelope is malformed") from None
    # Bound the KDF cost a crafted file can make us pay.
    if not (1 <= ops <= 64 and 8192 <= mem <= 2**31):
        raise KeyLoadError(f"{source}: the encrypted key asks for out-of-range Argon2id limits")
    try:
        box_key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=ops, memlimit=mem)
        seed = nacl.secret.SecretBox(box_key).decrypt(ciphertext)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise KeyLoadError(f"{source}: wrong passphrase (or the encrypted key is damaged)") from None
    if len(seed) != 32:
        raise KeyLoadError(f"{source}: the encrypted key does not hold a 32-byte Ed25519 seed")
    return seed


def load_key(path: str | os.PathLike[str], *, passphrase: bytes | None = None) -> IssuerKey:
    """Read a key file; raises KeyLoadError with the file's name for anything wrong with it."""
    source = str(path)
    from kit.limits import parse_json

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"{source}: no such key file") from None
    except OSError as exc:
        raise KeyLoadError(f"{source}: cannot read key file ({exc.strerror or exc.__class__.__name__})") from None
    doc = parse_json(data, source=source, error=KeyLoadError, max_bytes=64 * 1024)
    if isinstance(doc, dict) and SECRET_FIELDS & doc.keys():
        check_private(path)
    return IssuerKey.from_multikey(doc, passphrase=passphrase, source=source)


# A key file holding any of these is a secret key file (the encrypted one too, as ssh treats it).
SECRET_FIELDS = frozenset({"secretKeyMultibase", "privateKeyMultibase", "secretKeyEncrypted"})


def check_private(path: str | os.PathLike[str]) -> None:
    """Refuse a secret key file that group or others may read or write (like ssh), naming the chmod."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise KeyLoadError(f"{path}: cannot read key file ({exc.__class__.__name__})") from None
    if mode & 0o077:
        raise KeyLoadError(
            f"{path}: the secret key is accessible by others (mode {mode & 0o777:04o}); "
            f"refusing to use it: run chmod 600 {shlex.quote(str(path))}"
        )


def key_file_is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Whether the key file seals its secret (so a passphrase must be asked for)."""
    from kit.limits import parse_json

    try:
        doc = parse_json(Path(path).read_bytes(), source=str(path), max_bytes=64 * 1024)
    except (OSError, CredkitError):
        return False
    return isinstance(doc, dict) and "secretKeyEncrypted" in doc


def save_key(key: IssuerKey, path: str | os.PathLike[str], *, passphrase: bytes | None = None) -> None:
    """Write the key file atomically with mode 0600; refuses to overwrite an existing file."""
    target = Path(path)
    if target.exists():
        raise KeyLoadError(f"{target}: already exists; refusing to overwrite a key")
    if not target.parent.is_dir():
        raise KeyLoadError(f"{target}: folder {target.parent} does not exist")
    write_atomic(target, json.dumps(key.to_multikey(passphrase=passphrase), indent=2) + "\n", mode=0o600)
