"""The Docker deployment, checked without Docker (it cannot run on the CI machines).

The compose file's commands and environment are ones videocache accepts, its mounts and the
Prometheus scrape target point at things that exist, the Dockerfile copies every package,
and the package `pip install .` builds in the image holds every module and, installed alone
(not imported from the checkout), runs the compose stack's simulator and proxy: a video
created through the proxy is a cache hit the second time.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
import yaml

from proxy.cli import build_parser, serve_settings
from tests.conftest import free_port, until_ok

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CACHE_FILES = shutil.ignore_patterns("__pycache__", "*.pyc")


def packages() -> list[str]:
    """Top-level packages `pip install .` takes, per pyproject's find patterns."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        d.name
        for d in ROOT.iterdir()
        if (d / "__init__.py").is_file() and any(fnmatch.fnmatch(d.name, p) for p in patterns)
    )


def modules() -> list[str]:
    """Every module file of those packages, as a path inside a wheel."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for name in packages()
        for p in (ROOT / name).rglob("*.py")
        if "__pycache__" not in p.parts
    )


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def bind_mounts(service: str) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (`./x:/y[:ro]`)."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = ROOT / source
    return mounts


def host_path(service: str, container_path: str) -> Path | None:
    """Where a path inside a service's container comes from in this repository."""
    wanted = PurePosixPath(container_path)
    for target, source in bind_mounts(service).items():
        if wanted == PurePosixPath(target) or PurePosixPath(target) in wanted.parents:
            return source / wanted.relative_to(target)
    return None


def test_dockerfile_copies_every_package_and_pins_the_makefiles_torch() -> None:
    copied = set(re.findall(r"^COPY (\S+) \./\1$", DOCKERFILE, re.MULTILINE))
    assert packages() == ["cache", "config", "metrics", "proxy", "simulator"]
    assert set(packages()) <= copied
    makefile = (ROOT / "Makefile").read_text()
    [pin] = set(re.findall(r"torch==[\d.]+", makefile))
    assert f"pip install {pin} --index-url https://download.pytorch.org/whl/cpu" in DOCKERFILE
    assert 'ENTRYPOINT ["videocache"]' in DOCKERFILE  # the [project.scripts] name
    assert 'VOLUME ["/data"]' in DOCKERFILE


def test_compose_commands_parse_and_the_proxys_settings_load() -> None:
    parser = build_parser()
    sim = parser.parse_args(SERVICES["simulator"]["command"])
    assert sim.command == "simulate"
    proxy_args = parser.parse_args(SERVICES["proxy"]["command"])
    env = {k: str(v) for k, v in SERVICES["proxy"]["environment"].items()}
    settings = serve_settings(proxy_args, environ=env)
    assert settings.host == "0.0.0.0"  # reachable from the other containers
    assert str(settings.data_dir) == "/data"
    # The data dir is the named volume, so entries survive `docker compose up --build`.
    assert f"videocache-data:{settings.data_dir}" in SERVICES["proxy"]["volumes"]
    assert "videocache-data" in COMPOSE["volumes"]
    # The upstream is the simulator service, on the port it listens on.
    upstream = urlsplit(str(settings.upstream))
    assert upstream.hostname == "simulator"
    assert upstream.port == int(flag(SERVICES["simulator"]["command"], "--port")) == sim.port


def test_prometheus_scrapes_the_proxy_and_finds_its_rules() -> None:
    command = SERVICES["prometheus"]["command"]
    config_at = next(a.split("=", 1)[1] for a in command if a.startswith("--config.file="))
    config_file = host_path("prometheus", config_at)
    assert config_file is not None and config_file.is_file()
    config = yaml.safe_load(config_file.read_text())
    for rules in config["rule_files"]:
        found = host_path("prometheus", str(PurePosixPath(config_at).parent / rules))
        assert found is not None and found.is_file(), rules
    [job] = config["scrape_configs"]
    [[target]] = [c["targets"] for c in job["static_configs"]]
    host, port = target.split(":")
    proxy = SERVICES["proxy"]
    assert host in proxy["networks"]["default"]["aliases"]
    assert int(port) == int(flag(proxy["command"], "--port"))
    assert job["metrics_path"] == "/metrics"


