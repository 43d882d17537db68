"""``crossverify store``: an institution's SQLite stores checked, copied into PostgreSQL row for row (and then
read there by the same code), and migrated from an older schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from crossverify.cli import main
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import MIGRATIONS as JOURNAL_MIGRATIONS
from crossverify.issuer.journal import Journal
from crossverify.regulator.index import RegulatorReader
from crossverify.service.auth import ApiKeys, Client, new_key
from crossverify.service.sessions import MIGRATIONS as SESSIONS
from crossverify.service.sessions import Sessions
from crossverify.store import Store, inspect
from crossverify.verifier.challenges import MIGRATIONS as CHALLENGES
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import VerifierClient
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import Consortium, deposit_certificates
from ..postgres import empty

BANK = "ICBKCNBJGDG"


def run(config: Path, *args: str, url: str | None = None) -> tuple[int, Any]:
    env = {"CROSSVERIFY_STORAGE_URL": url} if url else {}
    result = CliRunner().invoke(main, ["--config", str(config), "--json", "store", *args], env=env)
    return result.exit_code, json.loads(result.stdout) if result.exit_code in (0, 1) else result.output


def test_sqlite_stores_are_copied_into_postgresql_row_for_row(consortium: Consortium, tmp_path: Path,
                                                              postgres_url: str) -> None:
    c = consortium
    issuer = IssuerClient(c.registry, "BNUMMOMX", c.signing_key, c.macao_operator,
                          Journal(tmp_path / "journal.sqlite"), tmp_path / "bundles")
    issuer.issue(deposit_certificates(c, 5))
    issuer.run()
    issuer.journal.close()
    bank = VerifierClient(c.registry, outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"))
    assert bank.outbox is not None
    [commitment, *_] = bank.outbox.enqueue(bank.receipts(bank.verify_many(
        [p.read_bytes() for p in sorted((tmp_path / "bundles").rglob("*.json"))]), "ACCTOPEN"))
    bank.outbox.close()
    challenges = ChallengeStore(tmp_path / "challenges.sqlite", BANK)
    open_challenge = challenges.issue("ACCTOPEN", c.now())
    challenges.close()
    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite", circulation=c.circulation)
    events = reader.sync().events
    reader.close()
    console = Sessions(Store(tmp_path / "audit-sessions.sqlite", SESSIONS, kind="console sessions"), ApiKeys({}))
    console.open(Client("mo-supervisor", "regulator"), new_key()[0])
    console.store.close()
    config = tmp_path / "bank.toml"
    config.write_text(f"""
