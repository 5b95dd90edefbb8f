"""Settings layering and the one-line errors that stop start-up."""

from __future__ import annotations

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
