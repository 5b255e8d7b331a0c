"""The /credkit/ server routes, in a real in-process Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import tornado.httpclient

from kit.exchange import credential_drop_name
from kit.baking import unbake
from tests.helpers import CREDKIT
from tests.lab.conftest import ADA_EMAIL, Wallets

SAMPLE_ID = "0cb7d0e9-0499-4904-b8ff-b3961f133862"


@pytest.fixture
def jp_server_config(wallets: Wallets, tmp_path: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"credkit_jupyter": True}},
        "Credkit": {
            "wallet_root": str(wallets.root),
            "learner_id": "ada",
            "learner_email": ADA_EMAIL,
            "exchange_root": str(tmp_path / "exchange"),
            "exchange_cache": str(tmp_path / "cache"),
        },
    }


async def fetch_json(jp_fetch, *parts: str, **kwargs) -> dict:
    response = await jp_fetch(*parts, **kwargs)
    assert response.code == 200
    return json.loads(response.body)


async def status_of(jp_fetch, *parts: str, **kwargs) -> int:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    return info.value.code


def credkit_routes(serverapp) -> list[tuple[str, type]]:
    """(pattern, handler) of every /credkit/ route in the server's own handler table."""
    found = []

    def walk(rules) -> None:
        for rule in rules:
            if hasattr(rule.target, "rules"):  # a host-matched group added by add_handlers
                walk(rule.target.rules)
            elif "/credkit/" in getattr(getattr(rule.matcher, "regex", None), "pattern", ""):
                found.append((rule.matcher.regex.pattern, rule.target))

    walk(serverapp.web_app.wildcard_router.rules)
    walk(serverapp.web_app.default_router.rules)
    return found


def concrete_path(pattern: str, credential_id: str) -> str:
    path = pattern.rstrip("$").lstrip("^")
    path = path[path.index("/credkit/") + 1 :]  # jp_fetch puts the server's base_url in front
    path = path.replace("(?P<credential_id>[^/]+)", credential_id).replace("(?P<kind>[^/]+)", "json")
    assert not re.search(r"[()\[\]?*+]", path), f"unexpected route pattern {pattern}"
    return path


def methods_of(handler: type) -> list[str]:
    return [m for m in ("get", "post", "put", "patch", "delete") if any(m in vars(k) for k in handler.__mro__[: handler.__mro__.index(next(c for c in handler.__mro__ if c.__name__ == "APIHandler"))])]


async def test_every_route_refuses_unauthenticated_and_serves_authenticated(jp_serverapp, jp_fetch, wallets: Wallets) -> None:
    routes = credkit_routes(jp_serverapp)
    names = {handler.__name__ for _, handler in routes}
    assert names == {"CredentialsHandler", "CredentialHandler", "VerifyHandler", "ImageHandler", "DownloadHandler", "FetchHandler"}
    tried = 0
    for pattern, handler in routes:
        path = concrete_path(pattern, wallets.ids["good"])
        for method in methods_of(handler):
            body = b"" if method in ("post", "put", "patch") else None
            code = await status_of(jp_fetch, path, method=method.upper(), body=body, headers={"Authorization": ""})
            assert code == 403, (method, path)
            ok = await jp_fetch(path, method=method.upper(), body=body)
            assert ok.code == 200, (method, path)
            tried += 1
    assert tried == 6


async def test_list_shows_only_the_learners_credentials_each_verified(jp_fetch, wallets: Wallets) -> None:
    listing = await fetch_json(jp_fetch, "credkit", "credentials")
    assert listing["learner"] == "ada"
    by_id = {c["id"]: c for c in listing["credentials"]}
    assert set(by_id) == {wallets.ids[r] for r in ("good", "second", "tampered", "expired", "revoked", "suspended", "not-revoked")}
    good = by_id[wallets.ids["good"]]
    assert good["verification"]["status"] == "verified" and good["verification"]["verified"] is True
    assert good["name"] == "pandas data wrangling"
    assert good["issuer"]["name"] == "Example University"
    assert [(s["name"], s["value"], s["valueMax"]) for s in good["skills"]] == [
        ("Aggregate with groupby", "8", "10"),
        ("Combine tables with merge", "3.5", "4"),
    ]
    assert good["alignments"][0]["targetFramework"] == "ESCO"
    assert good["evidence"][0]["name"] == "pandas assessment"
    tampered = by_id[wallets.ids["tampered"]]["verification"]
    assert tampered["status"] == "invalid"
    assert any(c["check"] == "proof" and c["passed"] is False for c in tampered["checks"])
    assert by_id[wallets.ids["expired"]]["verification"]["status"] == "expired"
    # revocation and suspension come from the signed status lists in the wallet's status/ folder
    assert by_id[wallets.ids["revoked"]]["verification"]["status"] == "revoked"
    assert by_id[wallets.ids["suspended"]]["verification"]["status"] == "suspended"
    assert by_id[wallets.ids["not-revoked"]]["verification"]["status"] == "verified"