[network]
registry = "{c.registry.address}"
[issuer]
journal = "journal.sqlite"
[verifier]
outbox = "outbox.sqlite"
challenges = "challenges.sqlite"
audience = "{BANK}"
[audit]
index = "audit.sqlite"
""")
    code, checked = run(config, "check")
    assert code == 0
    assert [(s["store"], s["state"]) for s in checked] == [
        ("journal", "current"), ("pickups", "absent"), ("outbox", "current"), ("challenges", "current"),
        ("audit", "current"), ("sessions", "current")]

    code, copied = run(config, "copy", "--to", postgres_url)
    assert code == 0, copied
    assert [s["store"] for s in copied] == ["journal", "outbox", "challenges", "audit", "sessions"]
    rows = {s["store"]: s["rows"] for s in copied}
    assert rows["journal"]["documents"] == 5 and rows["outbox"]["sealed_receipts"] == 5
    assert rows["sessions"]["sessions"] == 1
    assert rows["audit"]["events"] == events and all(s["verified"] for s in copied)
    code, refused = run(config, "copy", "--to", postgres_url, "--only", "journal")
    assert code == 3 and "already holds" in refused
    code, refused = run(config, "copy", "--to", postgres_url.replace("crossverify@", "crossverify:hunter2@"))
    assert code == 2 and "holds a password" in refused and "hunter2" not in refused
    database = postgres_url.split("/")[3].split("?")[0]
    code, refused = run(config, "copy", "--to", postgres_url.replace(f"/{database}?", "/nosuch?"))
    assert code == 2 and 'refuses its URL: database "nosuch" does not exist' in refused

    code, there = run(config, "check", url=postgres_url)
    assert code == 0 and [(s["store"], s["state"], s["rows"]) for s in there if s["state"] != "absent"] == [
        (s["store"], "current", {**s["rows"], "store_binding": s["rows"]["store_binding"]}) for s in copied]
    moved = Journal(postgres_url)  # the same code reads the copy, and goes on from it
    assert moved.counts("BNUMMOMX") == {"pending": 0, "delivered": 5}
    assert moved.find("BNUMMOMX", reference="BNUMMOMX-000004") is not None
    [new_id] = moved.add_documents([("BNUMMOMX-000005", moved.documents([1])[0])], issuer.hash_alg)
    assert new_id == 6  # the identity goes on after the copied ids
    moved.close()
    outbox = ReceiptOutbox(postgres_url)
    assert outbox.state(commitment)["state"] == "queued"
    outbox.close()
    challenge_store = ChallengeStore(postgres_url, BANK)
    assert challenge_store.consume(open_challenge.nonce, "ACCTOPEN", c.now()).value == "fresh"
    challenge_store.close()
    empty(postgres_url)


def test_an_old_store_is_reported_and_migrated(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "issuer.toml"
    config.write_text('[issuer]\njournal = "journal.sqlite"\n')
    for url in (None, postgres_url):
        where = url or tmp_path / "journal.sqlite"
        Store(where, JOURNAL_MIGRATIONS[:1], kind="journal").close()
        code, checked = run(config, "check", "--only", "journal", url=url)
        assert code == 1 and checked[0]["state"] == "needs migrating"
        code, migrated = run(config, "migrate", url=url)
        assert code == 0 and [(m["store"], m["from"], m["to"]) for m in migrated] == [
            ("journal", 1, len(JOURNAL_MIGRATIONS))]
        assert run(config, "check", "--only", "journal", url=url)[1][0]["state"] == "current"
    empty(postgres_url)


def test_a_copy_never_migrates_its_source(tmp_path: Path, postgres_url: str) -> None:
    """An old file was migrated in place by the copy: the source an operator keeps to fall back on was changed, and
    an older crossverify could no longer open it. It is refused, naming the command that migrates it, before
    anything is made in PostgreSQL."""
    config = tmp_path / "issuer.toml"
    config.write_text('[issuer]\njournal = "journal.sqlite"\n')
    Store(tmp_path / "journal.sqlite", JOURNAL_MIGRATIONS[:1], kind="journal").close()
    kept = (tmp_path / "journal.sqlite").read_bytes()
    code, said = run(config, "copy", "--to", postgres_url)
    assert code != 0 and "crossverify store migrate --only journal" in said, said
    assert (tmp_path / "journal.sqlite").read_bytes() == kept
    assert inspect(postgres_url, JOURNAL_MIGRATIONS, "journal") is None


def test_a_table_written_to_a_file_is_whole_however_wide(tmp_path: Path) -> None:
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "journal.sqlite"
    config = tmp_path / "issuer.toml"
    config.write_text(f'[network]\nregistry = "0x{"1" * 40}"\n[issuer]\njournal = "{deep}"\n')
    result = CliRunner().invoke(main, ["--config", str(config), "store", "check", "--only", "journal"])
    assert result.exit_code == 0, result.output
    assert str(deep) in result.output and "…" not in result.output


def test_a_copy_that_finds_no_store_is_refused(tmp_path: Path) -> None:
    """'store copy' run without the institution's configuration (or from another folder) finds none of its SQLite
    files: it says so (exit 2) rather than copying nothing with success, after which the service would start on
    empty stores in PostgreSQL, its queued receipts and journal left behind. A store asked for by --only likewise."""
    config = tmp_path / "bank.toml"
    config.write_text('[verifier]\noutbox = "var/outbox.sqlite"\n')
    code, said = run(config, "copy", "--to", "postgresql://crossverify@127.0.0.1:9/bank")
    assert code == 2 and "no store to copy" in said and "outbox.sqlite" in said, said
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "outbox.sqlite").touch()  # one store there, not the one asked for
    code, said = run(config, "copy", "--to", "postgresql://crossverify@127.0.0.1:9/bank", "--only", "journal")
    assert code == 2 and "journal" in said and "does not exist" in said, said


def test_a_migration_that_finds_no_store_says_so_and_a_refused_url_keeps_its_password(tmp_path: Path) -> None:
    """'store migrate' from the wrong folder (or without --config) printed an empty table, as if it had migrated;
    it names where it looked. A --to URL that is not postgresql:// was echoed whole, its password with it."""
    config = tmp_path / "bank.toml"
    config.write_text('[verifier]\noutbox = "var/outbox.sqlite"\n')
    said = CliRunner().invoke(main, ["--config", str(config), "store", "migrate"])
    assert said.exit_code == 0 and "nothing to migrate" in said.output and "outbox.sqlite" in said.output, said.output
    code, refused = run(config, "copy", "--to", "postgresql+psycopg://crossverify:hunter2@db/bank")
    assert code == 2 and "must be a postgresql:// URL" in refused and "hunter2" not in refused, refused


def test_a_store_a_service_still_writes_is_not_copied(tmp_path: Path, postgres_url: str) -> None:
    """A bank's workers share the challenges and the outbox without holding their lock file: a copy while one still
    runs would leave behind what it writes next (receipts never sent once [storage] url names the copy). The copy
    is refused, naming the remedy, before anything is made in PostgreSQL; the service stopped, it goes through."""
    config = tmp_path / "bank.toml"
    config.write_text(f'[verifier]\nchallenges = "challenges.sqlite"\naudience = "{BANK}"\n')
    service = subprocess.Popen(
        [sys.executable, "-c", "import sys; from crossverify.verifier.challenges import ChallengeStore; "
         f"s = ChallengeStore({str(tmp_path / 'challenges.sqlite')!r}, {BANK!r}); s.issue('ACCTOPEN', 1); "
         "print('serving', flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None and service.stdout.readline().strip() == "serving"
        code, refused = run(config, "copy", "--to", postgres_url, "--only", "challenges")
        assert code == 3 and "open in another process" in refused and "stop it" in refused, refused
        assert inspect(postgres_url, CHALLENGES, "challenge store") is None  # nothing made there
    finally:
        service.communicate("")
    code, copied = run(config, "copy", "--to", postgres_url, "--only", "challenges")
    assert code == 0 and copied[0]["rows"]["challenges"] == 1
    empty(postgres_url)
