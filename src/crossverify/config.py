"""Configuration from a TOML file, every value overridable by the environment, read once into typed sections.

``CROSSVERIFY_<SECTION>_<KEY>`` overrides ``[section] key``, e.g. ``CROSSVERIFY_NETWORK_RPC``; set to the empty
string, it unsets the setting. Relative paths are taken from the file's folder. Example::

    [network]
    rpc = "http://127.0.0.1:8545"      # or "embedded" for the in-process chain
    registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    circulation = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"  # sealed receipts and disputes (banks, issuers)
    chain_id = 1337                    # optional: refuse a node serving another chain
    timeout = 10                       # seconds a node request may take; reads are retried `retries` times
    confirmations = 0                  # blocks on top of an anchor or event before it counts (0: BFT finality)
    gas_price = 0                      # optional: fixed gas price in wei (0 on gasless Besu/GoQuorum networks)

    [keys]
    sender_keystore = "keys/operator.json"   # who sends transactions (an operator, or the issuer's admin)
    signer_keystore = "keys/bnu-signer.json" # the issuer's signing key (issuers only)
    password_env = "CROSSVERIFY_PASSWORD"    # else the password is asked for
    signer_password_env = "BNU_SIGNER_PASSWORD"  # optional: one variable per key (default: password_env)
    dev_mode = false                          # true allows sender_private_key / signer_private_key

    [keys.signer_pkcs11]                      # instead of signer_keystore: a key inside an HSM (PKCS#11)
    module = "/usr/lib/softhsm/libsofthsm2.so"  # the vendor's PKCS#11 library
    token = "bnu-signing"                     # the token's label
    label = "bnu-anchor-2026"                 # the key's label (CKA_LABEL)
    pin_env = "BNU_HSM_PIN"                   # or pin_file = "/run/secrets/bnu-hsm-pin"; never the PIN itself

    [verifier]
    max_bundle_bytes = 4194304                # optional: the largest bundle file read (default 4 MiB)
    audience = "ICBKCNBJGDG"                  # this bank's verifier id: presentations must name it
    challenges = "var/challenges.sqlite"      # the one-time challenges it issued
    holder_binding = ["DEPCERT"]              # document types accepted only as holder-signed presentations
    p256_holders = false                      # GM suite: also accept P-256 holder keys where the consortium allows
    max_head_age = 60                         # optional: a node whose latest block is older is behind (503)

    [verifier.max_age_days]                   # the bank's freshness policy, from each document's as-of date
    ACCTSTMT = 30

    [issuer]
    id = "BNUMMOMX"
    journal = "var/journal.sqlite"
    bundles = "var/bundles"
    pickups = "var/pickups.sqlite"            # certificates waiting for their residents' keys (pickup codes)
    hash_alg = "keccak256"                    # unset: the suite's (keccak256; sm3 in a GM deployment)
    max_batch = 1000
    max_age = 300

    [storage]
    url = "postgresql://crossverify@db.bank.internal/bank"  # optional: every store in PostgreSQL (replicas
                                              # share it); unset: the SQLite files named above, on this machine

    [regulator]
    key_files = ["keys/amcm-2026.key", "keys/amcm-2025.key"]  # every sealing key held, old ones too
    dispute_answer_within = 5                 # days before an unanswered dispute is an anomaly

    [display]
    language = "zh-Hant"                      # the command line's language: zh-Hant, zh-Hans, pt or en
    metadata = ["metadata"]                   # issuers' names and own types' labels, as they publish them

    [display.name]                            # this institution's name, which its pages show
    zh-Hant = "廣東銀行"
    zh-Hans = "广东银行"
    pt = "Banco de Guangdong"
    en = "Bank of Guangdong"

A setting that is optional in general but needed by a command is checked where it is used, with
:meth:`Config.need`, so the error names the setting and where it could have been given.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from .errors import ConfigError

PREFIX = "CROSSVERIFY"
T = TypeVar("T")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """``[network]``: the node, the registry and the circulation contract, and how transactions are sent."""

    rpc: str = "embedded"
    registry: str | None = None
    circulation: str | None = None
    chain_id: int | None = None
    poa: bool | None = None
    timeout: float = 10.0
    retries: int = 1
    receipt_timeout: float = 120.0
    confirmations: int = 0
    gas_price: int | None = None


@dataclass(frozen=True, slots=True)
class Pkcs11KeySettings:
    """``[keys.<role>_pkcs11]``: a key inside a PKCS#11 token, and where its user PIN comes from (exactly one of
    ``pin_env`` and ``pin_file``: the configuration never holds the PIN). As an environment override, JSON."""

    module: str
    token: str
    label: str
    pin_env: str | None = None
    pin_file: Path | None = None


@dataclass(frozen=True, slots=True)
class KeySettings:
    """``[keys]``: who sends transactions and who signs anchors (a keystore, a token key, or in development a
    plain key; one of them per role)."""

    sender_keystore: Path | None = None
    signer_keystore: Path | None = None
    sender_pkcs11: Pkcs11KeySettings | None = None
    signer_pkcs11: Pkcs11KeySettings | None = None
    sender_address: str | None = None
    password_env: str = "CROSSVERIFY_PASSWORD"
    sender_password_env: str | None = None
    signer_password_env: str | None = None
    dev_mode: bool = False
    sender_private_key: str | None = None
    signer_private_key: str | None = None


@dataclass(frozen=True, slots=True)
class IssuerSettings:
    """``[issuer]``: the issuer this process serves, its journal, bundles, pickups and batching, and the private key
    file disputes about its documents are sealed to (``sealing_key``, made by ``crossverify dispute keygen``)."""

    id: str | None = None
    journal: Path = Path("crossverify-journal.sqlite")
    bundles: Path = Path("bundles")
    pickups: Path = Path("crossverify-pickups.sqlite")
    hash_alg: str | None = None
    max_batch: int = 1000
    max_age: float | None = None
    sealing_key: Path | None = None

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ConfigError(f"[issuer] max_batch must be positive, got {self.max_batch}")


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    """``[verifier]``: the bank's policy (``max_age_days`` maps a document type to its freshness limit,
    ``max_bundle_bytes`` caps the size of a bundle file it reads: default 4 MiB, the format's;
    ``holder_binding`` lists the types it accepts only as presentations, env: comma-separated), the outbox
    through which its receipts are recorded exactly once, its verifier id (``audience``) that presentations must
    name, and the store of the ``challenges`` it issues. In a deployment of the GM suite, ``p256_holders`` also
    accepts presentations signed with P-256 holder keys, where the consortium allows them (SM2 keys otherwise).
    ``max_head_age``: seconds the node's latest block may lag this machine's clock before no verdict is given
    (``NodeBehind``; 0, the default, for networks that make no block without transactions)."""

    max_age_days: dict[str, float] = field(default_factory=dict)
    outbox: Path = Path("crossverify-outbox.sqlite")
    max_bundle_bytes: int = 4 * 2**20
    holder_binding: list[str] = field(default_factory=list)
    audience: str | None = None
    challenges: Path = Path("crossverify-challenges.sqlite")
    challenge_ttl: int = 600
    p256_holders: bool = False
    max_head_age: int = 0

    def __post_init__(self) -> None:
        if self.max_bundle_bytes < 1:
            raise ConfigError(f"[verifier] max_bundle_bytes must be positive, got {self.max_bundle_bytes}")
        if self.max_head_age < 0:
            raise ConfigError(f"[verifier] max_head_age must be 0 (any) or more, got {self.max_head_age}")
        for doc_type, days in self.max_age_days.items():
            if not 0 <= days < math.inf:  # (NaN is neither)
                raise ConfigError(f"[verifier] max_age_days: {doc_type} is a number of days, 0 or more, got {days:g}")


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """``[audit]``: the regulator's index and how it reads the chain: at most ``chunk`` blocks per
    ``eth_getLogs``, spans sized to hold about ``max_events`` events (which bounds the sync's memory); a bank
    recording more than ``burst_per_hour`` receipts in an hour is flagged (``receipt_burst``)."""

    index: Path = Path("crossverify-audit.sqlite")
    from_block: int = 0
    chunk: int = 2000
    max_events: int = 10_000
    burst_per_hour: int = 1000

    def __post_init__(self) -> None:
        for name in ("chunk", "max_events", "burst_per_hour"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[audit] {name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class RegulatorSettings:
    """``[regulator]``: the regulator's sealing keys, every one it has held (keys rotate by epoch and old
    receipts stay sealed to old keys; env: comma-separated), the variable holding their password when they are
    encrypted, how many days an issuer has to answer a dispute before the report flags it, the names the
    console and the report show for banks' accounts (``bank_names``: address -> name; the chain names no bank),
    and the console's sessions' SQLite file (``sessions``; unset: beside the audit index; in the ``[storage]``
    database when it is set)."""

    key_files: list[Path] = field(default_factory=list)
    password_env: str = "CROSSVERIFY_REGULATOR_PASSWORD"
    dispute_answer_within: float = 5.0
    bank_names: dict[str, str] = field(default_factory=dict)
    sessions: Path | None = None

    def __post_init__(self) -> None:
        if self.dispute_answer_within <= 0:
            raise ConfigError(f"[regulator] dispute_answer_within must be a positive number of days, "
                              f"got {self.dispute_answer_within}")


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """``[service]``: ``crossverify serve``. ``api_keys`` maps a client's name to ``"ROLE SHA256"``: its role
    (``bank``, ``issuer`` or ``regulator``) and the SHA-256 of its key, never the key itself
    (``crossverify serve new-key`` makes both). A bank's service also serves the residents' page, whose own
    verification requests are limited to ``resident_requests_per_minute`` per network address. A request's head
    (request line and headers) must fit in ``max_header_bytes`` and arrive within ``head_timeout`` seconds, its
    body fit in ``max_body_bytes`` and arrive within ``body_timeout`` seconds; an idle connection is closed after
    ``keep_alive`` seconds. ``workers`` processes serve a bank on one machine; they share its challenges, outbox
    and (in ``rate_limits``, or in the ``[storage]`` database) the clients' rate limits. On a node each process
    checks verification batches on its event loop: a batch that takes longer than ``loop_budget`` seconds sends the
    next ones to a worker thread for a cooldown, and the loop's registry reads give up after ``loop_read_limit``
    seconds (the worker thread reads again with ``[network] timeout``); a node far away (a round trip near
    ``loop_budget``) wants both raised."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    requests_per_minute: int = 600
    resident_requests_per_minute: int = 60
    api_keys: dict[str, str] = field(default_factory=dict)
    run_every: float = 5.0
    workers: int = 1
    rate_limits: Path = Path("crossverify-rate-limits.sqlite")
    loop_budget: float = 0.1
    loop_read_limit: float = 0.5

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"[service] workers must be at least 1, got {self.workers}")
        for name in ("loop_budget", "loop_read_limit"):
            if not 0 < getattr(self, name) <= 60:
                raise ConfigError(f"[service] {name} is 0 to 60 seconds (not 0), got {getattr(self, name)}")


