"""Learner ids are data, not paths: any id nbgrader accepts is graded, issued, delivered and shown.

Real `credkit grade` on the tiny course, real wallets, the real server extension in a real Jupyter
server, nbgrader's exchange layout; ids with a space, accents, CJK, a leading dash, 200 characters.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from grading.config import load_course_config
from kit.credentials import identity_hash
from kit.exchange import credential_drop_name
from kit.verify import verify_credential
from kit.wallet_folders import learner_of_folder, wallet_folder, wallet_folder_name
from tests.assessments.course import BIN, env
from tests.issuing.tiny_course import HALF, RIGHT, WRONG, earned, submit, tiny_course

LEARNERS = {
    "ada lovelace": RIGHT,                    # a space
    "josé Ñúñez": HALF,                       # accents
    "李小龙": RIGHT,                           # CJK
    "-rf": RIGHT,                             # a leading dash (an option to any command that takes it)
    ("a b-" * 50)[:200]: RIGHT,               # 200 characters with spaces: too long to spell out in a name
    "bob": HALF,                              # a plain id keeps its plain folder
    "eve": WRONG,                             # earns nothing, gets no folder
}
HOSTILE = ["../../etc", "a/b", ".", "..", "~", "~x", "%41", "A", "a", "x" * 300, "-", " ", "\t", "é", "e\u0301",
           "~~" + "0" * 64, "ada", "ada ", "CON", "nul\x00byte", "名" * 200]


def test_every_id_names_one_folder_of_its_own_that_decodes_back(tmp_path: Path) -> None:
    rng = random.Random(11)
    alphabet = "ab ./\\~%-_+@é李\u0301\x00\n"
    ids = HOSTILE + list(LEARNERS) + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))) for _ in range(500)]
    names: dict[str, str] = {}
    for learner in ids:
        name = wallet_folder_name(learner)
        assert "/" not in name and "\x00" not in name and name not in (".", "..") and len(name.encode()) <= 255, learner
        assert names.setdefault(name, learner) == learner, f"{learner!r} and {names[name]!r} share {name}"
        folder = wallet_folder(tmp_path, learner)
        assert folder.parent == tmp_path
        if name.startswith("~~"):  # the hashed form records the id inside the folder
            folder.mkdir()
            (folder / ".learner-id").write_text(learner, encoding="utf-8")
        assert learner_of_folder(folder) == learner
    assert wallet_folder_name("ada") == "ada" and wallet_folder_name("josé") == "~jos%C3%A9"
    with pytest.raises(ValueError):
        wallet_folder_name("")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny course, every learner submitted through nbgrader's exchange (with a secret), graded and issued."""
    root = tmp_path_factory.mktemp("ids")
    course, _ = tiny_course(root)
    for number, (learner, code) in enumerate(LEARNERS.items()):
        submit(course, learner, code)
        (course / "submitted" / learner / "tiny" / "submission_secret.txt").write_text(f"secret-{number}")
    result = subprocess.run([str(BIN / "credkit"), "grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5", "--json"],
                            env=env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["graded"] == len(LEARNERS) and summary["issued"] == sum(len(earned(c)) for c in LEARNERS.values())
    return course


def _wallet(course: Path, learner: str) -> dict[str, dict]:
    folder = wallet_folder(load_course_config(course).wallet_root, learner)
    return {json.loads(p.read_text())["credentialSubject"]["achievement"]["id"]: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_each_learner_gets_exactly_what_the_grades_earn_in_their_own_wallet(graded: Path) -> None:
    settings = load_course_config(graded)
    lists = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in settings.status_dir.glob("*.json")}
    for learner, code in LEARNERS.items():
        held = _wallet(graded, learner)
        assert set(held) == earned(code), learner
        for document in held.values():
            assert verify_credential(document, status_lists=lists).verified
            identity = document["credentialSubject"]["identifier"][0]
            assert identity["identityHash"] == identity_hash(learner, identity["salt"])  # the id itself, not its folder
    assert len(list((settings.wallet_root / "bob").glob("*.json"))) == 1
    assert {p.name for p in settings.wallet_root.iterdir()} == {wallet_folder_name(l) for l, c in LEARNERS.items() if earned(c)}
    again = subprocess.run([str(BIN / "credkit"), "issue", "--course", str(graded), "--json"], env=env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["issued"] == []


def test_one_unwritable_wallet_does_not_block_the_others(tmp_path: Path) -> None:
    course, _ = tiny_course(tmp_path)
    for learner in ("josé", "zoë", "bob"):
        submit(course, learner, RIGHT)
    wallets = load_course_config(course).wallet_root
    wallets.mkdir()
    blocker = wallet_folder(wallets, "josé")
    blocker.write_text("a file where josé's wallet folder should be")  # not a folder: nothing can be written in it
    grade = subprocess.run([str(BIN / "credkit"), "grade", "tiny", "--course-dir", str(course), "--cell-timeout", "5"],
                           env=env(), capture_output=True, text=True, timeout=300)
    assert grade.returncode == 1, grade.stderr
    assert "Traceback" not in grade.stdout + grade.stderr
    assert "not delivered" in grade.stdout and str(blocker) in grade.stdout
    assert set(_wallet(course, "zoë")) == set(_wallet(course, "bob")) == earned(RIGHT)

    still = subprocess.run([str(BIN / "credkit"), "issue", "--course", str(course)], env=env(), capture_output=True, text=True, timeout=120)
    assert still.returncode == 1 and "not delivered: josé" in still.stderr and "Traceback" not in still.stderr
    blocker.unlink()
    fixed = subprocess.run([str(BIN / "credkit"), "issue", "--course", str(course), "--json"], env=env(), capture_output=True, text=True, timeout=120)
    assert fixed.returncode == 0, fixed.stderr
    report = json.loads(fixed.stdout)
    assert report["issued"] == [] and report["redelivered"] == 2 and report["undelivered"] == []
    assert set(_wallet(course, "josé")) == earned(RIGHT)


@pytest.fixture(params=list(LEARNERS)[:5], ids=["space", "accents", "cjk", "leading-dash", "200-chars"])
def learner(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def jp_server_config(graded: Path, learner: str, tmp_path: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"credkit_jupyter": True}},
        "Credkit": {"wallet_root": str(load_course_config(graded).wallet_root), "learner_id": learner},
    }


async def test_the_lab_panel_lists_the_learners_own_credentials(jp_fetch, graded: Path, learner: str) -> None:
    response = await jp_fetch("credkit", "credentials")
    listing = json.loads(response.body)
    assert listing["learner"] == learner and listing["unreadable"] == []
    shown = {c["id"] for c in listing["credentials"]}
    assert shown == {d["id"].removeprefix("urn:uuid:") for d in _wallet(graded, learner).values()} and shown
    assert all(c["verification"]["verified"] for c in listing["credentials"])


def test_exchange_drops_reach_the_learners_own_server(graded: Path, tmp_path: Path) -> None:
    """delivery = exchange: each submission's drop, fetched by that learner's server into its wallet."""
    exchange = tmp_path / "exchange"
    with open(graded / "nbgrader_config.py") as file:
        original = file.read()
    try:
        with open(graded / "nbgrader_config.py", "a") as file:
            file.write(f"c.Credkit.delivery = 'exchange'\nc.Exchange.root = {str(exchange)!r}\n")
        result = subprocess.run([str(BIN / "credkit"), "issue", "--course", str(graded), "--json"], env=env(), capture_output=True, text=True, timeout=120)
    finally:
        (graded / "nbgrader_config.py").write_text(original)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["released_to_exchange"] == sum(len(earned(c)) for c in LEARNERS.values())
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom credkit_jupyter.wallet import Wallet\n"
        "learner, wallet, exchange, cache = sys.argv[1:]\n"
        "print(json.dumps(Wallet(Path(wallet), learner=learner).fetch(Path(exchange), Path(cache), [])))\n"
    )
    for number, (learner, code) in enumerate(LEARNERS.items()):
        cache = tmp_path / "cache" / str(number)
        submission = cache / "course" / f"{learner}+tiny+2026-11-29 12:00:00.000000 UTC"
        submission.mkdir(parents=True)
        (submission / "submission_secret.txt").write_text(f"secret-{number}")
        assert (exchange / "course" / "credentials" / credential_drop_name(f"secret-{number}")).is_dir() == bool(earned(code))
        wallet = tmp_path / "server-wallets" / str(number)
        fetched = subprocess.run([str(BIN / "python"), "-c", script, learner, str(wallet), str(exchange), str(cache)],
                                 env=env(), capture_output=True, text=True, timeout=60)
        assert fetched.returncode == 0, fetched.stderr
        assert len(json.loads(fetched.stdout)["new"]) == len(earned(code)), learner
        assert {p.stem for p in wallet.glob("*.json")} == {d["id"].removeprefix("urn:uuid:") for d in _wallet(graded, learner).values()}
    assert os.listdir(exchange / "course" / "credentials")  # the drops exist; their names come from the secrets alone
