"""The admin API over real HTTP: nothing under /admin ever reaches the upstream, the bearer
scheme is case-insensitive, and Bifrost's cache control spellings work end to end."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from proxy.state import STATE
from tests.conftest import ServerFactory
from tests.e2e.test_cache import client

TOKEN = "admin-secret-token"
AUTH = f"Bearer {TOKEN}"
# A request the proxy must relay: proves the simulator's log is live, so an admin request
# that left no trace in it really was not relayed.
CONTROL_PATH = "/v1/relay-probe"


async def raw_http(
    server: TestServer,
    method: str,
    target: str,
    headers: dict[str, str | bytes] | None = None,
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with the request-target byte for byte (no client-side URL
    normalisation of //, .. or percent-escapes). Returns status, lowercase headers, body."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    lines = [
        f"{method} {target} HTTP/1.1".encode(),
        f"Host: {server.host}:{server.port}".encode(),
        b"Connection: close",
        f"Content-Length: {len(body)}".encode(),
    ]
    for name, value in (headers or {}).items():
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode() + b": " + raw)
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), parsed, payload


async def sim_log(sim: TestServer) -> list[dict[str, Any]]:
    """The simulator's request log, read over HTTP."""
    async with aiohttp.ClientSession() as http:
        async with http.get(sim.make_url("/_sim/requests")) as r:
            assert r.status == 200
            return await r.json()


async def assert_only_control_relayed(proxy: TestServer, sim: TestServer) -> None:
    """Send the control request, then check it is the ONLY thing the upstream ever saw."""
    status, _, _ = await raw_http(proxy, "GET", CONTROL_PATH)
    assert status == 404  # the simulator's own 404, relayed
    log = await sim_log(sim)
    assert [(r["method"], r["raw_path"]) for r in log] == [("GET", CONTROL_PATH)]
    for record in log:
        assert "admin" not in unquote(unquote(record["raw_path"])).lower()
        assert TOKEN not in json.dumps(record["headers"])


def assert_envelope(body: bytes, status: int, code: str) -> dict[str, Any]:
    envelope = json.loads(body)
    assert envelope["status_code"] == status
    assert envelope["is_bifrost_error"] is False
    assert envelope["event_id"] == envelope["error"]["event_id"]
    assert envelope["error"]["code"] == code
    assert envelope["error"]["message"]
    assert envelope["extra_fields"]["request_type"] == "admin"
    return envelope


@pytest.fixture
async def admin_proxy(start_proxy: ServerFactory, sim: TestServer) -> TestServer:
    return await start_proxy(sim, admin_token=TOKEN)


# (method, request-target, status with the right token, Allow header on a 405)
STRAY_ADMIN_REQUESTS = [
    ("GET", "/admin/cache/stats/", 404, None),
    ("POST", "/admin/cache/stats", 405, "GET, HEAD"),
    ("GET", "/admin/cache/purge", 405, "POST"),
    ("DELETE", "/admin/cache/purge", 405, "POST"),
    ("GET", "/admin//cache/stats", 404, None),
    ("GET", "/admin/cache/entries/", 404, None),
    ("GET", "/admin/cache/entries/ce_123", 405, "DELETE"),
    ("PUT", "/admin/cache/entries", 405, "GET, HEAD"),
    ("GET", "/admin", 404, None),
    ("GET", "/admin/", 404, None),
    ("GET", "/admin/unknown?x=1", 404, None),
    ("GET", "/admin%2Fcache%2Fstats", 404, None),
    ("GET", "/admin%2fcache/stats", 404, None),
    ("GET", "/admin/cache/stats%2F", 404, None),
    ("POST", "/%61dmin/cache/stats", 405, "GET, HEAD"),
    ("GET", "/%2561dmin/cache/stats", 404, None),
    ("GET", "//admin/cache/stats", 404, None),
    ("GET", "/v1/../admin/cache/stats", 404, None),
    ("GET", "/v1/%2e%2e/admin/cache/stats", 404, None),
    ("GET", "/admin/./cache/stats", 404, None),
    ("GET", "/ADMIN/cache/stats", 404, None),
    ("GET", "/admin;x/cache/stats", 404, None),
    ("GET", "/admin\\cache\\stats", 404, None),
    ("OPTIONS", "/admin/cache/stats", 405, "GET, HEAD"),
    ("POST", "http://upstream.example/admin/cache/stats", 405, "GET, HEAD"),  # absolute-form
    ("GET", "http://upstream.example//admin/x", 404, None),
]