#: The languages people read crossverify in (crossverify.format.metadata.LANGUAGES).
LANGUAGES = ("zh-Hant", "zh-Hans", "pt", "en")


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    """``[display]``: how people read certificates. ``language``: the command line's (``zh-Hant``, ``zh-Hans``,
    ``pt`` or ``en``); ``metadata``: folders of display metadata files this institution keeps (issuers' names and
    their own document types' labels, as the issuers publish them; the standard types ship with crossverify;
    env: comma-separated); ``name``: this institution's own name in each language, which its pages show."""

    language: str = "en"
    metadata: list[Path] = field(default_factory=list)
    name: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ConfigError(f"[display] language must be one of {', '.join(LANGUAGES)}, got {self.language!r}")
        if self.name and set(self.name) != set(LANGUAGES):
            raise ConfigError(f"[display] name gives the institution's name in each of {', '.join(LANGUAGES)}, "
                              f"got {', '.join(self.name) or 'none'}")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """``[storage]``: where the stores live. Unset, each is the SQLite file its section names (one machine, one
    process writing it); ``url = "postgresql://..."`` puts every store in that PostgreSQL database, one schema
    per store, shared by the service's replicas. The password belongs in ``PGPASSWORD`` or a ``.pgpass`` file,
    never in the URL."""

    url: str | None = None

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("[storage] url must be a postgresql:// URL (unset: SQLite files), got one of scheme "
                              f"{self.url.partition(':')[0]!r}")  # (the rest may hold a password)
        if self.url is not None and holds_password(self.url):
            raise ConfigError("[storage] url holds a password: put it in PGPASSWORD or a .pgpass file instead (a "
                              "client key's sslpassword in a pg_service.conf entry, named by ?service=)")

    def location(self, path: Path) -> str | Path:
        """Where a store whose SQLite file would be ``path`` lives."""
        return self.url if self.url is not None else path


