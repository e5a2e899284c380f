"""The key store is private to civicloop's user: created 0600 in a 0700 directory, and refused
when others may have read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from civicloop.privacy import KeyStore, KeyStoreNotPrivate, seal, unseal


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_key_store_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "home" / "var" / "keys.sqlite"
    store = KeyStore(path)
    ciphertext, key_id = seal(store, "r-1", "+1-410-555-0100")
    assert unseal(store, ciphertext, key_id) == "+1-410-555-0100"
    store.close()
    assert (_mode(path), _mode(path.parent)) == (0o600, 0o700)
    assert all(_mode(p) & 0o077 == 0 for p in path.parent.iterdir()), "journals are private too"


def test_a_state_directory_created_open_by_other_tools_is_restricted(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    os.chmod(var, 0o755)
    KeyStore(var / "keys.sqlite").close()
    assert _mode(var) == 0o700


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_store_others_can_read_is_refused_and_left_as_it_is(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "var" / "keys.sqlite"
    KeyStore(path).close()
    os.chmod(path, mode)
    with pytest.raises(KeyStoreNotPrivate, match=rf"mode {mode:04o}.*chmod 600 {path}"):
        KeyStore(path)
    assert _mode(path) == mode, "civicloop does not decide that leaked keys are fine"
    os.chmod(path, 0o600)
    KeyStore(path).close()
