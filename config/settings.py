"""Typed settings for the proxy.

Precedence, lowest first: defaults < YAML config file < ``VIDEOCACHE_*`` environment
variables < command-line flags. Validation is pydantic's; any failure becomes one
:class:`SettingsError` whose message names the offending setting, so the CLI can print a
single line instead of a traceback.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

ENV_PREFIX = "VIDEOCACHE_"
# Environment variables with this prefix that are not settings themselves.
_ENV_NOT_SETTINGS = frozenset({"VIDEOCACHE_CONFIG"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")  # RFC 9110 token, lower-cased
# What Kubernetes (and Docker links) put in every pod's environment for a Service named
# videocache: VIDEOCACHE_SERVICE_HOST, VIDEOCACHE_PORT=tcp://10.0.0.11:8080, ... Not
# settings, and the natural name for the Service: refusing them would stop every pod.
_SERVICE_LINK_NAME = re.compile(
    r"VIDEOCACHE_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)"
)
_SERVICE_LINK_VALUE = re.compile(r"(tcp|udp|sctp)://", re.IGNORECASE)


# Ten years: far beyond any useful cache lifetime (x-cache-ttl is capped there too), and a
# bound that keeps expiry times within what clocks and datetimes can hold.
MAX_LIFETIME = 10 * 365 * 24 * 3600


class SettingsError(ValueError):
    """A setting is invalid; ``str(err)`` is one line naming it."""


def _default_prices() -> dict[str, float]:
    # Dollars per second of video. Keys are "model" or "model@size"; the sized key wins.
    return {
        "sora-2": 0.10,
        "sora-2-pro": 0.30,
        "sora-2-pro@1024x1792": 0.50,
        "sora-2-pro@1792x1024": 0.50,
    }


class Settings(BaseModel):
    """Everything the proxy can be told. Field names are the YAML keys; the environment
    spells them ``VIDEOCACHE_<UPPER_NAME>`` and flags ``--dashed-name``."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # Never empty: an empty host makes the server listen on every interface.
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=1, le=65535)
    # None: `videocache serve` starts the bundled simulator and proxies to it.
    upstream: str | None = None
    upstream_flavor: Literal["openai", "bifrost"] = "openai"
    upstream_provider: str = "openai"
    public_url: str | None = None
    data_dir: Path = Path("data")
    max_body_bytes: int = Field(100 * 1024 * 1024, ge=1024)
    # Upstream answers the proxy reads into memory (JSON, error bodies to relay): a Video or
    # a list page is a few KB, so this only stops a broken or hostile upstream. Content
    # downloads stream and are not bounded by it.
    max_upstream_json_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    connect_timeout: float = Field(10.0, gt=0, allow_inf_nan=False)
    read_timeout: float = Field(120.0, gt=0, allow_inf_nan=False)
    content_timeout: float = Field(900.0, gt=0, allow_inf_nan=False)
    simulator_port: int = Field(8081, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    # Cache (see README "Cache").
    cache_enabled: bool = True
    # 0.80 comes from bench/eval_cache.py: with the near-miss guard, recall plateaus at
    # 0.70-0.80 while no hard negative passes (bench/eval_cache.py, 583 pairs).
    cache_threshold: float = Field(0.80, ge=0.0, le=1.0, allow_inf_nan=False)
    cache_ttl: int = Field(7 * 24 * 3600, ge=1, le=MAX_LIFETIME)
    # How long a finished job's record (a minted id, an upstream id's creator) outlives the
    # job, or its cached video if that lives longer: without a bound the job store grows
    # with every request ever made.
    cache_job_retention: int = Field(30 * 24 * 3600, ge=3600, le=MAX_LIFETIME)
    cache_max_bytes: int = Field(20 * 1024**3, ge=1024 * 1024)
    cache_scope: Literal["credential", "shared"] = "credential"
    cache_shared_name: str = "default"
    # Headers that carry a client's credential: the cache scope is an HMAC of them. A
    # request with none of them is relayed uncached (x-cache: BYPASS) unless
    # cache_anonymous is set: otherwise every such caller would share one scope.
    cache_credential_headers: list[str] = Field(
        default_factory=lambda: [
            "authorization",
            "api-key",
            "x-api-key",
            "x-bf-vk",
            "x-litellm-api-key",
        ],
        min_length=1,
    )
    cache_anonymous: bool = False
    cache_variants: list[Literal["video", "thumbnail", "spritesheet"]] = Field(
        default_factory=lambda: ["video", "thumbnail", "spritesheet"]
    )
    cache_semantic: bool = True
    embedding_model: str | None = None
    # 16: where a batch's cost per prompt stops falling on 2 cores (bench/cache_bench.py);
    # a full batch starts at once, a smaller one waits up to the window for company.
    embedding_max_batch: int = Field(16, ge=1, le=256)
    embedding_batch_wait_ms: float = Field(2.0, ge=0, le=1000, allow_inf_nan=False)
    watch_interval: float = Field(2.0, gt=0, le=3600, allow_inf_nan=False)
    prices: dict[str, float] = Field(default_factory=_default_prices)
    admin_token: str | None = None

    # Observability.
    metrics_enabled: bool = True
    access_log: bool = True
    metrics_port: int | None = Field(None, ge=1, le=65535)
    capture_raw: bool = False
    capture_max_bytes: int = Field(16 * 1024, ge=0)

    @field_validator("cache_credential_headers")
    @classmethod
    def _header_names(cls, value: list[str]) -> list[str]:
        names = [name.strip().lower() for name in value]
        bad = [name for name in names if not name or not _TOKEN.fullmatch(name)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an HTTP header name")
        return list(dict.fromkeys(names))

    @field_validator("cache_variants")
    @classmethod
    def _video_is_cached(cls, value: list[str]) -> list[str]:
        # A hit promises the video for the entry's lifetime; the upstream's copy expires in
        # about an hour, so the video itself is always downloaded.
        if "video" not in value:
            raise ValueError("must include video (thumbnail and spritesheet are optional)")
        return list(dict.fromkeys(value))

    @field_validator("upstream", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} must not carry a query or fragment")
        if any(c.isspace() for c in value):
            raise ValueError(f"{value!r} contains whitespace")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number 0-65535
        except ValueError:
            raise ValueError(f"{value!r} has an invalid port") from None
        return value.rstrip("/")

    @field_validator("prices")
    @classmethod
    def _prices_not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [key for key, price in value.items() if not (math.isfinite(price) and price >= 0)]
        if bad:
            raise ValueError(f"the price of {bad[0]!r} must be a number >= 0")
        return value

    @field_validator("embedding_model")
    @classmethod
    def _model_directory(cls, value: str | None) -> str | None:
        # Checked here so a typo stops start-up with one line, not after the model import.
        if value is not None and not Path(value).is_dir():
            raise ValueError(f"{value!r} is not a directory")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_usable(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{str(value)!r} exists and is not a directory")
        return value

    @field_validator("metrics_port")
    @classmethod
    def _own_metrics_port(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value == info.data.get("port"):
            raise ValueError(f"must differ from port ({value})")
        if value is not None and info.data.get("metrics_enabled") is False:
            raise ValueError("serves /metrics, which metrics_enabled: false switches off")
        return value


FIELDS = frozenset(Settings.model_fields)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"config file {str(path)!r} is unreadable: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise SettingsError(f"config file {str(path)!r} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {str(path)!r} must hold a mapping of settings")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r} in config file {str(path)!r}")
    return data


def _read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_SETTINGS:
            continue
        if _SERVICE_LINK_NAME.fullmatch(name) or (
            name == "VIDEOCACHE_PORT" and _SERVICE_LINK_VALUE.match(value)
        ):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in FIELDS:
            raise SettingsError(f"unknown setting in environment variable {name}")
        # Lists and mappings come as YAML/JSON text (JSON is YAML); scalars stay strings
        # so pydantic coerces them with the field's own rules.
        annotation = str(Settings.model_fields[key].annotation)
        if "list" in annotation or "dict" in annotation:
            try:
                found[key] = yaml.safe_load(value)
            except yaml.YAMLError:
                raise SettingsError(
                    f"invalid setting {key}: environment variable {name} is not JSON or YAML"
                ) from None
        else:
            found[key] = value
    return found


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from all layers. ``overrides`` are the CLI flags that were given."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("VIDEOCACHE_CONFIG"):
        config_file = Path(environ["VIDEOCACHE_CONFIG"])
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged.update(_read_yaml(config_file))
    merged.update(_read_env(environ))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise SettingsError(f"invalid setting {name}: {first['msg']}") from None
