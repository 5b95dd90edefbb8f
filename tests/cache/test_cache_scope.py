import os
import stat
from pathlib import Path

import pytest
from multidict import CIMultiDict

from cache.scope import (
    credential_identity,
    credential_scope,
    load_or_create_secret,
    resolve_scope,
)


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


def test_credential_identity_covers_every_listed_header_and_qualifiers() -> None:
    names = ["authorization", "api-key", "x-bf-vk"]
    qualifiers = ["openai-project"]

    def identity(qualified: bool = False, **headers: str) -> str | None:
        return credential_identity(CIMultiDict(headers), names, qualifiers if qualified else ())

    # A lone header is its raw value: scopes made before other headers counted still match.
    assert identity(Authorization="Bearer sk-a") == "Bearer sk-a"
    assert identity(**{"x-bf-vk": "vk-1"}) == "vk-1"
    assert identity() is None
    project = {"OpenAI-Project": "proj_1"}
    assert identity(True, **project) is None  # a qualifier, not a credential
    assert identity(Authorization="Bearer sk-a", **project) == "Bearer sk-a"
    qualified = identity(True, Authorization="Bearer sk-a", **project)
    assert qualified is not None and qualified != "Bearer sk-a"
    assert qualified != identity(True, Authorization="Bearer sk-a", **{"OpenAI-Project": "p2"})
    assert identity(Authorization="Bearer sk-a", **{"x-bf-vk": "vk-1"}) != identity(
        Authorization="Bearer sk-a", **{"x-bf-vk": "vk-2"}
    )


def test_the_bearer_scheme_is_case_insensitive() -> None:
    names = ("authorization",)
    spellings = ("Bearer sk-a", "bearer sk-a", "BEARER  sk-a", " Bearer sk-a ")
    identities = {credential_identity(CIMultiDict(Authorization=v), names) for v in spellings}
    # One key, one identity: the SDK's own spelling, so existing scopes are unchanged.
    assert identities == {"Bearer sk-a"}
    other = credential_identity(CIMultiDict(Authorization="Bearer sk-A"), names)
    assert other == "Bearer sk-A"  # the token itself stays case-sensitive
    basic = credential_identity(CIMultiDict(Authorization="Basic dXNlcg=="), names)
    assert basic == "Basic dXNlcg=="