@pytest.mark.parametrize(("method", "target", "status", "allow"), STRAY_ADMIN_REQUESTS)
async def test_stray_admin_requests_are_answered_by_the_proxy(
    admin_proxy: TestServer,
    sim: TestServer,
    method: str,
    target: str,
    status: int,
    allow: str | None,
) -> None:
    # Without the token: the same 401 as the real routes, before any route is revealed.
    got, headers, body = await raw_http(admin_proxy, method, target)
    assert got == 401
    assert headers["www-authenticate"] == "Bearer"
    assert "allow" not in headers
    assert_envelope(body, 401, "invalid_admin_token")

    got, headers, body = await raw_http(
        admin_proxy, method, target, {"Authorization": AUTH, "Content-Type": "application/json"}
    )
    assert got == status
    envelope = assert_envelope(body, status, "not_found" if status == 404 else "method_not_allowed")
    assert envelope["error"]["type"] == "invalid_request_error"
    assert headers.get("allow") == allow
    assert headers["content-type"].startswith("application/json")
    assert headers["x-request-id"]
    await assert_only_control_relayed(admin_proxy, sim)


async def test_percent_encoded_admin_path_reaches_the_admin_api(
    admin_proxy: TestServer, sim: TestServer
) -> None:
    # aiohttp's router decodes %61 before matching, so this is the real stats route.
    status, _, body = await raw_http(
        admin_proxy, "GET", "/%61dmin/cache/stats", {"Authorization": AUTH}
    )
    assert status == 200
    assert json.loads(body)["entries"] == 0
    await assert_only_control_relayed(admin_proxy, sim)


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/admin/cache/stats"),
        ("GET", "/admin/cache/entries"),
        ("POST", "/admin/cache/purge"),
        ("DELETE", "/admin/cache/entries/ce_1"),
        ("GET", "/admin/cache/stats/"),
        ("POST", "/admin/cache/stats"),
        ("GET", "/admin//cache/stats"),
        ("GET", "/admin%2Fcache/stats"),
        ("GET", "/ADMIN"),
    ],
)
async def test_disabled_admin_api_is_404_and_never_relayed(
    proxy: TestServer, sim: TestServer, method: str, target: str
) -> None:
    # No admin_token configured: even a request carrying a bearer token stays here.
    status, headers, body = await raw_http(proxy, method, target, {"Authorization": AUTH})
    assert status == 404
    assert "allow" not in headers
    envelope = assert_envelope(body, 404, "not_found")
    assert envelope["error"]["message"] == "admin API disabled"
    await assert_only_control_relayed(proxy, sim)


async def test_paths_merely_resembling_admin_are_still_relayed(
    admin_proxy: TestServer, sim: TestServer
) -> None:
    for target in ("/administrator/x", "/v1/admin-notes", "/v1/videos/admin"):
        await raw_http(admin_proxy, "GET", target)
    log = await sim_log(sim)
    assert [r["raw_path"] for r in log] == [
        "/administrator/x",
        "/v1/admin-notes",
        "/v1/videos/admin",
    ]


@pytest.mark.parametrize(
    "authorization",
    [AUTH, f"bearer {TOKEN}", f"BEARER {TOKEN}", f"BeArEr {TOKEN}", f"Bearer   {TOKEN}"],
)
async def test_bearer_scheme_is_case_insensitive(
    admin_proxy: TestServer, sim: TestServer, authorization: str
) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": authorization}
        async with http.get(admin_proxy.make_url("/admin/cache/stats"), headers=headers) as r:
            assert r.status == 200
            assert (await r.json())["entries"] == 0
        async with http.post(
            admin_proxy.make_url("/admin/cache/purge"), headers=headers, json={"all": True}
        ) as r:
            assert r.status == 200
            assert await r.json() == {"purged": 0}
    assert await sim_log(sim) == []


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer wrong-token",
        b"bearer wrong-token",
        ("Bearer " + TOKEN + "x").encode(),
        ("Bearer " + TOKEN[:-1]).encode(),
        ("Basic " + TOKEN).encode(),
        TOKEN.encode(),
        b"Bearer",
        b"Bearer ",
        ("Bearer" + TOKEN).encode(),
        ("Bearer " + TOKEN + " extra").encode(),
        b"Bearer \xff\xfe" + TOKEN.encode(),  # not UTF-8: still a 401, not a 500
    ],
)
async def test_wrong_admin_credentials_are_401(
    admin_proxy: TestServer, sim: TestServer, authorization: bytes
) -> None:
    status, headers, body = await raw_http(
        admin_proxy, "GET", "/admin/cache/stats", {"Authorization": authorization}
    )
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert_envelope(body, 401, "invalid_admin_token")
    assert await sim_log(sim) == []


