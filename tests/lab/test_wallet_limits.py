"""A hostile file in a wallet (deeply nested, huge, not UTF-8) is reported as unreadable, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tornado.httpclient

from tests.lab.conftest import ADA_EMAIL, Wallets

HOSTILE = {
    "11111111-1111-4111-8111-111111111111": b"[" * 100000 + b"]" * 100000,
    "22222222-2222-4222-8222-222222222222": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "33333333-3333-4333-8333-333333333333": b'{"name": "' + b"x" * (9 * 2**20) + b'"}',
    "44444444-4444-4444-8444-444444444444": b'{"name": "\xff\xfe"}',
}


@pytest.fixture
def jp_server_config(wallets: Wallets, tmp_path: Path) -> dict:
    folder = wallets.root / "ada"
    for uuid, data in HOSTILE.items():
        (folder / f"{uuid}.json").write_bytes(data)
    (folder / "status").mkdir(exist_ok=True)
    (folder / "status" / "deep.json").write_bytes(b"[" * 100000 + b"]" * 100000)
    return {
        "ServerApp": {"jpserver_extensions": {"credkit_jupyter": True}},
        "Credkit": {"wallet_root": str(wallets.root), "learner_id": "ada", "learner_email": ADA_EMAIL},
    }


async def test_the_panel_lists_the_good_credentials_and_names_the_hostile_files(jp_fetch, wallets: Wallets) -> None:
    response = await jp_fetch("credkit", "credentials")
    assert response.code == 200
    listing = json.loads(response.body)
    unreadable = {u["id"]: u["message"] for u in listing["unreadable"]}
    assert set(HOSTILE) <= set(unreadable)
    assert "nested deeper" in unreadable["11111111-1111-4111-8111-111111111111"]
    assert "larger than" in unreadable["33333333-3333-4333-8333-333333333333"]
    assert wallets.ids["good"] in {c["id"] for c in listing["credentials"]}
    for uuid in HOSTILE:  # one by one: a clear client error, not a server error
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await jp_fetch("credkit", "credentials", uuid)
        assert info.value.code == 422
