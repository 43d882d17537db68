"""Configuration: the TOML file, environment overrides, types checked once, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify.config import Config, IssuerSettings, NetworkSettings
from crossverify.errors import ConfigError
from crossverify.store import redacted


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crossverify.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    config = Config.load(None, environ={})
    assert config.network == NetworkSettings()
    assert config.issuer.journal == Path.cwd() / "crossverify-journal.sqlite"
    assert config.issuer.max_batch == 1000 and config.issuer.max_age is None
    assert config.verifier.max_age_days == {}
    assert config.source == "defaults and environment"


def test_file_values_are_typed_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = Config.load(write(tmp_path, """
[network]
rpc = "http://127.0.0.1:8545"
chain_id = 1337
gas_price = 0
[issuer]
id = "BNUMMOMX"
journal = "var/journal.sqlite"
max_age = 300
[verifier.max_age_days]
ACCTSTMT = 30
"""), environ={})
    assert config.network.chain_id == 1337 and config.network.gas_price == 0
    assert config.issuer == IssuerSettings(id="BNUMMOMX", journal=tmp_path.resolve() / "var/journal.sqlite",
                                           bundles=tmp_path.resolve() / "bundles", max_age=300.0,
                                           pickups=tmp_path.resolve() / "crossverify-pickups.sqlite")
    assert config.verifier.max_age_days == {"ACCTSTMT": 30}


def test_environment_overrides_the_file_and_converts(tmp_path: Path) -> None:
    path = write(tmp_path, '[network]\nchain_id = 1\n[keys]\ndev_mode = false\n')
    config = Config.load(path, environ={"CROSSVERIFY_NETWORK_CHAIN_ID": "1337", "CROSSVERIFY_KEYS_DEV_MODE": "yes",
                                        "CROSSVERIFY_VERIFIER_MAX_AGE_DAYS": '{"DEPCERT": 7}'})
    assert config.network.chain_id == 1337
    assert config.keys.dev_mode is True
    assert config.verifier.max_age_days == {"DEPCERT": 7}


def test_an_empty_variable_unsets_a_setting(tmp_path: Path) -> None:
    path = write(tmp_path, '[network]\nregistry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n')
    config = Config.load(path, environ={"CROSSVERIFY_NETWORK_REGISTRY": ""})
    assert config.network.registry is None
    with pytest.raises(ConfigError, match=r"\[network\] registry is not set .*CROSSVERIFY_NETWORK_REGISTRY"):
        config.need(config.network.registry, "network.registry")


@pytest.mark.parametrize(("text", "message"), [
    ("[network]\nrpcc = 'x'\n", r"unknown setting \[network\] rpcc"),
    ("[netwerk]\nrpc = 'x'\n", r"unknown section \[netwerk\]"),
    ("network = 1\n", r"\[network\] must be a table"),
    ("[network]\nchain_id = 'one'\n", r"\[network\] chain_id: expected int, got 'one'"),
    ("[network]\nchain_id = 1.5\n", r"expected int, got 1.5"),
    ("[keys]\ndev_mode = 'maybe'\n", r"expected bool"),
    ("[issuer]\nmax_batch = true\n", r"expected int, got True"),
    ("[verifier]\nmax_age_days = 3\n", r"expected dict"),
    ("[verifier.max_age_days]\nDEPCERT = 'week'\n", r"expected dict"),
    ("[verifier.max_age_days]\nDEPCERT = inf\n", r"\[verifier\] max_age_days: DEPCERT is a number of days, 0 or more"),
    ("[verifier.max_age_days]\nDEPCERT = nan\n", r"max_age_days: DEPCERT is a number of days, 0 or more, got nan"),
    ("[verifier.max_age_days]\nDEPCERT = -7\n", r"max_age_days: DEPCERT is a number of days, 0 or more, got -7"),
    ("[verifier]\nmax_head_age = -1\n", r"\[verifier\] max_head_age must be 0 \(any\) or more, got -1"),
    ("[network\n", r"crossverify.toml: "),
    ("[audit]\nmax_events = 0\n", r"\[audit\] max_events must be positive"),
    ("[issuer]\nmax_batch = -1\n", r"\[issuer\] max_batch must be positive, got -1"),
    ("[service]\nloop_budget = 0\n", r"\[service\] loop_budget is 0 to 60 seconds \(not 0\), got 0"),
    ("[service]\nloop_read_limit = 600\n", r"\[service\] loop_read_limit is 0 to 60 seconds"),
])
def test_bad_files_are_refused_with_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.load(write(tmp_path, text), environ={})


def test_a_bad_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CROSSVERIFY_ISSUER_MAX_BATCH: expected int"):
        Config.load(None, environ={"CROSSVERIFY_ISSUER_MAX_BATCH": "many"})


@pytest.mark.parametrize("text", [
    "[keys]\nsigner_password_env = 'correct horse battery'\n",
    "[keys.signer_pkcs11]\nmodule = 'm.so'\ntoken = 't'\nlabel = 'k'\npin_env = '246810'\n",
])
def test_a_secret_given_where_its_variable_is_named_is_refused_unrepeated(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="not the secret itself") as refused:
        Config.load(write(tmp_path, text), environ={})
    assert "246810" not in str(refused.value) and "horse" not in str(refused.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "absent.toml", environ={})


def test_lists_from_the_file_or_comma_separated_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[verifier]\naudience = "ICBKCNBJGDG"\nholder_binding = ["DEPCERT", "ACCTSTMT"]\n')
    config = Config.load(path, environ={})
    assert config.verifier.holder_binding == ["DEPCERT", "ACCTSTMT"] and config.verifier.audience == "ICBKCNBJGDG"
    assert config.verifier.challenges == tmp_path.resolve() / "crossverify-challenges.sqlite"
    env = Config.load(path, environ={"CROSSVERIFY_VERIFIER_HOLDER_BINDING": "DEPCERT, CREDREC"})
    assert env.verifier.holder_binding == ["DEPCERT", "CREDREC"]
    with pytest.raises(ConfigError, match="holder_binding"):
        Config.load(write(tmp_path, "[verifier]\nholder_binding = [1]\n"), environ={})


def test_storage_is_sqlite_files_unless_a_postgresql_url_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, '[verifier]\noutbox = "var/outbox.sqlite"\n')
    files = Config.load(path, environ={})
    assert files.storage.location(files.verifier.outbox) == tmp_path.resolve() / "var/outbox.sqlite"
    url = "postgresql://crossverify@db.bank.internal/bank"
    shared = Config.load(path, environ={"CROSSVERIFY_STORAGE_URL": url})
    assert shared.storage.location(shared.verifier.outbox) == url == shared.storage.location(shared.issuer.journal)


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite:///var/x.sqlite", "must be a postgresql:// URL"),
    ("mysql://db/bank", "must be a postgresql:// URL"),
    ("postgresql://crossverify:hunter2@db/bank", "holds a password: put it in PGPASSWORD"),
    ("postgresql://crossverify@db/bank?sslmode=require&password=hunter2", "holds a password"),
    ("postgresql://crossverify@db/bank?sslkey=bank.key&sslpassword=hunter2", "holds a password"),  # the key's
    ("postgresql+psycopg://crossverify:hunter2@db/bank", "must be a postgresql:// URL"),
])
def test_bad_storage_urls_are_refused(url: str, message: str) -> None:
    """A URL is refused by name, and its secrets are not repeated in the message (nor anywhere it is shown)."""
    with pytest.raises(ConfigError, match=message) as refused:
        Config.load(None, environ={"CROSSVERIFY_STORAGE_URL": url})
    assert "hunter2" not in str(refused.value) and "hunter2" not in redacted(url)
