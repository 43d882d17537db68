"""Replicas of one institution's service (separate `crossverify serve` processes on the loopback) over one
PostgreSQL database and the real node: one truth across them, and faults (a replica killed with SIGKILL in the
middle of a flush, of an issuance round and of a sync; the database stopped under load) that lose and double
nothing and heal by themselves; a regulator's console session that holds at every replica until it is closed at
one."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from eth_account.signers.local import LocalAccount

from crossverify import Certificate, DocumentHeader, load_bundle, load_challenge, present
from crossverify.bench._postgres import PostgresServer
from crossverify.chain.connection import connect
from crossverify.format.holder import holder_claim
from crossverify.keys.holder import generate_holder_key
from crossverify.regulator.index import RegulatorReader
from crossverify.service.auth import new_key
from crossverify.service.console import COOKIE
from crossverify.store import _lock_key, schema_name

from ..conftest import deposit_certificates
from ..postgres import empty
from .conftest import free_port, rpc
from .test_flow import Net, _Clock

KEY, DIGEST = new_key()
PAUSE = 4_242_001  # the test's own advisory lock key, which a trigger makes a transaction wait on


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Net:
    return Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))


@pytest.fixture(autouse=True)
def clean(postgres_url: str, node_url: str) -> Iterator[None]:
    yield
    rpc(node_url, "evm_setIntervalMining", [0])
    rpc(node_url, "evm_setAutomine", [True])
    empty(postgres_url)


def stop_mining(node_url: str) -> None:
    """No more blocks: a sent transaction stays pending (and its sender waiting) until :func:`resume_mining`."""
    rpc(node_url, "evm_setAutomine", [False])
    rpc(node_url, "evm_setIntervalMining", [0])


def resume_mining(node_url: str) -> None:
    """A block every second, with whatever is pending."""
    rpc(node_url, "evm_setIntervalMining", [1000])


class Replica:
    """One `crossverify serve` process on a free loopback port."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crossverify.cli", "--config", str(config), "serve", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"replica exited: {Path(self.log.name).read_text()[-2000:]}"
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("replica did not come up")

    def call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, self.url + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                                **kwargs)  # type: ignore[arg-type]

    def kill(self) -> None:
        """As kill -9: no clean-up of any kind."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()


@pytest.fixture
def replicas() -> Iterator[Callable[[Path, int], list[Replica]]]:
    started: list[Replica] = []

    def start(config: Path, n: int) -> list[Replica]:
        made = [Replica(config, config.with_name(f"{config.stem}-{len(started) + i}.log")) for i in range(n)]
        for replica in made:
            replica.wait_up()
        started.extend(made)
        return made

    yield start
    for replica in started:
        replica.kill()


def config(path: Path, net: Net, node_url: str, postgres_url: str, role: str, keys: str, extra: str = "") -> Path:
    path.write_text(f"""
