"""Settings layering and the one-line errors that stop start-up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "videocache.yaml"
    cfg.write_text("port: 9001\nhost: 127.0.0.2\nupstream: http://file:1\ncache_threshold: 0.8\n")
    env = {"VIDEOCACHE_PORT": "9002", "VIDEOCACHE_UPSTREAM": "http://env:2"}
    settings = load_settings(cfg, {"port": 9003}, environ=env)
    assert settings.port == 9003  # flag beats env
    assert settings.upstream == "http://env:2"  # env beats file
    assert settings.host == "127.0.0.2"  # file beats default
    assert settings.cache_threshold == 0.8
    assert settings.read_timeout == 120.0  # default
    assert load_settings(None, {}, environ={"VIDEOCACHE_CONFIG": str(cfg)}).port == 9001


def test_env_lists_and_maps(tmp_path: Path) -> None:
    env = {"VIDEOCACHE_CACHE_VARIANTS": '["video"]', "VIDEOCACHE_PRICES": '{"sora-2": 0.2}'}
    settings = load_settings(None, {}, environ=env)
    assert settings.cache_variants == ["video"]
    assert settings.prices == {"sora-2": 0.2}
    env = {"VIDEOCACHE_CACHE_CREDENTIAL_HEADERS": '["Authorization", "X-Tenant-Key"]'}
    settings = load_settings(None, {}, environ=env)
    assert settings.cache_credential_headers == ["authorization", "x-tenant-key"]


def test_a_kubernetes_service_named_videocache_is_not_read_as_settings() -> None:
    # What a pod gets for a Service "videocache" with a port named http (enableServiceLinks
    # defaults to true): none of it is a setting, and none of it stops start-up.
    env = {
        "VIDEOCACHE_SERVICE_HOST": "10.0.0.11",
        "VIDEOCACHE_SERVICE_PORT": "8080",
        "VIDEOCACHE_SERVICE_PORT_HTTP": "8080",
        "VIDEOCACHE_PORT": "tcp://10.0.0.11:8080",
        "VIDEOCACHE_PORT_8080_TCP": "tcp://10.0.0.11:8080",
        "VIDEOCACHE_PORT_8080_TCP_PROTO": "tcp",
        "VIDEOCACHE_PORT_8080_TCP_PORT": "8080",
        "VIDEOCACHE_PORT_8080_TCP_ADDR": "10.0.0.11",
        "VIDEOCACHE_CACHE_THRESHOLD": "0.9",
    }
    settings = load_settings(None, {}, environ=env)
    assert settings.port == load_settings(None, {}, environ={}).port  # the default
    assert settings.cache_threshold == 0.9  # real settings beside them still count
    # The port itself can still be set by the environment.
    assert load_settings(None, {}, environ={**env, "VIDEOCACHE_PORT": "9000"}).port == 9000


@pytest.mark.parametrize(
    ("layers", "needle"),
    [
        ({"overrides": {"port": 70000}}, "invalid setting port"),
        ({"overrides": {"upstream": "ftp://x"}}, "invalid setting upstream"),
        ({"environ": {"VIDEOCACHE_PORT": "eighty"}}, "invalid setting port"),
        ({"environ": {"VIDEOCACHE_NOPE": "1"}}, "VIDEOCACHE_NOPE"),
        ({"environ": {"VIDEOCACHE_UPSTREAM_FLAVOR": "litellm"}}, "upstream_flavor"),
        ({"overrides": {"embedding_max_batch": 0}}, "invalid setting embedding_max_batch"),
        ({"environ": {"VIDEOCACHE_EMBEDDING_BATCH_WAIT_MS": "-1"}}, "embedding_batch_wait_ms"),
        ({"overrides": {"cache_credential_headers": ["x key"]}}, "cache_credential_headers"),
        ({"overrides": {"cache_credential_headers": []}}, "cache_credential_headers"),
        ({"overrides": {"cache_variants": ["thumbnail"]}}, "must include video"),
        ({"environ": {"VIDEOCACHE_CACHE_JOB_RETENTION": "60"}}, "cache_job_retention"),
        ({"environ": {"VIDEOCACHE_MAX_UPSTREAM_JSON_BYTES": "512"}}, "max_upstream_json_bytes"),
        # Found by a user review: each of these crashed with a traceback, or was accepted.
        ({"overrides": {"upstream": "http://127.0.0.1:99999"}}, "invalid port"),
        ({"overrides": {"upstream": "http://127.0.0.1:abc"}}, "invalid port"),
        ({"overrides": {"upstream": "http://127.0.0.1:1/ openai"}}, "whitespace"),
        ({"environ": {"VIDEOCACHE_PRICES": "{bad"}}, "VIDEOCACHE_PRICES is not JSON"),
        ({"overrides": {"prices": {"sora-2": -1}}}, "must be a number >= 0"),
        ({"environ": {"VIDEOCACHE_PRICES": '{"sora-2": .nan}'}}, "must be a number >= 0"),
        ({"environ": {"VIDEOCACHE_HOST": ""}}, "invalid setting host"),
        ({"overrides": {"embedding_model": "/nonexistent/model"}}, "embedding_model"),
        ({"overrides": {"metrics_port": 8080, "port": 8080}}, "metrics_port"),
        ({"overrides": {"metrics_port": 9090, "metrics_enabled": False}}, "metrics_port"),
        # Found by an operations review: accepted, then every hit failed, or the watcher
        # never polled.
        ({"environ": {"VIDEOCACHE_CACHE_TTL": "1" + "0" * 20}}, "invalid setting cache_ttl"),
        ({"environ": {"VIDEOCACHE_WATCH_INTERVAL": "inf"}}, "invalid setting watch_interval"),
        ({"environ": {"VIDEOCACHE_READ_TIMEOUT": "inf"}}, "invalid setting read_timeout"),
        ({"environ": {"VIDEOCACHE_CONTENT_TIMEOUT": "nan"}}, "invalid setting content_timeout"),
        ({"environ": {"VIDEOCACHE_CACHE_THRESHOLD": "nan"}}, "invalid setting cache_threshold"),
    ],
)
def test_invalid_settings_name_the_setting(layers: dict, needle: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, layers.get("overrides", {}), environ=layers.get("environ", {}))
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unreadable"):
        load_settings(tmp_path / "missing.yaml", {}, environ={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("portt: 1\n")
    with pytest.raises(SettingsError, match="unknown setting 'portt'"):
        load_settings(bad, {}, environ={})
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings(binary, {}, environ={})
    with pytest.raises(SettingsError, match="invalid setting data_dir"):
        load_settings(None, {"data_dir": binary}, environ={})


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "0"], "port"),
        (["--upstream", "not a url"], "upstream"),
        (["--config", "/nonexistent/videocache.yaml"], "unreadable"),
    ],
)
def test_cli_invalid_setting_is_one_line(args: list[str], needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr


def _serve(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "VIDEOCACHE_DATA_DIR": str(tmp_path / "data"), **env}
    environ.setdefault("VIDEOCACHE_CACHE_SEMANTIC", "false")
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )


def test_a_port_in_use_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(["--port", str(port), "--upstream", "http://127.0.0.1:9"], tmp_path)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "videocache: cannot start:" in lines[0], proc.stderr
        assert str(port) in proc.stderr and "Traceback" not in proc.stderr
        # Without an upstream the bundled simulator would have to listen there: rather
        # than proxy to whatever holds the port, start-up stops.
        free = _free_port()
        proc = _serve(["--port", str(free)], tmp_path, VIDEOCACHE_SIMULATOR_PORT=str(port))
        assert proc.returncode != 0
        assert "invalid setting simulator_port" in proc.stderr and "Traceback" not in proc.stderr


def test_a_model_that_will_not_load_stops_start_up(tmp_path: Path) -> None:
    # Used to print a traceback and then hang without listening: a finalizer's log line
    # tried to start the log writer's thread at interpreter exit.
    (tmp_path / "model").mkdir()
    proc = _serve(
        ["--port", str(_free_port()), "--upstream", "http://127.0.0.1:9"],
        tmp_path,
        VIDEOCACHE_CACHE_SEMANTIC="true",
        VIDEOCACHE_EMBEDDING_MODEL=str(tmp_path / "model"),
    )
    assert proc.returncode == 1
    assert "videocache: cannot start:" in proc.stderr and "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_embedding_batch_settings_reach_the_embedder() -> None:
    from proxy.app import own_embedder

    batches: list[tuple[int, float]] = []

    def on_batch(size: int, seconds: float) -> None:
        batches.append((size, seconds))

    env = {"VIDEOCACHE_EMBEDDING_MAX_BATCH": "8", "VIDEOCACHE_EMBEDDING_BATCH_WAIT_MS": "5"}
    embedder = own_embedder(load_settings(None, {}, environ=env), on_batch)
    assert (embedder.max_batch, embedder.max_wait) == (8, 0.005)
    assert embedder.on_batch is on_batch
    assert embedder.model is None  # nothing loaded before start()
    defaults = own_embedder(load_settings(None, {}, environ={}), on_batch)
    assert (defaults.max_batch, defaults.max_wait) == (16, 0.002)


def test_upstream_json_limit_defaults_to_8_mib_and_is_settable() -> None:
    assert load_settings(None, {}, environ={}).max_upstream_json_bytes == 8 * 1024 * 1024
    env = {"VIDEOCACHE_MAX_UPSTREAM_JSON_BYTES": "65536"}
    assert load_settings(None, {}, environ=env).max_upstream_json_bytes == 65536
