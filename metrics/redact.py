"""Keep secrets and bulky payloads out of logs and raw captures.

Pure functions plus one structlog processor (:func:`redact_event`). Credentials are replaced
by ``"[REDACTED]"`` (an Authorization scheme such as ``Bearer`` is kept: it says which auth
was used without leaking it). ``OpenAI-Organization`` / ``OpenAI-Project`` are kept: they are
identifiers, not secrets, and help debugging. Data URLs (base64 images in JSON bodies) become
a small summary with their size and SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

REDACTED = "[REDACTED]"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        # Gateways' own client credentials (Bifrost's virtual key, LiteLLM's key), which
        # the proxy also reads as credentials (cache_credential_headers).
        "x-bf-vk",
        "x-litellm-api-key",
        "cookie",
        "set-cookie",
    }
)
# Credential NAMES (headers, log keys, JSON keys, form fields, query parameters) are
# recognised by pattern, not by an exact list, so a gateway's own spelling (`access_key`,
# `Ocp-Apim-Subscription-Key`, `authToken`, `?sig=`) is caught too. A name is split into
# lower-case words: at "-", "_", "." and any other punctuation, and at camelCase humps
# (`authToken` -> auth, token). It names a credential when (see _is_secret_name):
# - it is one of _SECRET_EXACT (names that are not built from the words below), or
# - any word is one of _SECRET_WORDS (`client_secret`, `db_password_file`, `set-cookie`),
#   or a run-together form ending in one (`clientsecret`, `accesstoken`), or
# - a word of _CREDENTIAL_TAILS (key, token, sig, auth, ...) is the last word, or is
#   followed only by filler words (`key_value`, `token_b64`), or comes right after a word
#   of _CREDENTIAL_QUALIFIERS (`access_key_id`, `api_tokens`).
# Plural "tokens" alone is a count (`input_tokens`, `x-ratelimit-remaining-tokens`) and
# stays. A few names ending in "key" that are known not to be credentials stay visible
# (_NOT_SECRET); when in doubt a name is redacted: a false positive costs a log field, a
# miss leaks a credential.
_SECRET_EXACT = frozenset({"x_bf_vk", "vk"})
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "passphrase",
        "pwd",
        "credential",
        "credentials",
        "apikey",
        "apikeys",
        "cookie",
        "cookies",
        "authorization",
        "signature",
        "privatekey",
    }
)
# Run-together words ending in one of these name a credential ("clientsecret").
_SECRET_ENDINGS = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "credential",
    "credentials",
    "apikey",
    "token",
    "signature",
)
_CREDENTIAL_TAILS = frozenset({"key", "keys", "token", "sig", "auth", "jwt", "bearer"})
_CREDENTIAL_QUALIFIERS = frozenset(
    {
        "access",
        "account",
        "admin",
        "api",
        "auth",
        "bearer",
        "client",
        "encryption",
        "master",
        "personal",
        "private",
        "refresh",
        "secret",
        "security",
        "service",
        "session",
        "shared",
        "signing",
        "subscription",
    }
)
# Words that may follow a credential word without making it something else ("key_value").
_FILLER = frozenset(
    {"value", "val", "str", "string", "data", "raw", "hex", "b64", "base64", "header", "param"}
)
# Named like a credential, but not one: Bifrost's cache switch, SDK retry ids, sort fields.
_NOT_SECRET = frozenset({"cache_key", "x_bf_cache_key", "idempotency_key", "sort_key"})
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_AUTH_KEYS = frozenset({"authorization", "proxy_authorization"})

# "Bearer abc", "Basic abc": keep the scheme. A cookie ("a=b; c=d") has no scheme.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s+\S")
# Credentials inside free text (an error message quoting a header, say).
_BEARER_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_SK_IN_TEXT = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")

_DATA_URL = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*),", re.IGNORECASE)

_MAX_DEPTH = 32
_SAFE_SCALARS = (int, float, bool)


@functools.lru_cache(maxsize=4096)
def _norm(key: str) -> str:
    # Cached: log and header keys are a small, endlessly repeated set, and this runs for
    # every key of every log event.
    return key.strip().lower().replace("-", "_")


def _words(key: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(_CAMEL_HUMP.sub("_", key.strip()).lower()) if w]


def _names_key(word: str) -> bool:
    """A run-together credential word: "accesstoken", "clientsecret", "subscriptionkey"."""
    if word in _SECRET_WORDS:
        return True
    if word.endswith(_SECRET_ENDINGS) and word not in _CREDENTIAL_TAILS:
        return True  # "token" alone is a tail word: `token_type` is not a credential
    for tail in ("key", "keys"):
        if word.endswith(tail) and word[: -len(tail)] in _CREDENTIAL_QUALIFIERS:
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _is_secret_name(key: str) -> bool:
    words = _words(key)
    if not words:
        return False
    name = "_".join(words)
    if name in _NOT_SECRET:
        return False
    if name in _SECRET_EXACT:
        return True
    for i, word in enumerate(words):
        if _names_key(word):
            return True
        if word in _CREDENTIAL_TAILS and (
            all(w in _FILLER or w.isdigit() for w in words[i + 1 :])
            or (i > 0 and words[i - 1] in _CREDENTIAL_QUALIFIERS)
        ):
            return True
        if word == "tokens" and i > 0 and words[i - 1] in _CREDENTIAL_QUALIFIERS:
            return True
    return False


def is_secret_key(key: object) -> bool:
    """Whether a header/field/log key or query parameter names a credential (by pattern:
    `api_key`, `X-Auth-Token`, `subscription-key`, `clientSecret`, `sig`, ...)."""
    return isinstance(key, str) and _is_secret_name(key)


def redact_value(key: str, value: object) -> str:
    """The redacted form of a secret ``value`` stored under ``key``."""
    if _norm(key) in _AUTH_KEYS and isinstance(value, str):
        match = _SCHEME.match(value)
        if match:
            return f"{match.group(1)} {REDACTED}"
    return REDACTED


def may_hold_token(text: str) -> bool:
    """A cheap first look (substring tests, any case) before the regular expressions."""
    low = text.lower()
    return "sk-" in low or "bearer" in low or "basic" in low


def scrub_text(text: str) -> str:
    """Remove bearer tokens and ``sk-...`` keys quoted inside free text."""
    if not may_hold_token(text):
        return text
    text = _BEARER_IN_TEXT.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SK_IN_TEXT.sub(f"sk-{REDACTED}", text)


def redact_headers(
    headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
    also: Collection[str] = (),
) -> dict[str, str]:
    """A plain dict copy of ``headers`` with credential values replaced: those named like a
    credential, and those named in ``also`` (lower-case names: the header names an operator
    made credentials, such as ``cache_credential_headers``).

    Accepts a mapping or a multidict (repeated names are joined with ", ", as HTTP allows).
    Header names keep the case they came with.
    """
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = str(name)  # aiohttp's istr names are str subclasses orjson refuses as keys
        text = str(value)
        if is_secret_key(key) or (also and key.lower() in also):
            text = redact_value(key, text)
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _redact_obj(obj: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return obj
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if is_secret_key(key):
                out[key] = redact_value(key, value)
            elif isinstance(key, str) and _norm(key).endswith("headers") and value is not None:
                out[key] = redact_headers(value) if _is_headers(value) else value
            else:
                out[key] = _redact_obj(value, depth + 1)
        return out
    if isinstance(obj, list | tuple):
        return [_redact_obj(v, depth + 1) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


def _is_headers(value: object) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, list | tuple)
        and all(isinstance(v, list | tuple) and len(v) == 2 for v in value)
    )


_PLAIN, _SECRET, _HEADERS = 0, 1, 2


@functools.lru_cache(maxsize=4096)
def _key_kind(key: str) -> int:
    # One cached lookup per key of every log event, instead of two.
    if _is_secret_name(key):
        return _SECRET
    return _HEADERS if _norm(key).endswith("headers") else _PLAIN


def redact_event(
    logger: object, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redacts ``headers`` (and ``*_headers``) values, any key named
    like a credential (authorization, api_key, cookie, ...), nested dicts, and bearer tokens
    quoted in strings."""
    # Runs on every access-log line: the common cases (a number, None, a string with nothing
    # token-like in it) are tested first and inline. Assigning to existing keys while
    # iterating is fine: the dict's size never changes.
    for key, value in event_dict.items():
        kind = _key_kind(key) if type(key) is str else _PLAIN
        if kind == _SECRET:
            event_dict[key] = redact_value(key, value)
        elif value is None or type(value) in _SAFE_SCALARS:
            continue
        elif kind == _HEADERS and _is_headers(value):
            event_dict[key] = redact_headers(value)
        elif type(value) is str:
            low = value.lower()  # may_hold_token, inline: this runs for every string logged
            if "sk-" in low or "bearer" in low or "basic" in low:
                event_dict[key] = scrub_text(value)
        elif isinstance(value, Mapping | list | tuple | str):
            event_dict[key] = _redact_obj(value)
    return event_dict