[network]
rpc = "{node_url}"
registry = "{net.registry.address}"
circulation = "{net.circulation.address}"
gas_price = 0
receipt_timeout = 60
[keys]
dev_mode = true
{keys}
[storage]
url = "{postgres_url}"
[service]
api_keys = {{ "{role}-app" = "{role} {DIGEST}" }}
requests_per_minute = 100000
resident_requests_per_minute = 100000
run_every = 0.5
{extra}
""")
    return path


def anchored_roots(net: Net) -> list[bytes]:
    return [bytes(log["args"]["batchRoot"]) for log in
            net.registry.contract.events.BatchAnchored().get_logs(from_block=0)]


def holder_of(postgres_url: str, kind: str, task: str) -> int | None:
    """The process id of the replica holding ``task`` on the store of ``kind``, if one does."""
    key = _lock_key(schema_name(kind), task)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                           "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
                           ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()
    return None if row is None else int(row[0].rsplit(":", 1)[1])


def query(postgres_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def until(condition: Callable[[], object], timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def bank_config(tmp_path: Path, net: Net, node_url: str, postgres_url: str, dev: list[LocalAccount]) -> Path:
    return config(tmp_path / "bank.toml", net, node_url, postgres_url, "bank",
                  f'sender_private_key = "0x{dev[3].key.hex()}"',
                  '[verifier]\naudience = "ICBKCNBJGDG"')


def test_bank_replicas_answer_a_challenge_once_and_record_each_receipt_once_through_a_killed_flusher(
        net: Net, node_url: str, postgres_url: str, dev_accounts: list[LocalAccount], tmp_path: Path,
        replicas: Callable[[Path, int], list[Replica]]) -> None:
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 24))
    bundles = [p.read_bytes() for p in issuer.run().delivered]
    holder = generate_holder_key()
    now = net.now()
    issuer.issue([("bound", Certificate(DocumentHeader("DEPCERT", "BNUMMOMX", now, now - 86400, now + 86400), {
        "holder_name": "CHAN Tai Man", "cnf": holder_claim(holder.public_key())}))])
    [bound] = issuer.run().delivered
    before = len(net.commitments())
    bank = replicas(bank_config(tmp_path, net, node_url, postgres_url, dev_accounts), 3)

    # One challenge, handed over by one replica, presented to all three at once: one answer counts.
    code = bank[0].call("POST", "/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()["code"]
    challenge = load_challenge(bank[1].call("POST", "/resident/challenges", json={"code": code}).text)
    presented = present(load_bundle(bound.read_bytes()), challenge, holder, int(time.time())).dumps()
    answers: list[dict[str, object]] = []
    threads = [threading.Thread(target=lambda r=r: answers.append(r.call(  # type: ignore[misc]
        "POST", "/resident/verifications", data=presented).json())) for r in bank]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(bool(a["valid"]) for a in answers) == [False, False, True]

    # The node stops mining: the replica flushing sends a transaction that stays pending, and is killed. Every
    # replica answers meanwhile (the flusher too: reads never wait for a transaction to be mined).
    stop_mining(node_url)
    verdicts: list[dict[str, object]] = []

    def clerk(i: int) -> None:  # every bundle verified twice for one case, by two replicas
        for replica in (bank[i % 3], bank[(i + 1) % 3]):
            verdicts.append(replica.call("POST", "/v1/verifications", data=bundles[i],
                                         params={"purpose": "ACCTOPEN", "case": f"CASE-{i}"}).json())

    clerks = [threading.Thread(target=clerk, args=(i,)) for i in range(len(bundles))]
    for t in clerks:
        t.start()
    for t in clerks:
        t.join()
    assert len(verdicts) == 48 and all(v["valid"] for v in verdicts)
    sent = "SELECT COUNT(*) FROM receipt_outbox.sealed_receipts WHERE state = 'sent'"
    until(lambda: query(postgres_url, sent)[0][0], what="a flush to send")
    flusher = holder_of(postgres_url, "receipt outbox", "receipt sending")
    [victim] = [r for r in bank if r.process.pid == flusher]
    victim.kill()
    resume_mining(node_url)
    left = "SELECT COUNT(*) FROM receipt_outbox.sealed_receipts WHERE state <> 'recorded'"
    until(lambda: query(postgres_url, left)[0][0] == 0, what="the survivors to record every receipt")
    on_chain = net.commitments()[before:]
    ours = {bytes(r[0]) for r in query(postgres_url, "SELECT commitment FROM receipt_outbox.sealed_receipts")}
    assert len(ours) == 25 and collections.Counter(on_chain) == dict.fromkeys(ours, 1)  # 24 cases + the answer
    survivor = next(r for r in bank if r is not victim)
    assert survivor.call("GET", "/readyz").json()["checks"]["outbox"] in (
        "current", "standby: another replica runs it")


def test_the_database_stopped_under_load_fails_requests_as_503_and_everything_resumes(
        net: Net, node_url: str, postgres_url: str, postgres: PostgresServer, dev_accounts: list[LocalAccount],
        tmp_path: Path, replicas: Callable[[Path, int], list[Replica]]) -> None:
    issuer = net.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(net), 8))
    bundles = [p.read_bytes() for p in issuer.run().delivered]
    before = len(net.commitments())
    bank = replicas(bank_config(tmp_path, net, node_url, postgres_url, dev_accounts), 2)
    answered: dict[str, str] = {}  # case -> commitment of a verification answered 200
    refused: list[requests.Response] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        n = 0
        while not stop.is_set():
            case = f"LOAD-{worker}-{n}"
            reply = bank[worker % 2].call("POST", "/v1/verifications", data=bundles[n % len(bundles)],
                                          params={"purpose": "LOAN", "case": case})
            if reply.status_code == 200:
                answered[case] = reply.json()["receipt"]["commitment"]
                n += 1
            else:
                refused.append(reply)
                time.sleep(0.1)  # a client honouring Retry-After, briefly

    workers = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in workers:
        t.start()
    until(lambda: len(answered) >= 8, what="load")
    postgres.stop("immediate")
    try:
        until(lambda: len(refused) >= 4, what="requests refused while the database is away")
        ready = bank[0].call("GET", "/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"]
        assert any("database server cannot be reached" in v for v in ready.json()["checks"].values())
        time.sleep(2)
    finally:
        postgres.start()
    count = len(answered)
    until(lambda: len(answered) >= count + 8, what="requests answered again")
    stop.set()
    for t in workers:
        t.join()
    assert {r.status_code for r in refused} == {503}
    assert all(r.headers["content-type"] == "application/problem+json" and int(r.headers["Retry-After"]) >= 1
               for r in refused)
    left = "SELECT COUNT(*) FROM receipt_outbox.sealed_receipts WHERE state <> 'recorded'"
    until(lambda: query(postgres_url, left)[0][0] == 0, what="every receipt recorded")
    on_chain = collections.Counter(net.commitments()[before:])
    assert set(on_chain.values()) == {1} and {bytes.fromhex(c[2:]) for c in answered.values()} <= set(on_chain)
    until(lambda: all(r.call("GET", "/readyz").status_code == 200 for r in bank), what="ready again")


def test_an_issuer_replica_killed_mid_round_is_taken_over_and_anchors_once(
        net: Net, node_url: str, postgres_url: str, dev_accounts: list[LocalAccount], tmp_path: Path,
        replicas: Callable[[Path, int], list[Replica]]) -> None:
    bundles = tmp_path / "shared-bundles"
    path = config(tmp_path / "issuer.toml", net, node_url, postgres_url, "issuer",
                  f'sender_private_key = "0x{dev_accounts[0].key.hex()}"\n'
                  f'signer_private_key = "0x{dev_accounts[9].key.hex()}"',
                  f'[issuer]\nid = "BNUMMOMX"\nbundles = "{bundles}"\nmax_batch = 10\nmax_age = 0')
    issuers = replicas(path, 2)
    anchored_before = len(anchored_roots(net))
    stop_mining(node_url)
    entries = [{"reference": ref, "docType": "DEPCERT", "notAfter": cert.header.not_after,
                "asOf": cert.header.as_of, "claims": cert.claims}
               for ref, cert in deposit_certificates(_Clock(net), 30, start=500)]
    assert issuers[0].call("POST", "/v1/certificates", json={"certificates": entries}).status_code == 200
    sent = "SELECT COUNT(*) FROM journal.batches WHERE state = 'sent'"
    until(lambda: query(postgres_url, sent)[0][0], what="the pipeline to send its anchors")
    running = holder_of(postgres_url, "journal", "issuer pipeline BNUMMOMX")
    [victim] = [r for r in issuers if r.process.pid == running]
    victim.kill()
    resume_mining(node_url)
    left = "SELECT COUNT(*) FROM journal.batches WHERE state <> 'delivered'"
    until(lambda: query(postgres_url, left)[0][0] == 0 and query(postgres_url, "SELECT COUNT(*) FROM journal.batches")
          [0][0] == 3, what="the other replica to anchor and deliver")
    roots = anchored_roots(net)[anchored_before:]
    assert len(roots) == 3 and len(set(roots)) == 3  # each batch anchored once
    written = sorted((bundles / "BNUMMOMX").glob("*.bundle.json"))
    assert len(written) == 30 and load_bundle(written[0].read_bytes()).disclosed()


def test_a_regulator_replica_killed_mid_sync_leaves_no_gap_and_no_double(
        net: Net, node_url: str, postgres_url: str, dev_accounts: list[LocalAccount], tmp_path: Path,
        replicas: Callable[[Path, int], list[Replica]]) -> None:
    path = config(tmp_path / "regulator.toml", net, node_url, postgres_url, "regulator", "",
                  "[audit]\nchunk = 1\nmax_events = 1")
    rpc(node_url, "hardhat_mine", [hex(100)])
    head = net.w3.eth.block_number
    held = head - 50  # the sync stops in the middle: the chunk moving its cursor past this block waits for the test
    # The index is set up here first, so that the pause is in place before either replica syncs (replicas setting
    # up a new index together: the console test below): a trigger makes the transaction that moves the cursor
    # past ``held`` wait on an advisory lock the test holds.
    RegulatorReader(net.registry, postgres_url, circulation=net.circulation).close()
    with psycopg.connect(postgres_url, autocommit=True) as pause:
        pause.execute("SELECT pg_advisory_lock(%s)", (PAUSE,))
        pause.execute(f"""
            CREATE FUNCTION audit_index.pause() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock_shared({PAUSE}); RETURN NEW; END $$;
            CREATE TRIGGER pause BEFORE INSERT OR UPDATE ON audit_index.meta FOR EACH ROW
            WHEN (NEW.key = 'next_block' AND NEW.value::bigint > {held}) EXECUTE FUNCTION audit_index.pause()""")
        regulators = replicas(path, 2)
        waiting: list[int] = []

        def paused() -> bool:
            waiting[:] = [int(name.rsplit(":", 1)[1]) for name, in pause.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = 0 AND l.objid = %s", (PAUSE,))]
            return bool(waiting)

        until(paused, what="the sync to reach the pause")
        assert waiting == [holder_of(postgres_url, "audit index", "audit sync")]
        [victim] = [r for r in regulators if r.process.pid == waiting[0]]
        victim.kill()
        cursor = "SELECT value FROM audit_index.meta WHERE key = 'next_block'"
        stopped_at = int(query(postgres_url, cursor)[0][0])  # type: ignore[call-overload]
        assert 0 < stopped_at <= held
        pause.execute("SELECT pg_advisory_unlock(%s)", (PAUSE,))
    until(lambda: int(query(postgres_url, cursor)[0][0]) > head, what="the other replica to finish the sync")  # type: ignore[call-overload]
    indexed = query(postgres_url, "SELECT block_number, log_index FROM audit_index.events "
                                  f"WHERE block_number <= {head}")
    logs = net.w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": [
        net.registry.address, net.registry.consortium_address(), net.circulation.address]})
    assert sorted(indexed) == sorted((log["blockNumber"], log["logIndex"]) for log in logs)


def test_a_console_session_opened_at_one_regulator_replica_holds_at_the_other_until_closed(
        net: Net, node_url: str, postgres_url: str, tmp_path: Path,
        replicas: Callable[[Path, int], list[Replica]]) -> None:
    one, other = replicas(config(tmp_path / "regulator.toml", net, node_url, postgres_url, "regulator", ""), 2)
    until(lambda: one.call("GET", "/v1/regulator/overview").status_code == 200, what="the index's first sync")
    login = requests.post(one.url + "/regulator/session", json={"key": KEY}, timeout=60)
    assert login.status_code == 200
    cookies = {COOKIE: login.cookies[COOKIE]}
    for replica in (other, one):  # no session affinity: either replica knows it
        assert requests.get(replica.url + "/v1/regulator/overview", cookies=cookies, timeout=60).status_code == 200
    assert requests.get(other.url + "/regulator/session", cookies=cookies, timeout=60).json()["name"] == \
        "regulator-app"
    assert requests.delete(other.url + "/regulator/session", cookies=cookies, timeout=60).status_code == 204
    refused = requests.get(one.url + "/v1/regulator/overview", cookies=cookies, timeout=60)
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert query(postgres_url, "SELECT count(*) FROM console_sessions.sessions") == [(0,)]
