"""One configuration turned into a connection, a registry, keys and role clients: the wiring every face shares.

The command line, the demo and any service build their clients here, so that a setting means the same thing
everywhere. Everything is built on first use: a command that only reads the journal opens no connection and
unlocks no key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from .chain.connection import connect
from .chain.registry import Registry
from .chain.transactions import Sender
from .config import Config
from .consortium.operator import OperatorClient
from .errors import ConfigError
from .format.hashing import HashAlgorithm
from .issuer.client import IssuerClient
from .issuer.journal import Journal
from .keys.keystore import load_keystore, plain_key
from .regulator.index import RegulatorReader
from .verifier.client import Policy, VerifierClient
from .verifier.outbox import ReceiptOutbox

#: Asks a person for a secret (a keystore password), given what it is for.
Prompt = Callable[[str], str]


class Session:
    """The clients one configuration describes. ``prompt`` asks for keystore passwords not in the environment.

    The stores it opens (journal, audit index) are held by this process until :meth:`close`; use the session
    as a context manager.
    """

    def __init__(self, config: Config, prompt: Prompt | None = None, w3: Web3 | None = None) -> None:
        self.config = config
        self._prompt = prompt
        if w3 is not None:  # a connection the caller already holds (several roles in one process, benchmarks)
            self.__dict__["w3"] = w3

    @cached_property
    def w3(self) -> Web3:
        network = self.config.network
        return connect(network.rpc, poa=network.poa, timeout=network.timeout, retries=network.retries,
                       chain_id=network.chain_id)

    @cached_property
    def tx_params(self) -> dict[str, Any]:
        gas_price = self.config.network.gas_price
        return {} if gas_price is None else {"gasPrice": gas_price}

    @cached_property
    def registry(self) -> Registry:
        return Registry.found_at(self.w3, self.config.need(self.config.network.registry, "network.registry"),
                                 self.tx_params)

    @cached_property
    def sender(self) -> Sender:
        keys = self.config.keys
        key = self._key(keys.sender_keystore, keys.sender_private_key, keys.sender_password_env)
        if key is not None:
            return key
        address = self.config.keys.sender_address
        if address is None:
            raise ConfigError("no sender: set [keys] sender_keystore (or sender_address for a node-managed account)")
        return Web3.to_checksum_address(address)

    @cached_property
    def signer(self) -> LocalAccount:
        keys = self.config.keys
        key = self._key(keys.signer_keystore, keys.signer_private_key, keys.signer_password_env)
        if key is None:
            raise ConfigError("no signing key: set [keys] signer_keystore")
        return key

    def _key(self, keystore: Any, private_key: str | None, password_env: str | None) -> LocalAccount | None:
        keys = self.config.keys
        if keystore is not None:
            return load_keystore(keystore, password_env or keys.password_env, self._prompt)
        if private_key is not None:
            return plain_key(private_key, keys.dev_mode)
        return None

    @property
    def issuer_id(self) -> str:
        return self.config.need(self.config.issuer.id, "issuer.id")

    @cached_property
    def journal(self) -> Journal:
        """The issuer's journal alone: no node, no key."""
        return Journal(self.config.issuer.journal)

    def issuer(self) -> IssuerClient:
        settings = self.config.issuer
        return IssuerClient(
            self.registry, self.issuer_id, self.signer, self.sender, self.journal, settings.bundles,
            hash_alg=HashAlgorithm.from_label(settings.hash_alg), receipt_timeout=self.config.network.receipt_timeout,
            confirmations=self.config.network.confirmations)

    def operator(self) -> OperatorClient:
        return OperatorClient(self.registry, self.sender)

    @cached_property
    def outbox(self) -> ReceiptOutbox:
        """The bank's receipt outbox (no node, no key)."""
        return ReceiptOutbox(self.config.verifier.outbox)

    def verifier(self, *, record: bool = False) -> VerifierClient:
        """A verifier with the bank's policy; ``record`` gives it the sender and the outbox its receipts need."""
        settings = self.config.verifier
        policy = Policy({t: int(days * 86400) for t, days in settings.max_age_days.items()},
                        max_bundle_bytes=settings.max_bundle_bytes)
        if not record:
            return VerifierClient(self.registry, policy)
        return VerifierClient(self.registry, policy, sender=self.sender, outbox=self.outbox)

    @cached_property
    def regulator(self) -> RegulatorReader:
        audit = self.config.audit
        return RegulatorReader(self.registry, audit.index, chunk=audit.chunk, from_block=audit.from_block,
                               confirmations=self.config.network.confirmations)

    def close(self) -> None:
        """Close the stores this session opened, releasing them for other processes."""
        for store in ("journal", "regulator", "outbox"):
            if store in self.__dict__:
                self.__dict__.pop(store).close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
