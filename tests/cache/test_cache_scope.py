import os
import stat
from pathlib import Path

import pytest

from cache.scope import credential_scope, load_or_create_secret, resolve_scope


def test_secret_is_created_with_mode_0600_and_reused(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert len(secret) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "data") == secret
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp left


def test_different_credentials_get_different_scopes(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path)
    a = credential_scope(secret, "Bearer sk-one")
    b = credential_scope(secret, "Bearer sk-two")
    assert a != b
    assert a == credential_scope(secret, "Bearer sk-one")
    assert "sk-one" not in a
    assert credential_scope(secret, None) == "anonymous"


def test_scope_depends_on_the_secret() -> None:
    assert credential_scope(b"x" * 32, "k") != credential_scope(b"y" * 32, "k")


def test_resolve_scope_modes() -> None:
    secret = b"s" * 32
    assert resolve_scope(secret, "k", "credential", "team") == credential_scope(secret, "k")
    assert resolve_scope(secret, "k1", "shared", "team") == "shared:team"
    assert resolve_scope(secret, None, "shared", "team") == "shared:team"
    with pytest.raises(ValueError):
        resolve_scope(secret, "k", "bogus", "team")