def holds_password(url: str) -> bool:
    """Whether a database URL carries a password (as ``user:password@`` or a ``password=`` parameter, or the
    client key's ``sslpassword=``)."""
    parts = urlsplit(url)
    return parts.password is not None or not parse_qs(parts.query).keys().isdisjoint({"password", "sslpassword"})


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting, resolved and validated once; ``source`` names where they came from."""

    network: NetworkSettings = NetworkSettings()
    keys: KeySettings = KeySettings()
    issuer: IssuerSettings = IssuerSettings()
    verifier: VerifierSettings = VerifierSettings()
    audit: AuditSettings = AuditSettings()
    regulator: RegulatorSettings = RegulatorSettings()
    service: ServiceSettings = ServiceSettings()
    display: DisplaySettings = DisplaySettings()
    storage: StorageSettings = StorageSettings()
    source: str = "defaults and environment"

    @classmethod
    def load(cls, path: str | Path | None, environ: typing.Mapping[str, str] | None = None) -> Config:
        """Read ``path`` (or only defaults), apply ``CROSSVERIFY_*`` overrides from ``environ`` (default: the
        process environment), convert every value to its type, and refuse unknown settings."""
        environ = dict(os.environ if environ is None else environ)
        raw: dict[str, Any] = {}
        base = Path.cwd()
        source = "defaults and environment"
        if path is not None:
            file = Path(path)
            try:
                raw = tomllib.loads(file.read_text())
            except FileNotFoundError:
                raise ConfigError(f"configuration file {file} does not exist") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read configuration file {file}: {exc}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{file}: {exc}") from None
            base, source = file.resolve().parent, str(file)
        for section, table in raw.items():
            if section not in _SECTIONS:
                raise ConfigError(f"{source}: unknown section [{section}]")
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
            known = {f.name for f in dataclasses.fields(_SECTIONS[section])}
            for key in table:
                if key not in known:
                    raise ConfigError(f"{source}: unknown setting [{section}] {key}")
        sections: dict[str, Any] = {
            name: _section(kind, name, raw.get(name, {}), environ, source, base) for name, kind in _SECTIONS.items()
        }
        return cls(**sections, source=source)

    def need(self, value: T | None, setting: str) -> T:
        """``value``, or a :class:`ConfigError` naming ``setting`` (``"section.key"``) and where to set it."""
        if value is None:
            section, key = setting.split(".")
            raise ConfigError(f"[{section}] {key} is not set (in {self.source}, or as {env_name(section, key)})")
        return value


_SECTIONS: dict[str, type] = {
    "network": NetworkSettings,
    "keys": KeySettings,
    "issuer": IssuerSettings,
    "verifier": VerifierSettings,
    "display": DisplaySettings,
    "audit": AuditSettings,
    "regulator": RegulatorSettings,
    "service": ServiceSettings,
    "storage": StorageSettings,
}


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``[section] key``."""
    return f"{PREFIX}_{section}_{key}".upper()


