"""Bitstring Status List: the encoding the spec fixes, and the checks around a list."""

from __future__ import annotations

import base64
import copy
import gzip
from datetime import datetime, timezone

import pytest

from kit.credentials import IssuerProfile, build_credential
from kit.keys import IssuerKey
from kit.proofs import sign
from kit.status import MIN_ENTRIES, StatusList, status_entry, status_list_credential
from kit.verify import verify_credential
from tests.helpers import SAMPLE_ISSUER_ARGS, sample_award

URL = "https://credkit.example.edu/status/revocation-1"
NOW = datetime.now(timezone.utc)


def test_bit_order_and_encoding_follow_the_spec() -> None:
    status = StatusList.new()
    assert status.size == MIN_ENTRIES
    status.set(0, True)
    status.set(9, True)
    assert status.bits[0] == 0x80 and status.bits[1] == 0x40  # index 0 = most significant bit of byte 0
    encoded = status.encode()
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert raw == bytes(status.bits)
    assert StatusList.decode(encoded).get(9) and not StatusList.decode(encoded).get(8)
    assert status.encode() == encoded  # mtime 0: the same list always encodes the same


def test_short_lists_and_gzip_bombs_are_refused() -> None:
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024), mtime=0)).decode().rstrip("=")
    with pytest.raises(ValueError, match="fewer than"):
        StatusList.decode(short)
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64 * 1024 * 1024), mtime=0)).decode().rstrip("=")
    with pytest.raises(ValueError, match="size limit"):
        StatusList.decode(bomb)


def _setup(key: IssuerKey) -> tuple[dict, StatusList, int]:
    status = StatusList.new()
    index = status.random_free_index(set())
    award = sample_award(credential_status=status_entry(URL, index, "revocation"))
    credential = sign(build_credential(award, IssuerProfile(**SAMPLE_ISSUER_ARGS), key.did), key)  # type: ignore[arg-type]
    return credential, status, index


def test_revoked_credential_reports_revoked() -> None:
    key = IssuerKey.generate()
    credential, status, index = _setup(key)
    assert verify_credential(credential, status_lists={URL: sign(status_list_credential(URL, "revocation", status, key.did, NOW), key)}).verified
    status.set(index, True)
    report = verify_credential(credential, status_lists={URL: sign(status_list_credential(URL, "revocation", status, key.did, NOW), key)})
    assert report.status == "revoked" and not report.verified


def test_forged_or_foreign_status_lists_are_refused() -> None:
    key = IssuerKey.generate()
    credential, status, _ = _setup(key)
    listed = sign(status_list_credential(URL, "revocation", status, key.did, NOW), key)
    forged = copy.deepcopy(listed)
    forged["credentialSubject"]["encodedList"] = StatusList.new(MIN_ENTRIES * 2).encode()
    report = verify_credential(credential, status_lists={URL: forged})
    assert report.status == "invalid" and "does not verify" in report.first_failure.message  # type: ignore[union-attr]

    stranger = IssuerKey.generate()
    foreign = sign(status_list_credential(URL, "revocation", status, stranger.did, NOW), stranger)
    report = verify_credential(credential, status_lists={URL: foreign})
    assert report.status == "invalid" and "not by the credential's issuer" in report.first_failure.message  # type: ignore[union-attr]

    wrong_purpose = sign(status_list_credential(URL, "suspension", status, key.did, NOW), key)
    report = verify_credential(credential, status_lists={URL: wrong_purpose})
    assert "not a revocation list" in report.first_failure.message  # type: ignore[union-attr]

    # a list nobody handed over is neither valid nor invalid: the status could not be checked
    missing = verify_credential(credential)
    assert missing.status == "unchecked" and not missing.verified and missing.first_failure is None
    assert "could not be checked" in missing.first_unchecked.message and "--status-list" in missing.first_unchecked.message  # type: ignore[union-attr]


def test_an_expired_list_cannot_vouch_and_the_cache_honours_ttl(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from kit.sources import Sources

    key = IssuerKey.generate()
    credential, status, _ = _setup(key)
    stale = sign(status_list_credential(URL, "revocation", status, key.did, NOW - timedelta(days=400), valid_until=NOW - timedelta(days=35)), key)
    report = verify_credential(credential, status_lists={URL: stale})
    # neither valid nor invalid: the issuer has to republish
    assert report.status == "unchecked" and report.first_failure is None
    assert "no longer vouches" in report.first_unchecked.message and "republish" in report.first_unchecked.message  # type: ignore[union-attr]

    fresh = sign(status_list_credential(URL, "revocation", status, key.did, NOW, valid_until=NOW + timedelta(days=365), ttl=timedelta(hours=1)), key)
    assert fresh["credentialSubject"]["ttl"] == 3_600_000 and "validUntil" in fresh
    cache = Sources(cache_dir=tmp_path, offline=False)
    cache._store(URL, fresh, NOW)
    # within the ttl the cached copy is used without any network; past it, offline still uses it and says when
    assert cache.status_list(URL, NOW + timedelta(minutes=59)).origin == "cache"
    offline = Sources(cache_dir=tmp_path, offline=True)
    late = offline.status_list(URL, NOW + timedelta(hours=2))
    assert late.origin == "cache" and late.note().startswith("cached copy fetched ")
    assert verify_credential(credential, sources=offline, now=NOW + timedelta(hours=2)).verified
