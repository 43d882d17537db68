"""Configuration from a TOML file, every value overridable by the environment.

``CROSSVERIFY_<SECTION>_<KEY>`` overrides ``[section] key``, e.g. ``CROSSVERIFY_NETWORK_RPC``; set to the empty
string, it unsets the setting. Relative paths are taken from the file's folder. Example::

    [network]
    rpc = "http://127.0.0.1:8545"      # or "embedded" for the in-process chain
    registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    chain_id = 1337                    # optional: refuse a node serving another chain
    gas_price = 0                      # optional: fixed gas price in wei (0 on gasless Besu/GoQuorum networks)

    [keys]
    sender_keystore = "keys/operator.json"   # who sends transactions (an operator, or the issuer's admin)
    signer_keystore = "keys/bnu-signer.json" # the issuer's signing key (issuers only)
    password_env = "CROSSVERIFY_PASSWORD"    # else the password is asked for
    dev_mode = false                          # true allows sender_private_key / signer_private_key

    [verifier.max_age_days]                   # the bank's freshness policy, from each document's as-of date
    ACCTSTMT = 30

    [issuer]
    id = "BNUMMOMX"
    journal = "var/journal.sqlite"
    bundles = "var/bundles"
    hash_alg = "keccak256"
    max_batch = 1000
    max_age = 300
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

PREFIX = "CROSSVERIFY"

#: Every setting: (section, key) -> (type, default). ``None`` default: required where used.
FIELDS: dict[tuple[str, str], tuple[type, Any]] = {
    ("network", "rpc"): (str, "embedded"),
    ("network", "registry"): (str, None),
    ("network", "chain_id"): (int, None),
    ("network", "poa"): (bool, None),
    ("network", "receipt_timeout"): (float, 120.0),
    ("network", "gas_price"): (int, None),
    ("keys", "sender_keystore"): (Path, None),
    ("keys", "signer_keystore"): (Path, None),
    ("keys", "sender_address"): (str, None),
    ("keys", "password_env"): (str, "CROSSVERIFY_PASSWORD"),
    ("keys", "dev_mode"): (bool, False),
    ("keys", "sender_private_key"): (str, None),
    ("keys", "signer_private_key"): (str, None),
    ("issuer", "id"): (str, None),
    ("issuer", "journal"): (Path, Path("crossverify-journal.sqlite")),
    ("issuer", "bundles"): (Path, Path("bundles")),
    ("issuer", "hash_alg"): (str, "keccak256"),
    ("issuer", "max_batch"): (int, 1000),
    ("issuer", "max_age"): (float, None),
    ("verifier", "max_age_days"): (dict, None),
    ("audit", "index"): (Path, Path("crossverify-audit.sqlite")),
    ("audit", "from_block"): (int, 0),
    ("audit", "chunk"): (int, 2000),
}


@dataclass(frozen=True)
class Config:
    """Resolved settings; read one with :meth:`get`."""

    values: dict[tuple[str, str], Any]
    source: str

    @classmethod
    def load(cls, path: str | Path | None, environ: dict[str, str] | None = None) -> Config:
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
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{file}: {exc}") from None
            base, source = file.resolve().parent, str(file)
        for section, table in raw.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
            for key in table:
                if (section, key) not in FIELDS:
                    raise ConfigError(f"{source}: unknown setting [{section}] {key}")
        values = {}
        for (section, key), (kind, default) in FIELDS.items():
            env = f"{PREFIX}_{section}_{key}".upper()
            value = environ.get(env, raw.get(section, {}).get(key, default))
            if value == "" and env in environ:  # an empty variable unsets the setting
                value = None
            origin = env if env in environ else f"{source} [{section}] {key}"
            values[(section, key)] = None if value is None else _convert(value, kind, origin, base)
        return cls(values, source)

    def get(self, section: str, key: str) -> Any:
        return self.values[(section, key)]

    def require(self, section: str, key: str) -> Any:
        value = self.get(section, key)
        if value is None:
            env = f"{PREFIX}_{section}_{key}".upper()
            raise ConfigError(f"[{section}] {key} is not set (in {self.source}, or as {env})")
        return value


def _convert(value: Any, kind: type, origin: str, base: Path) -> Any:
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if kind is Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path
        if kind is bool and not isinstance(value, bool):
            raise ValueError(value)
        if kind is dict:
            table = json.loads(value) if isinstance(value, str) else value
            if not isinstance(table, dict):
                raise ValueError(value)
            return table
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: expected {kind.__name__}, got {value!r}") from None