async def test_status_needs_the_wallets_status_list(jp_fetch, wallets: Wallets) -> None:
    for path in (wallets.root / "ada" / "status").glob("*.json"):
        path.unlink()
    report = await fetch_json(jp_fetch, "credkit", "credentials", wallets.ids["revoked"], "verify", method="POST", body=b"")
    # without the list the status is neither valid nor invalid: it could not be checked
    assert report["status"] == "unchecked" and report["verified"] is False
    assert any(c["check"] == "status" and c["outcome"] == "could-not-check" and "--status-list" in c["message"] for c in report["checks"])


async def test_get_one_returns_document_and_verification(jp_fetch, wallets: Wallets) -> None:
    entry = await fetch_json(jp_fetch, "credkit", "credentials", wallets.ids["good"])
    assert entry["credential"] == wallets.documents["good"]
    assert entry["verification"]["status"] == "verified"
    report = await fetch_json(jp_fetch, "credkit", "credentials", wallets.ids["tampered"], "verify", method="POST", body=b"")
    assert report["status"] == "invalid" and report["verified"] is False


async def test_another_learners_credential_is_refused(jp_fetch, wallets: Wallets) -> None:
    # bob's credential in bob's wallet: not in ada's, and its existence is not revealed
    assert await status_of(jp_fetch, "credkit", "credentials", wallets.ids["bob"]) == 404
    assert await status_of(jp_fetch, "credkit", "credentials", wallets.ids["bob"], "download", "json") == 404
    # a credential issued to bob, sitting in ada's folder: forbidden, for every route that reads it
    for parts in ((), ("download", "json"), ("download", "png"), ("image.svg",)):
        assert await status_of(jp_fetch, "credkit", "credentials", wallets.ids["bob-in-ada"], *parts) == 403
    assert await status_of(jp_fetch, "credkit", "credentials", wallets.ids["bob-in-ada"], "verify", method="POST", body=b"") == 403


async def test_learner_comes_from_config_not_from_the_request(jp_fetch, wallets: Wallets) -> None:
    listing = await fetch_json(jp_fetch, "credkit", "credentials", params={"learner": "bob", "learner_id": "bob"})
    assert listing["learner"] == "ada"
    assert wallets.ids["bob"] not in {c["id"] for c in listing["credentials"]}


@pytest.mark.parametrize(
    "raw_path",
    [
        "/credkit/credentials/..%2F..%2F..%2Fetc%2Fpasswd",
        "/credkit/credentials/..%2Fbob%2F{bob}/download/json",
        "/credkit/credentials/%2e%2e/download/json",
        "/credkit/credentials/{good}.json/download/json",
        "/credkit/credentials/{GOOD}/download/json",
        "/credkit/credentials/not-a-uuid/verify",
    ],
)
async def test_malformed_ids_and_traversal_are_400(jp_serverapp, http_server_client, jp_auth_header, jp_base_url, wallets: Wallets, raw_path: str) -> None:
    path = raw_path.format(bob=wallets.ids["bob"], good=wallets.ids["good"], GOOD=wallets.ids["good"].upper())
    method = "POST" if path.endswith("/verify") else "GET"
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await http_server_client.fetch(
            jp_base_url.rstrip("/") + path, headers=jp_auth_header, method=method, body=b"" if method == "POST" else None
        )
    assert info.value.code == 400


async def test_symlink_out_of_the_wallet_is_refused(jp_fetch, wallets: Wallets) -> None:
    link = wallets.root / "ada" / "11111111-2222-4333-8444-555555555555.json"
    link.symlink_to(wallets.root / "bob" / f"{wallets.ids['bob']}.json")
    assert await status_of(jp_fetch, "credkit", "credentials", link.stem, "download", "json") == 404