def test_grafana_mounts_its_provisioning_dashboards_and_home() -> None:
    grafana = SERVICES["grafana"]
    provisioning = host_path("grafana", "/etc/grafana/provisioning")
    assert provisioning is not None and (provisioning / "datasources").is_dir()
    dashboards = yaml.safe_load((provisioning / "dashboards" / "videocache.yml").read_text())
    [provider] = dashboards["providers"]
    folder = host_path("grafana", provider["options"]["path"])
    assert folder is not None and sorted(folder.glob("*.json"))
    home = host_path("grafana", grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home is not None and home.is_file()
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    url = urlsplit(source["datasources"][0]["url"])
    assert url.hostname in SERVICES
    assert f"{url.port}:{url.port}" in SERVICES[url.hostname]["ports"]


def localised(command: list[str], ports: dict[str, int]) -> list[str]:
    """A compose command for this machine: loopback, free ports, services by port."""
    out = list(command)
    out[out.index("--host") + 1] = "127.0.0.1"
    for i, arg in enumerate(out[:-1]):
        if arg == "--upstream":
            url = urlsplit(out[i + 1])
            out[i + 1] = f"http://127.0.0.1:{ports[str(url.hostname)]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the image's `pip install .` builds, unpacked: a site directory holding only
    videocache. Built from a copy of exactly what the Dockerfile copies, as in the image
    (and so that the build writes nothing into the checkout)."""
    out = tmp_path_factory.mktemp("wheel")
    context = out / "app"
    for source in re.findall(r"^COPY (\S+) \S+$", DOCKERFILE, re.MULTILINE):
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, context / source, ignore=CACHE_FILES)
        else:
            context.mkdir(exist_ok=True)
            shutil.copy(ROOT / source, context / source)
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "-w", str(out), str(context)], check=True, timeout=300)
    [wheel] = out.glob("videocache-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        missing = set(modules()) - set(zf.namelist())
        assert not missing, f"modules the image would lack: {sorted(missing)}"
        zf.extractall(site)
    return site


def test_the_package_holds_every_module(installed: Path) -> None:
    assert (installed / "cache" / "guard" / "sections.py").is_file()
    assert len(modules()) > 40


async def test_the_installed_package_runs_the_compose_services(
    installed: Path, tmp_path: Path
) -> None:
    # Run from an empty directory with only the unpacked wheel on the path, so nothing is
    # imported from the checkout (the editable install's finder comes after PYTHONPATH).
    env = {
        **os.environ,
        "PYTHONPATH": str(installed),
        **{k: str(v) for k, v in SERVICES["proxy"]["environment"].items()},
        "VIDEOCACHE_DATA_DIR": str(tmp_path / "data"),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import proxy, cache.guard; print(proxy.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(installed / "proxy" / "__init__.py")

    ports = {"simulator": free_port(), "proxy": free_port()}
    procs = []
    try:
        for name in ("simulator", "proxy"):
            command = localised(SERVICES[name]["command"], ports)
            command[command.index("--port") + 1] = str(ports[name])
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "proxy.cli", *command],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        base = f"http://127.0.0.1:{ports['proxy']}"
        # The proxy loads the embedding model first.
        await until_ok(f"{base}/healthz", procs, timeout=120)
        client = openai.AsyncOpenAI(api_key="sk-compose", base_url=f"{base}/v1", max_retries=0)
        first = await client.videos.create_and_poll(prompt="a paper boat on a puddle")
        assert first.status == "completed"
        deadline = time.monotonic() + 60
        while True:  # the entry is published once the proxy has downloaded the video
            raw = await client.videos.with_raw_response.create(prompt="a paper boat on a puddle")
            if raw.headers["x-cache"] == "HIT" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert raw.headers["x-cache"] == "HIT"
        assert (tmp_path / "data").is_dir()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