def _section(kind: type[T], name: str, table: dict[str, Any], environ: dict[str, str], source: str, base: Path) -> T:
    hints = typing.get_type_hints(kind)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(kind):  # type: ignore[arg-type]
        env = env_name(name, f.name)
        if env in environ:
            value: Any = environ[env] or None  # an empty variable unsets the setting
            origin = env
        elif f.name in table:
            value, origin = table[f.name], f"{source} [{name}] {f.name}"
        elif isinstance(f.default, Path):  # default paths, like given ones, are taken from the file's folder
            value, origin = f.default, f"the default [{name}] {f.name}"
        else:
            continue
        if value is not None:
            value = _convert(value, hints[f.name], origin, base)
            if f.name.endswith("_env"):
                _env_name_only(value, origin)
        values[f.name] = value
    return kind(**values)


def _convert(value: Any, hint: Any, origin: str, base: Path) -> Any:
    kind = _concrete(hint)
    if kind is Pkcs11KeySettings:
        return _pkcs11_key(value, origin, base)
    try:
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind is Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path
        if kind is list:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise ValueError(value)
            strings = [v.strip() for v in items if v.strip()]
            if typing.get_args(_unoptional(hint)) == (Path,):
                return [_convert(v, Path, origin, base) for v in strings]
            return strings
        if kind is dict:
            table = json.loads(value) if isinstance(value, str) else value
            values = typing.get_args(_unoptional(hint))[1]
            accepted = (int, float) if values is float else (values,)
            if not isinstance(table, dict) or not all(
                    isinstance(v, accepted) and not isinstance(v, bool) for v in table.values()):
                raise ValueError(value)
            return table
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError(value)
        if kind is int and isinstance(value, float):
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: expected {kind.__name__}, got {value!r}") from None