async def test_unknown_download_format_is_404(jp_fetch, wallets: Wallets) -> None:
    assert await status_of(jp_fetch, "credkit", "credentials", wallets.ids["good"], "download", "gif") == 404


async def test_downloads_verify_with_the_cli(jp_fetch, wallets: Wallets, tmp_path: Path) -> None:
    good = wallets.ids["good"]
    stored = (wallets.root / "ada" / f"{good}.json").read_bytes()
    files = {}
    for kind, media in (("json", "application/ld+json"), ("png", "image/png"), ("svg", "image/svg+xml")):
        response = await jp_fetch("credkit", "credentials", good, "download", kind)
        assert response.headers["Content-Type"] == media
        assert f'filename="credential-{good}.{kind}"' in response.headers["Content-Disposition"]
        files[kind] = tmp_path / f"credential.{kind}"
        files[kind].write_bytes(response.body)
    assert files["json"].read_bytes() == stored
    assert unbake(files["png"].read_bytes()).encode() == stored
    assert unbake(files["svg"].read_bytes()).encode() == stored
    result = subprocess.run([CREDKIT, "verify", *map(str, files.values()), "--recipient", ADA_EMAIL], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == 3


async def test_image_is_the_credentials_artwork(jp_fetch, wallets: Wallets) -> None:
    response = await jp_fetch("credkit", "credentials", wallets.ids["good"], "image.svg")
    assert response.headers["Content-Type"] == "image/svg+xml"
    svg = response.body.decode()
    assert "pandas data wrangling" in svg and "Aggregate with groupby" in svg


async def test_fetch_copies_released_credentials_and_status_lists(jp_fetch, wallets: Wallets, tmp_path: Path) -> None:
    from tests.lab.conftest import ada_award

    # ada's submission as nbgrader's exchange leaves it in her cache, with its secret
    submission = tmp_path / "cache" / "course101" / "ada+ps1+2026-11-29 10:00:00.000000 UTC"
    submission.mkdir(parents=True)
    (submission / "submission_secret.txt").write_text("s3cret-of-ada")
    released = tmp_path / "exchange" / "course101" / "credentials"
    drop = released / credential_drop_name("s3cret-of-ada")
    drop.mkdir(parents=True)
    new_doc = wallets.issue(ada_award())
    new_id = new_doc["id"].removeprefix("urn:uuid:")
    (drop / f"{new_id}.json").write_text(json.dumps(new_doc))
    # bob's credential in ada's drop (a course mistake): not copied into her wallet
    bobs = wallets.documents["bob"]
    (drop / f"{wallets.ids['bob']}.json").write_text(json.dumps(bobs))
    # another learner's drop, which ada's server cannot name
    other = released / credential_drop_name("s3cret-of-bob")
    other.mkdir()
    (other / "99999999-2222-4333-8444-555555555555.json").write_text(json.dumps(bobs))
    (released / "status").mkdir()
    (released / "status" / "list-1.json").write_text('{"id": "https://credkit.example.edu/status/1"}')

    result = await fetch_json(jp_fetch, "credkit", "fetch", method="POST", body=b"")
    assert result == {"new": [new_id], "statusLists": ["list-1.json"]}
    assert (wallets.root / "ada" / f"{new_id}.json").exists()
    assert (wallets.root / "ada" / "status" / "list-1.json").exists()
    assert not (wallets.root / "ada" / f"{wallets.ids['bob']}.json").exists()
    again = await fetch_json(jp_fetch, "credkit", "fetch", method="POST", body=b"")
    assert again == {"new": [], "statusLists": []}
    listing = await fetch_json(jp_fetch, "credkit", "credentials")
    assert new_id in {c["id"] for c in listing["credentials"]}


def test_drop_name_is_nbgraders_notebook_hash() -> None:
    from nbgrader.utils import notebook_hash

    from kit.exchange import CREDENTIALS_DROP_ID

    assert credential_drop_name("s3cret") == notebook_hash(secret="s3cret", notebook_id=CREDENTIALS_DROP_ID)
    assert credential_drop_name("s3cret") != credential_drop_name("s3cret2")
