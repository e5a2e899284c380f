"""API keys: shown once, stored hashed in a private file, checked on every use, revocable;
and ``civicloop apikey create`` prints the key alone on its last line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloop.api.keys import ApiKeyError, ApiKeyStore
from civicloop.cli import app
from civicloop.config import to_env
from tests.conftest import make_config


def test_keys_are_stored_hashed_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "api" / "keys.sqlite"
    store = ApiKeyStore(path)
    key, token = store.create("department", "roads", label="roads crew app")
    store.close()

    assert key.role_name == "department:roads" and token.startswith("clk_") and len(token) > 40
    assert token.encode() not in path.read_bytes()  # only its SHA-256 is kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_key_authenticates_until_it_is_revoked(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "keys.sqlite")
    key, token = store.create("analyst")
    other, _ = store.create("intake")

    assert store.authenticate(token) == key
    assert store.authenticate(token + "x") is None and store.authenticate("") is None
    assert store.revoke(key.key_id) and not store.revoke(key.key_id)
    assert store.authenticate(token) is None
    listed = {k.key_id: k for k in store.list()}
    assert listed[key.key_id].revoked_at is not None and listed[other.key_id].revoked_at is None


@pytest.mark.parametrize(
    ("role", "department", "message"),
    [
        ("admin", None, "not one of"),
        ("department", None, "--department NAME"),
        ("analyst", "roads", "only goes with --role department"),
    ],
)
def test_a_key_that_cannot_be_made_is_refused_with_the_reason(
    tmp_path: Path, role: str, department: str | None, message: str
) -> None:
    with pytest.raises(ApiKeyError, match=message):
        ApiKeyStore(tmp_path / "keys.sqlite").create(role, department)


def test_apikey_create_prints_the_key_alone_on_the_last_line(tmp_path: Path) -> None:
    env = to_env(make_config(tmp_path))
    runner = CliRunner()

    created = runner.invoke(app, ["apikey", "create", "--role", "department:parks"], env=env)
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("clk_") and " " not in token

    listed = runner.invoke(app, ["apikey", "list"], env=env)
    assert "department:parks" in listed.output and token not in listed.output

    store = ApiKeyStore(make_config(tmp_path).api_keys)
    key = store.authenticate(token)
    store.close()
    assert key is not None and key.department == "parks"
    assert runner.invoke(app, ["apikey", "revoke", key.key_id], env=env).exit_code == 0
    assert runner.invoke(app, ["apikey", "revoke", "k-none"], env=env).exit_code != 0


def test_a_revocation_by_another_process_counts_at_once(tmp_path: Path) -> None:
    # given an API process that has already seen (and remembers) a key
    api, operator = ApiKeyStore(tmp_path / "keys.sqlite"), ApiKeyStore(tmp_path / "keys.sqlite")
    key, token = operator.create("supervisor")
    assert api.authenticate(token) == key
    assert api.authenticate(token) == key  # answered from memory this time
    # when the operator revokes it through another connection (`civicloop apikey revoke`)
    operator.revoke(key.key_id)
    # then the very next request with it is refused
    assert api.authenticate(token) is None
