"""Which headers cross the proxy, in each direction.

Everything end-to-end is relayed (a superset of the contract's list: auth, organisation,
project, the X-Stainless family, accept, content-type with its multipart boundary, retry and
rate-limit headers...). Hop-by-hop headers (RFC 9110 section 7.6.1) are dropped, plus any
header the peer named in its own Connection header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by aiohttp itself for the new connection or body framing.
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length", "x-request-id", "server", "date"}


def _connection_named(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    named: set[str] = set()
    for value in headers.getall("connection", []):
        named.update(token.strip().lower() for token in value.split(",") if token.strip())
    return named


def _filtered(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], drop: frozenset[str]
) -> CIMultiDict[str]:
    # The usual case has no Connection header naming extra hop-by-hop headers: no new set.
    dropped = drop | _connection_named(headers) if "connection" in headers else drop
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in dropped)


def upstream_request_headers(
    headers: CIMultiDictProxy[str], request_id: str, *, drop_body_headers: bool = False
) -> CIMultiDict[str]:
    out = _filtered(headers, _REQUEST_DROP)
    if drop_body_headers:
        out.popall("content-type", None)
        out.popall("content-encoding", None)
    out["x-request-id"] = request_id
    return out


def with_credentials(
    headers: CIMultiDict[str], names: Iterable[str], credentials: Mapping[str, str]
) -> CIMultiDict[str]:
    """`headers` with every header in `names` replaced by `credentials` (in place)."""
    for name in names:
        headers.popall(name, None)
    headers.update(credentials)
    return headers


def client_response_headers(
    headers: CIMultiDictProxy[str], *, keep_encoding: bool
) -> CIMultiDict[str]:
    """Headers to give the client. ``keep_encoding`` is False when the body we send is not
    the upstream's raw bytes (we decoded or rewrote it), so its encoding no longer applies."""
    out = _filtered(headers, _RESPONSE_DROP)
    if not keep_encoding:
        out.popall("content-encoding", None)
    upstream_id = headers.get("x-request-id")
    if upstream_id:
        out["x-upstream-request-id"] = upstream_id
    return out


# What a client retries by (the official SDK reads the first three; gateways add rate-limit
# state): kept when the proxy answers an upstream error in its own words.
_RETRY_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")


def retry_headers(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> dict[str, str]:
    """The upstream's retry and rate-limit headers, to pass on with an error of ours."""
    kept = {name: value for name in _RETRY_HEADERS if (value := headers.get(name))}
    kept.update(
        (name, value) for name, value in headers.items() if name.lower().startswith("x-ratelimit-")
    )
    return kept
