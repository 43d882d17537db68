"""One configuration turned into a connection, a registry, keys and role clients: the wiring every face shares.

The command line, the demo and any service build their clients here, so that a setting means the same thing
everywhere. Everything is built on first use: a command that only reads the journal opens no connection and
unlocks no key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import Any

from eth_account.signers.base import BaseAccount
from web3 import Web3

from .chain.circulation import CirculationContract
from .chain.connection import connect
from .chain.consortium import ConsortiumContract
from .chain.metadata import MetadataReader
from .chain.registry import Registry
from .chain.transactions import Sender
from .chain.typed_data import SM2Signer
from .config import Config, Pkcs11KeySettings, env_name
from .consortium.operator import OperatorClient
from .errors import ConfigError, NoRegulatorKey
from .format.hashing import HashAlgorithm
from .format.metadata import Catalogue
from .format.suite import Suite
from .issuer.client import IssuerClient
from .issuer.journal import Journal
from .issuer.pickup import PickupDesk
from .keys.keystore import keystore_address, load_keystore, plain_key
from .keys.pkcs11 import TokenKeyRef, load_token_key, pin_source, read_pin, token_key_address
from .keys.sm2 import is_sm2_keystore, load_sm2_keystore, sm2_keystore_address
from .regulator.circulation import DAY, CirculationTrail
from .regulator.index import RegulatorReader
from .regulator.queries import Supervision
from .sealing import RegulatorKey
from .verifier.challenges import MAX_CHALLENGE_TTL, ChallengeStore
from .verifier.client import Policy, VerifierClient
from .verifier.outbox import ReceiptOutbox

#: Asks a person for a secret (a keystore password), given what it is for.
Prompt = Callable[[str], str]


class Session:
    """The clients one configuration describes. ``prompt`` asks for keystore passwords not in the environment.

    The stores it opens (journal, pickups, audit index, receipt outbox, challenges) are held until :meth:`close`;
    use the session as a context manager.
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
    def circulation(self) -> CirculationContract:
        """The circulation contract beside the registry (sealed receipts, disputes, sealing keys): the one its
        consortium fixed at deployment (any contract can say it serves the registry)."""
        address = self.config.need(self.config.network.circulation, "network.circulation")
        circulation = CirculationContract.at(self.w3, address, self.tx_params)
        if circulation.registry_address() != self.registry.address:
            raise ConfigError(f"[network] circulation {address} serves registry {circulation.registry_address()}, "
                              f"not {self.registry.address}")
        named = ConsortiumContract.at(self.w3, self.registry.consortium_address()).circulation_address()
        if circulation.address.lower() != named.lower():
            raise ConfigError(f"[network] circulation {address} is not the circulation contract of the registry's "
                              f"consortium, {named}")
        return circulation

    @cached_property
    def catalogue(self) -> Catalogue:
        """The display metadata known here: the standard types, and the folders of ``[display] metadata``."""
        catalogue = Catalogue.standard()
        for folder in self.config.display.metadata:
            catalogue.add_folder(folder)
        return catalogue

    @cached_property
    def metadata(self) -> MetadataReader:
        """Issuers' names and document types' labels, as the registry's digests vouch for them."""
        return MetadataReader(self.registry, self.catalogue)

    @cached_property
    def sender(self) -> Sender:
        key = self._key("sender")
        if key is not None:
            return key
        address = self.config.keys.sender_address
        if address is None:
            raise ConfigError("no sender: set [keys] sender_keystore or sender_pkcs11 (or sender_address for a "
                              "node-managed account)")
        return Web3.to_checksum_address(address)

    @cached_property
    def signer(self) -> BaseAccount | SM2Signer:
        """The issuer's signing key: an Ethereum key, or in the GM suite an SM2 key (an SM2 keystore file)."""
        keystore = self.config.keys.signer_keystore
        if keystore is not None and is_sm2_keystore(keystore):
            self.key_sources("signer")  # one signer key named, at most
            keys = self.config.keys
            return load_sm2_keystore(keystore, keys.signer_password_env or keys.password_env, self._prompt)
        key = self._key("signer")
        if key is None:
            raise ConfigError("no signing key: set [keys] signer_keystore or signer_pkcs11")
        return key

    @cached_property
    def hash_alg(self) -> HashAlgorithm:
        """The issuer's batch hash: ``[issuer] hash_alg``, or the deployment's suite's (SM3 in the GM suite, read
        from the registry, keccak-256 otherwise)."""
        configured = self.config.issuer.hash_alg
        if configured is not None:
            return HashAlgorithm.from_label(configured)
        return HashAlgorithm.SM3 if self.registry.crypto_suite() is Suite.GM else HashAlgorithm.KECCAK256

    def key_sources(self, role: str) -> dict[str, Any]:
        """The settings naming ``role``'s key (``"sender"`` or ``"signer"``), by setting name; at most one."""
        keys = self.config.keys
        named = {f"{role}_{kind}": getattr(keys, f"{role}_{kind}") for kind in ("keystore", "pkcs11", "private_key")}
        named = {name: value for name, value in named.items() if value is not None}
        if len(named) > 1:
            raise ConfigError(f"[keys] names more than one {role} key: {', '.join(named)}; keep one")
        return named

    def describe_key(self, role: str) -> dict[str, str] | None:
        """Where ``role``'s key lives and its address, read without a password or PIN; ``None``: no key named."""
        for name, value in self.key_sources(role).items():
            if name.endswith("_keystore"):
                sm2 = role == "signer" and is_sm2_keystore(value)
                address = sm2_keystore_address(value) if sm2 else keystore_address(value)
                return {"role": role, "kind": "keystore", "where": str(value), "address": address}
            if name.endswith("_pkcs11"):
                pin = pin_source(value.pin_env, value.pin_file)
                return {"role": role, "kind": "pkcs11", "where": f"{token_ref(value)} (PIN from {pin})",
                        "address": token_key_address(token_ref(value))}
            return {"role": role, "kind": "plain key (development only)", "where": f"[keys] {name}",
                    "address": plain_key(value, self.config.keys.dev_mode).address}
        if role == "sender" and self.config.keys.sender_address is not None:
            return {"role": role, "kind": "node-managed account", "where": self.config.network.rpc,
                    "address": Web3.to_checksum_address(self.config.keys.sender_address)}
        return None

    def _key(self, role: str) -> BaseAccount | None:
        keys = self.config.keys
        for name, value in self.key_sources(role).items():
            if name.endswith("_keystore"):
                password_env = getattr(keys, f"{role}_password_env") or keys.password_env
                return load_keystore(value, password_env, self._prompt)
            if name.endswith("_pkcs11"):
                return load_token_key(token_ref(value), read_pin(value.pin_env, value.pin_file))
            return plain_key(value, keys.dev_mode)
        return None

    @property
    def issuer_id(self) -> str:
        return self.config.need(self.config.issuer.id, "issuer.id")

    @cached_property
    def journal(self) -> Journal:
        """The issuer's journal alone: no node, no key."""
        return Journal(self.config.storage.location(self.config.issuer.journal))

    @cached_property
    def journal_read_only(self) -> Journal:
        """The issuer's journal for commands that only read it: no lock, nothing written (a read-only disk, or a
        journal another process is writing, can still be read)."""
        return Journal(self.config.storage.location(self.config.issuer.journal), read_only=True)

    def issuer(self) -> IssuerClient:
        settings = self.config.issuer
        return IssuerClient(
            self.registry, self.issuer_id, self.signer, self.sender, self.journal, settings.bundles,
            hash_alg=self.hash_alg, receipt_timeout=self.config.network.receipt_timeout,
            confirmations=self.config.network.confirmations)

    @cached_property
    def pickups(self) -> PickupDesk:
        """The issuer's pickup desk (no node, no key): certificates waiting for their residents' holder keys."""
        settings, storage = self.config.issuer, self.config.storage
        return PickupDesk(storage.location(settings.pickups), self.journal, self.issuer_id,
                          self.hash_alg, settings.bundles)

    @cached_property
    def pickups_read_only(self) -> PickupDesk:
        """The pickup desk for commands that only read it (no lock, nothing written)."""
        settings, storage = self.config.issuer, self.config.storage
        return PickupDesk(storage.location(settings.pickups), self.journal_read_only, self.issuer_id,
                          self.hash_alg, settings.bundles, read_only=True)

    def operator(self) -> OperatorClient:
        circulation = self.circulation if self.config.network.circulation else None
        return OperatorClient(self.registry, self.sender, circulation=circulation)

    @cached_property
    def outbox(self) -> ReceiptOutbox:
        """The bank's receipt outbox (no node, no key)."""
        network = self.config.network
        return ReceiptOutbox(self.config.storage.location(self.config.verifier.outbox),
                             confirmations=network.confirmations, receipt_timeout=network.receipt_timeout)

    def verifier(self, *, record: bool = False) -> VerifierClient:
        """A verifier with the bank's policy, and its challenge store when it has a verifier id (``audience``);
        ``record`` gives it the sender and the outbox its receipts need."""
        settings = self.config.verifier
        policy = Policy({t: int(days * 86400) for t, days in settings.max_age_days.items()},
                        max_bundle_bytes=settings.max_bundle_bytes,
                        holder_binding=frozenset(settings.holder_binding), p256_holders=settings.p256_holders,
                        max_head_age=settings.max_head_age)
        if not record:
            return VerifierClient(self.registry, policy, audience=settings.audience, challenges=self.challenges)
        return VerifierClient(self.registry, policy, sender=self.sender, outbox=self.outbox,
                              audience=settings.audience, challenges=self.challenges, circulation=self.circulation,
                              receipt_timeout=self.config.network.receipt_timeout)

    @cached_property
    def challenges(self) -> ChallengeStore | None:
        """The bank's challenge store, when it has a verifier id (``[verifier] audience``); a ``challenge_ttl`` no
        challenge may live is refused here, when the bank's service starts, not at each client's request."""
        settings = self.config.verifier
        if not 0 < settings.challenge_ttl <= MAX_CHALLENGE_TTL:
            raise ConfigError(f"[verifier] challenge_ttl: a challenge lives 1 to {MAX_CHALLENGE_TTL} seconds, "
                              f"got {settings.challenge_ttl}")
        return None if settings.audience is None else ChallengeStore(
            self.config.storage.location(settings.challenges), settings.audience)

    @cached_property
    def regulator(self) -> RegulatorReader:
        """The regulator's index of the registry, its consortium and (when configured) the circulation contract."""
        audit = self.config.audit
        circulation = self.circulation if self.config.network.circulation else None
        return RegulatorReader(self.registry, self.config.storage.location(audit.index),
                               chunk=audit.chunk, from_block=audit.from_block,
                               confirmations=self.config.network.confirmations, circulation=circulation,
                               max_events=audit.max_events, burst_per_hour=audit.burst_per_hour)

    @cached_property
    def regulator_keys(self) -> list[RegulatorKey]:
        """Every sealing key the regulator has held (``[regulator] key_files``, the password from
        ``password_env`` when they are encrypted); none configured: :class:`NoRegulatorKey`."""
        settings = self.config.regulator
        if not settings.key_files:
            raise NoRegulatorKey("no regulator key is configured: set [regulator] key_files (or "
                                 f"{env_name('regulator', 'key_files')}); crossverify regulator keygen makes one")
        password = os.environ.get(settings.password_env)
        return [RegulatorKey.read(path, password) for path in settings.key_files]

    @property
    def opens_circulation(self) -> bool:
        """Whether the regulator holds keys to open the circulation trail (``[regulator] key_files``)."""
        return bool(self.config.regulator.key_files)

    @cached_property
    def trail(self) -> CirculationTrail:
        """The regulator's circulation trail: the audit index, opened with the regulator's keys."""
        keys = self.regulator_keys  # refused first: no key, no use opening the index
        return CirculationTrail(self.regulator, keys,
                                dispute_answer_within=self.config.regulator.dispute_answer_within * DAY)

    @cached_property
    def supervision(self) -> Supervision:
        """The regulator's questions over its index: with its keys (``[regulator] key_files``) over the opened
        circulation trail too, else over what the events alone say."""
        return Supervision(self.regulator, self.trail if self.opens_circulation else None)

    def close(self) -> None:
        """Close the stores this session opened, releasing them for other processes."""
        for store in ("pickups", "journal", "regulator", "outbox", "challenges"):
            if self.__dict__.get(store) is not None:
                self.__dict__.pop(store).close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def token_ref(settings: Pkcs11KeySettings) -> TokenKeyRef:
    """Where a configured token key lives."""
    return TokenKeyRef(settings.module, settings.token, settings.label)