def summarize_data_url(value: str) -> dict[str, Any] | None:
    """``{"data_url": True, "content_type", "bytes", "sha256"}`` for a data: URL, else None.
    ``bytes`` and ``sha256`` describe the decoded payload."""
    match = _DATA_URL.match(value)
    if match is None:
        return None
    content_type = match.group(1) or "text/plain"
    params = [p.strip().lower() for p in match.group(2).split(";") if p.strip()]
    payload = value[match.end() :]
    try:
        if "base64" in params:
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            raw = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raw = payload.encode("utf-8", "surrogatepass")
    return {
        "data_url": True,
        "content_type": content_type,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def truncate_text(text: str, max_string: int) -> str:
    if len(text) <= max_string:
        return text
    return f"{text[:max_string]}...[{len(text) - max_string} more chars]"


def summarize_json(obj: Any, max_string: int = 256, _depth: int = 0) -> Any:
    """A copy of a parsed JSON value fit for a log or a capture: data: URLs summarised,
    strings longer than ``max_string`` truncated, credential-named keys redacted."""
    if _depth > _MAX_DEPTH:
        return "[too deep]"
    if isinstance(obj, str):
        summary = summarize_data_url(obj) if obj[:5].lower() == "data:" else None
        return summary if summary is not None else truncate_text(scrub_text(obj), max_string)
    if isinstance(obj, Mapping):
        return {
            key: (
                redact_value(key, value)
                if is_secret_key(key)
                else summarize_json(value, max_string, _depth + 1)
            )
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [summarize_json(v, max_string, _depth + 1) for v in obj]
    return obj


def summarize_multipart_part(
    name: str | None,
    filename: str | None,
    content_type: str | None,
    size: int,
    sha256: str,
) -> dict[str, Any]:
    """A file part of a multipart body, described without its bytes."""
    return {
        "name": name,
        "filename": filename,
        "content_type": content_type,
        "bytes": size,
        "sha256": sha256,
    }
