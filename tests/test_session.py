"""The session turns one configuration into clients, building each only when a command needs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify.chain.circulation import CirculationContract
from crossverify.config import Config, IssuerSettings, KeySettings, NetworkSettings, VerifierSettings
from crossverify.errors import ConfigError
from crossverify.session import Session

from .conftest import Consortium


def test_journal_commands_need_no_node_and_no_key(tmp_path: Path) -> None:
    config = Config(network=NetworkSettings(rpc="http://127.0.0.1:9"),  # nothing listens there
                    issuer=IssuerSettings(id="BNUMMOMX", journal=tmp_path / "journal.sqlite"))
    session = Session(config)
    assert session.journal.counts(session.issuer_id) == {"pending": 0}
    assert "w3" not in session.__dict__ and "signer" not in session.__dict__


def test_missing_settings_are_named() -> None:
    session = Session(Config())
    with pytest.raises(ConfigError, match=r"\[network\] registry is not set"):
        _ = session.registry
    with pytest.raises(ConfigError, match=r"\[issuer\] id is not set"):
        _ = session.issuer_id
    with pytest.raises(ConfigError, match="no sender"):
        _ = session.sender
    with pytest.raises(ConfigError, match="no signing key"):
        _ = session.signer


@pytest.mark.parametrize("ttl", [0, -5, 3601])
def test_a_challenge_ttl_no_challenge_may_live_is_refused_at_start(tmp_path: Path, ttl: int) -> None:
    """Not left to answer every client's challenge request 422, as if the client had asked for it."""
    session = Session(Config(verifier=VerifierSettings(audience="ICBKCNBJGDG", challenge_ttl=ttl,
                                                       challenges=tmp_path / "challenges.sqlite")))
    with pytest.raises(ConfigError, match=rf"challenge_ttl: a challenge lives 1 to 3600 seconds, got {ttl}"):
        _ = session.challenges


def test_clients_share_the_registry_and_follow_the_policy(consortium: Consortium, tmp_path: Path) -> None:
    config = Config(network=NetworkSettings(registry=consortium.registry.address, gas_price=0,
                                            circulation=consortium.circulation.address, receipt_timeout=7.5,
                                            confirmations=3),
                    keys=KeySettings(sender_address=consortium.verifier),
                    verifier=VerifierSettings(max_age_days={"ACCTSTMT": 30}, outbox=tmp_path / "outbox.sqlite"),
                    source="test")
    session = Session(config)
    assert session.tx_params == {"gasPrice": 0}
    verifier = session.verifier(record=True)
    assert verifier.registry is session.registry and verifier.sender == consortium.verifier
    assert verifier.policy.max_age == {"ACCTSTMT": 30 * 86400}
    # [network] receipt_timeout bounds each receipt's wait (the service's flushes too), confirmations when a
    # receipt is final
    assert verifier.receipt_timeout == 7.5 and verifier.outbox is not None and verifier.outbox.confirmations == 3
    assert verifier.outbox.receipt_timeout == 7.5
    assert session.verifier().sender is None
    session.close()


def test_a_circulation_contract_its_consortium_does_not_name_is_refused(consortium: Consortium,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Any contract can say it serves the registry: a bank's receipts sealed to its keys, or a regulator's trail
    read from its events, would never reach the real trail. Only the one the consortium fixed at deployment is
    used."""
    c = consortium
    posing = c.consortium.address  # any contract but the consortium's circulation contract
    monkeypatch.setattr(CirculationContract, "registry_address", lambda self: c.registry.address)
    config = Config(network=NetworkSettings(registry=c.registry.address, circulation=posing))
    with pytest.raises(ConfigError, match=f"not the circulation contract of the registry's consortium, "
                                          f"{c.circulation.address}"):
        _ = Session(config, w3=c.w3).circulation
    config = Config(network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address))
    assert Session(config, w3=c.w3).circulation.address == c.circulation.address