def _unoptional(hint: Any) -> Any:
    """``int`` for ``int | None``."""
    if isinstance(hint, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _pkcs11_key(value: Any, origin: str, base: Path) -> Pkcs11KeySettings:
    try:
        table = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise ConfigError(f"{origin}: expected a JSON object naming module, token, label and pin_env or pin_file")\
            from None
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: expected a table with module, token, label and pin_env or pin_file")
    if "pin" in table:
        raise ConfigError(f"{origin}: the PIN never goes in the configuration; name pin_env or pin_file")
    known = {f.name for f in dataclasses.fields(Pkcs11KeySettings)}
    if unknown := sorted(set(table) - known):
        raise ConfigError(f"{origin}: unknown setting {unknown[0]}")
    for name in ("module", "token", "label"):
        if not isinstance(table.get(name), str) or not table[name]:
            raise ConfigError(f"{origin}: {name} must be a non-empty string")
    if ("pin_env" in table) == ("pin_file" in table):
        raise ConfigError(f"{origin}: name exactly one PIN source, pin_env or pin_file")
    pin_env, pin_file = table.get("pin_env"), table.get("pin_file")
    if not isinstance(pin_env or pin_file, str):
        raise ConfigError(f"{origin}: the PIN source must be a string")
    if pin_env is not None:
        _env_name_only(pin_env, f"{origin} pin_env")
    return Pkcs11KeySettings(table["module"], table["token"], table["label"], pin_env,
                             None if pin_file is None else _convert(pin_file, Path, origin, base))


def _env_name_only(value: str, origin: str) -> None:
    """Refuse a setting that should name the variable holding a secret but looks like the secret itself (a PIN
    of digits, a passphrase), without repeating it: errors and logs would."""
    if not _ENV_NAME.fullmatch(value):
        raise ConfigError(f"{origin} names an environment variable (letters, digits and _, not first a digit), not "
                          "the secret itself; the value given is not shown")


def _concrete(hint: Any) -> type:
    """The type a setting holds: ``int`` for ``int | None``, ``dict`` for ``dict[str, float]``."""
    hint = _unoptional(hint)
    return typing.get_origin(hint) or hint  # type: ignore[no-any-return]