async def test_admin_errors_use_the_envelope(admin_proxy: TestServer) -> None:
    admin = {"Authorization": AUTH}
    status, _, body = await raw_http(admin_proxy, "DELETE", "/admin/cache/entries/ce_x", admin)
    assert status == 404
    assert assert_envelope(body, 404, "not_found")["error"]["param"] == "id"
    # Out of range, or not ASCII digits (int() would read a fullwidth "２" as 2).
    for limit in ("0", "1001", "%EF%BC%92", "1_0", "+5"):
        path = f"/admin/cache/entries?limit={limit}"
        status, _, body = await raw_http(admin_proxy, "GET", path, admin)
        assert status == 400, limit
        assert assert_envelope(body, 400, "invalid_value")["error"]["param"] == "limit"
    status, _, body = await raw_http(admin_proxy, "POST", "/admin/cache/purge", admin, b"{nope")
    assert status == 400
    assert assert_envelope(body, 400, "invalid_json")["error"]["param"] == "body"
    # Bytes that are not UTF-8 used to be a plain-text 500.
    status, _, body = await raw_http(admin_proxy, "POST", "/admin/cache/purge", admin, b"\xff\xfe")
    assert status == 400
    assert assert_envelope(body, 400, "invalid_json")["error"]["param"] == "body"
    # A scope that is not a string used to purge nothing with a 200.
    for payload, param in (
        (b'{"scope": 5}', "scope"),
        (b'{"namespace": ["a"]}', "namespace"),
        (b'{"scope": "", "namespace": "ns1"}', "scope"),  # purged nothing, with a 200
    ):
        status, _, body = await raw_http(admin_proxy, "POST", "/admin/cache/purge", admin, payload)
        assert status == 400
        assert assert_envelope(body, 400, "invalid_type")["error"]["param"] == param


# --- Bifrost cache control spellings, end to end -------------------------------------------


async def create_headers(c: openai.AsyncOpenAI, prompt: str, **headers: str) -> Any:
    raw = await c.videos.with_raw_response.create(prompt=prompt, extra_headers=headers)
    return raw.headers


async def settle(proxy: TestServer) -> None:
    """Wait until the watcher has published (or dropped) everything it follows."""
    watcher = proxy.app[STATE].watcher
    assert watcher is not None
    assert await watcher.wait_idle(20.0)


def upstream_creates(log: list[dict[str, Any]]) -> int:
    return len([r for r in log if r["method"] == "POST" and r["raw_path"] == "/v1/videos"])


async def test_bifrost_no_store_is_honoured(admin_proxy: TestServer, sim: TestServer) -> None:
    alice = client(admin_proxy)
    # The normal path first: an identical repeat is a HIT once the watcher published.
    assert (await create_headers(alice, "a lighthouse in fog"))["x-cache"] == "MISS"
    await settle(admin_proxy)
    assert (await create_headers(alice, "a lighthouse in fog"))["x-cache"] == "HIT"

    # Bifrost's no-store: the result is not kept, so the identical repeat is a MISS.
    first = await create_headers(alice, "a kite at dusk", **{"x-bf-cache-no-store": "true"})
    assert first["x-cache"] == "MISS"
    await settle(admin_proxy)
    assert (await create_headers(alice, "a kite at dusk"))["x-cache"] == "MISS"
    # That repeat had no no-store, so it was stored: the next one hits.
    await settle(admin_proxy)
    assert (await create_headers(alice, "a kite at dusk"))["x-cache"] == "HIT"

    # "false" has no effect: stored as usual.
    await create_headers(alice, "a tram in rain", **{"X-BF-Cache-No-Store": "false"})
    await settle(admin_proxy)
    assert (await create_headers(alice, "a tram in rain"))["x-cache"] == "HIT"
    assert upstream_creates(await sim_log(sim)) == 4
    await alice.close()


async def test_bifrost_duration_ttl_sets_the_entry_lifetime(
    admin_proxy: TestServer, sim: TestServer
) -> None:
    alice = client(admin_proxy)
    await create_headers(alice, "a glacier calving", **{"x-bf-cache-ttl": "1h30m"})
    await create_headers(alice, "a desert at noon", **{"x-cache-ttl": "90s"})
    await settle(admin_proxy)
    async with aiohttp.ClientSession() as http:
        async with http.get(
            admin_proxy.make_url("/admin/cache/entries"), headers={"Authorization": AUTH}
        ) as r:
            listed = {e["prompt"]: e for e in (await r.json())["data"]}
    glacier, desert = listed["a glacier calving"], listed["a desert at noon"]
    assert glacier["expires_at"] - glacier["created_at"] == pytest.approx(5400, abs=1)
    assert desert["expires_at"] - desert["created_at"] == pytest.approx(90, abs=1)
    await alice.close()
