"""Tenant scope: whose cache entries a request may see.

By default an entry belongs to the credential that created it. The credential is never
stored: only an HMAC of it under a per-installation secret, so a leaked data directory does
not leak API keys and scope ids cannot be computed without the secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

SECRET_FILE = "secret.key"
SECRET_BYTES = 32
ANONYMOUS_SCOPE = "anonymous"
SCOPE_MODES = ("credential", "shared")
# Request headers that select who pays inside one API key (OpenAI's organisation and
# project): part of who created a job (the watcher must poll it with the same ones), not of
# the scope, which is the key's, as it was before these headers were read at all.
IDENTITY_QUALIFIERS = ("openai-organization", "openai-project")


def load_or_create_secret(data_dir: Path) -> bytes:
    """Return the 32-byte secret in data_dir/secret.key, creating it (mode 0600) if absent.

    Creation is atomic and race-free across processes: the secret is written to a private
    temporary file and hard-linked into place, so a concurrent starter either wins or reads
    the winner's complete file, never a half-written one.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(SECRET_BYTES))
            f.flush()
            os.fsync(f.fileno())
        # link() fails if the name exists, unlike rename(): the first writer's secret wins.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    data = path.read_bytes()
    if len(data) != SECRET_BYTES:
        raise ValueError(f"{path} holds {len(data)} bytes, expected {SECRET_BYTES}")
    return data


def credential_identity(
    headers: Mapping[str, str], names: Sequence[str], qualifiers: Sequence[str] = ()
) -> str | None:
    """The caller's credential as one string, from the headers named in `names` (the
    operator's list: Authorization, api-key, gateway virtual keys, ...), followed by those
    of `qualifiers` present; None when none of `names` is present.

    A lone header gives its raw value, which is what scopes were made from before other
    headers counted, so existing entries keep their scope. Several give "name: value"
    lines; header values cannot hold a newline, so the two forms never collide.
    """
    pairs = [(name, _canonical(name, value)) for name in names if (value := headers.get(name))]
    if not pairs:
        return None
    pairs += [(name, value) for name in qualifiers if (value := headers.get(name))]
    if len(pairs) == 1:
        return pairs[0][1]
    return "\n".join(f"{name}: {value}" for name, value in pairs)


def _canonical(name: str, value: str) -> str:
    """One spelling per credential: the auth scheme is case-insensitive (RFC 9110 section
    11.1), so "bearer k" is the key "Bearer k" is, spelt as the official SDK spells it."""
    if name.lower() == "authorization":
        scheme, sep, token = value.strip().partition(" ")
        if sep and scheme.lower() == "bearer":
            return f"Bearer {token.strip()}"
    return value


def credential_scope(secret: bytes, credential: str | None) -> str:
    """HMAC-SHA256 hex of a credential identity (`credential_identity`); None: "anonymous"."""
    if credential is None:
        return ANONYMOUS_SCOPE
    # aiohttp hands header bytes that are not UTF-8 over as surrogates (HTTP allows any
    # byte from 0x80 up in a value): hashed back to those bytes, not refused with a 500.
    raw = credential.encode("utf-8", "surrogateescape")
    return hmac.new(secret, raw, hashlib.sha256).hexdigest()


def resolve_scope(secret: bytes, credential: str | None, mode: str, shared_name: str) -> str:
    """Scope for a request under the operator's scope mode.

    "credential" (default): per credential. "shared": one scope for everyone, which only the
    operator can turn on (a client can narrow with a namespace, never widen).
    """
    if mode == "credential":
        return credential_scope(secret, credential)
    if mode == "shared":
        return f"shared:{shared_name}"
    raise ValueError(f"unknown scope mode {mode!r}; expected one of {SCOPE_MODES}")
