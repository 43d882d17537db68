"""The regulator's console over HTTP: its API key exchanged for a short-lived HttpOnly, SameSite=Strict session that
logging out forgets; nothing answered without one; every table paged by keyset, filtered, exported as CSV; a
document's timeline; the page served with its Content-Security-Policy."""

from __future__ import annotations

import csv
import io
import re
import secrets
from pathlib import Path

from fastapi.testclient import TestClient
from web3 import Web3

from crossverify.format.encoding import to_hex
from crossverify.sealing import DisputeReason, Receipt, seal_receipts
from crossverify.service.auth import ApiKeys, Client, new_key
from crossverify.service.console import COOKIE
from crossverify.service.sessions import Sessions

from ..conftest import Consortium
from ..regulator.test_circulation_trail import open_a_dispute
from .test_regulator_api import regulator

DIGEST = Web3.keccak(text="a certificate a supervisor follows")
ROUTES = ["/v1/regulator/overview", "/v1/regulator/freshness", "/v1/regulator/tables/receipts",
          "/v1/regulator/tables/anomalies/csv", "/v1/regulator/disputes", "/v1/regulator/disputes/csv",
          f"/v1/regulator/documents/{to_hex(DIGEST)}"]


def world(c: Consortium, tmp_path: Path, receipts: int = 0) -> tuple[TestClient, str, str]:
    """A regulator's service over ``receipts`` receipts of other documents and three of DIGEST; the client
    carries no key: (client, the regulator's key, a bank's key)."""
    root = Web3.keccak(text="the followed document's batch")
    c.anchor(root)
    ours = [Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", root, purpose, c.now(), **consent)
            for purpose, consent in (("ACCTOPEN", {"presentation_hash": secrets.token_bytes(32)}),
                                     ("LOAN", {"case": "LOAN-2027-0042"}), ("KYC", {}))]
    ours.append(Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", root, "KYC", c.now(), case='=HYPERLINK("http://x")'))
    others = [Receipt.new(secrets.token_bytes(32), "BNUMMOMX", "DEPCERT", root, "ACCTOPEN", c.now(), case=f"A-{i}")
              for i in range(receipts)]
    everything = ours + others
    keys = [k.public_key for k in c.regulator_keys]
    for start in range(0, len(everything), 100):
        sealed = seal_receipts(everything[start:start + 100], keys)
        c.circulation.record(sealed.commitments, sealed.sealed, c.verifier)
    c.regulator_keys[0].write(tmp_path / "amcm.key")
    api, bank_key = regulator(c, tmp_path, [tmp_path / "amcm.key"])
    api.app_state.workers["audit"].run_once()  # type: ignore[attr-defined]
    key = api.headers.pop("Authorization").removeprefix("Bearer ")
    return api, key, bank_key


def test_nothing_is_answered_without_a_session_or_the_key(consortium: Consortium, tmp_path: Path) -> None:
    api, key, bank_key = world(consortium, tmp_path)
    for route in ROUTES:
        refused = api.get(route)
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json", route
        assert api.get(route, cookies={COOKIE: "made-up"}).status_code == 401, route
        assert api.get(route, headers={"Authorization": f"Bearer {bank_key}"}).status_code == 403, route
        answered = api.get(route, headers={"Authorization": f"Bearer {key}"})
        assert answered.status_code == 200 and answered.headers["cache-control"] == "no-store", route
    assert api.post("/regulator/session", json={"key": bank_key}).status_code == 401  # a bank's key opens nothing
    assert api.get("/regulator/session").json()["name"] is None
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_the_key_is_exchanged_for_a_session_that_logging_out_forgets(consortium: Consortium,
                                                                     tmp_path: Path) -> None:
    api, key, _ = world(consortium, tmp_path)
    login = api.post("/regulator/session", json={"key": key})
    assert login.status_code == 200 and login.json() == {"name": "amcm", "idleSeconds": 900}
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and key not in cookie
    assert login.headers["cache-control"] == "no-store"
    token = api.cookies[COOKIE]
    assert api.get("/regulator/session").json()["name"] == "amcm"
    assert api.post("/regulator/session", json={"key": key}).status_code == 200  # signed in again, in this browser
    assert api.get("/v1/regulator/overview", cookies={COOKIE: token}).status_code == 401  # the earlier one ended
    token = api.cookies[COOKIE]
    overview = api.get("/v1/regulator/overview").json()
    assert overview["totals"]["receipts"] == 4 and overview["freshness"]["behind"] == 0
    out = api.delete("/regulator/session")
    assert out.status_code == 204 and COOKIE in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert out.headers["clear-site-data"] == '"cookies"'
    assert COOKIE not in api.cookies
    assert api.get("/v1/regulator/overview", cookies={COOKIE: token}).status_code == 401  # forgotten by the service
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_behind_a_proxy_that_ends_tls_the_cookie_is_secure(consortium: Consortium, tmp_path: Path) -> None:
    """A load balancer that ends TLS (docs/deploy.md) speaks plain HTTP to the service: the cookie is sent over
    HTTPS only all the same, never in clear to a page a network attacker serves at the console's host."""
    api, key, _ = world(consortium, tmp_path)
    plain = api.post("/regulator/session", json={"key": key}).headers["set-cookie"]
    assert "Secure" not in plain  # (a browser keeps no Secure cookie an http:// page sets, as on the loopback)
    proxied = api.post("/regulator/session", json={"key": key}, headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in proxied.headers["set-cookie"]
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_rows_are_paged_by_keyset_filtered_and_exported(consortium: Consortium, tmp_path: Path) -> None:
    api, key, _ = world(consortium, tmp_path, receipts=120)
    api.headers["Authorization"] = f"Bearer {key}"
    seen, after = [], None
    while True:
        page = api.get("/v1/regulator/tables/receipts", params={"limit": 50, **({"after": after} if after else {})})
        body = page.json()
        seen += [r["commitment"] for r in body["rows"]]
        after = body["after"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 124  # every receipt once, newest first
    ours = api.get("/v1/regulator/tables/receipts", params={"consent": "none"}).json()["rows"]
    assert [(r["purpose"], r["documentDigest"]) for r in ours] == [("KYC", to_hex(DIGEST))]
    in_person = api.get("/v1/regulator/tables/receipts", params={"purpose": "LOAN"}).json()["rows"]
    assert [(r["consent"], r["case"]) for r in in_person] == [("in_person", "LOAN-2027-0042")]
    exported = api.get("/v1/regulator/tables/receipts/csv", params={"purpose": "ACCTOPEN"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="crossverify-receipts.csv"' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 121 and {r["purpose"] for r in rows} == {"ACCTOPEN"}
    kyc = list(csv.DictReader(io.StringIO(api.get("/v1/regulator/tables/receipts/csv",
                                                  params={"purpose": "KYC"}).text)))
    assert sorted(row["case"] for row in kyc) == ["", "'=HYPERLINK(\"http://x\")"]  # a spreadsheet never runs it
    for table in ("receipts", "anchors", "anomalies"):  # a selection of no row: still its header, as rows show it
        shown = list(api.get(f"/v1/regulator/tables/{table}", params={"limit": 1}).json()["rows"][0])
        empty = api.get(f"/v1/regulator/tables/{table}/csv", params={"from": "2000-01-01", "to": "2000-01-01"})
        assert next(csv.reader(io.StringIO(empty.text)), None) == shown, table
    for bad in ({"consent": "maybe"}, {"from": "yesterday"}, {"kind": "nonsense"}, {"after": "x"},
                {"after": f"{2**64}.1"}, {"after": f"1.{-2**63 - 1}"}):  # beyond the database's integers
        refused = api.get("/v1/regulator/tables/receipts", params=bad)
        assert refused.status_code == 422, bad
    assert api.get("/v1/regulator/tables/anchors", params={"consent": "none"}).status_code == 422
    assert api.get("/v1/regulator/tables/secrets").status_code == 422
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_an_export_of_no_dispute_still_has_its_header(consortium: Consortium, tmp_path: Path) -> None:
    api, key, _ = world(consortium, tmp_path)
    open_a_dispute(consortium, DisputeReason.SUSPECTED_REUSE, Receipt.new(DIGEST, "BNUMMOMX", "DEPCERT", bytes(32),
                                                                          "KYC", consortium.now()))
    api.app_state.workers["audit"].run_once()  # type: ignore[attr-defined]
    api.headers["Authorization"] = f"Bearer {key}"
    [header, row] = list(csv.reader(io.StringIO(api.get("/v1/regulator/disputes/csv").text)))
    none = api.get("/v1/regulator/disputes/csv", params={"from": "2000-01-01", "to": "2000-01-01"})
    assert list(csv.reader(io.StringIO(none.text))) == [header] and len(row) == len(header)
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_a_documents_timeline_and_the_page(consortium: Consortium, tmp_path: Path) -> None:
    api, key, _ = world(consortium, tmp_path)
    api.headers["Authorization"] = f"Bearer {key}"
    timeline = api.get(f"/v1/regulator/documents/{to_hex(DIGEST)}").json()
    assert [e["event"] for e in timeline["events"]] == ["anchored", "verified", "verified", "verified", "verified"]
    assert [e["consent"] for e in timeline["events"][1:]] == ["presentation", "in_person", "none", "in_person"]
    assert [a["kind"] for a in timeline["anomalies"]] == ["circulation_without_consent"]
    page = api.get("/regulator/")
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and "script-src 'self' 'sha256-" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and page.headers["referrer-policy"] == "no-referrer"
    for asset in ("/regulator/words.json", "/regulator/shared/bundle.js",
                  "/regulator/vendor/canonicalize/canonicalize.js", "/regulator/static/console.js"):
        served = api.get(asset)
        assert served.status_code == 200, asset
        # asked about again before each use (an unchanged file: 304), so that the page runs an upgrade's scripts at
        # once, not those the browser kept under heuristic freshness (a tenth of the file's age) for days
        assert served.headers["cache-control"] == "no-cache", asset
    again = api.get("/regulator/static/console.js", headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    api.app_state.session.close()  # type: ignore[attr-defined]


def test_the_console_speaks_four_languages_and_explains_every_kind() -> None:
    from crossverify.regulator.anomalies import KINDS
    from crossverify.regulator.circulation import PURPOSES
    from crossverify.regulator.index import GOVERNANCE
    from crossverify.regulator.words import WORDS

    words = WORDS
    assert list(words) == ["en", "zh-Hant", "zh-Hans", "pt"]
    for language, table in words.items():
        assert set(table) == set(words["en"]), language
        assert all(text.strip() for text in table.values()), language
        for key, text in table.items():  # the same blanks to fill in every language
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", words["en"][key])), (language, key)
    for kind in KINDS:
        assert {f"kind.{kind}.{part}" for part in ("title", "meaning", "next")} <= set(words["en"]), kind
    assert words["en"][f"kind.{next(iter(KINDS))}.title"] == next(iter(KINDS.values())).title
    assert {f"purpose.{code}" for code in PURPOSES} <= set(words["en"])
    assert {f"governance.{event}" for event in GOVERNANCE} <= set(words["en"])
    assert [key for key, text in words["zh-Hant"].items() if "密鑰" in text] == []  # one word for a key: 金鑰


def test_a_session_ends_when_the_key_it_was_opened_with_is_replaced(consortium: Consortium, tmp_path: Path) -> None:
    api, key, _ = world(consortium, tmp_path)
    assert api.post("/regulator/session", json={"key": key}).status_code == 200
    token = api.cookies[COOKIE]
    ctx = api.app_state.context  # type: ignore[attr-defined]
    assert ctx.sessions.client(token) == Client("amcm", "regulator")
    replaced = ApiKeys({"amcm": f"regulator {new_key()[1]}"})  # the key leaked: the regulator was given a new one
    assert Sessions(ctx.sessions.store, replaced).client(token) is None  # a replica started with the new key
    api.app_state.session.close()  # type: ignore[attr-defined]
