"""deploy/compose.yaml, read as YAML (Docker is not run here): the three services, the mounted
files exist, the coordinator's command is one `gbasched serve` accepts and starts (loopback
gRPC without TLS, metrics on every address), and Prometheus scrapes it where it serves metrics
and finds its rules where the configuration says."""

from __future__ import annotations

import posixpath
from typing import Any

import yaml

from scheduler.cli.main import build_parser
from scheduler.cli.serve import is_loopback_host
from tests.deploy_files import DEPLOY, ROOT

COMPOSE = DEPLOY / "compose.yaml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's bind mounts (relative sources), source: target."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[source] = target
    return mounts


def test_the_three_services_and_their_mounted_files() -> None:
    spec = compose()
    assert set(spec["services"]) == {"coordinator", "prometheus", "grafana"}
    named = set(spec["volumes"])
    for name, service in spec["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
            else:
                assert source in named, f"{name}: {source}"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    build = spec["services"]["coordinator"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_the_coordinator_command_is_one_serve_accepts_and_starts() -> None:
    coordinator = compose()["services"]["coordinator"]
    command = coordinator["command"]
    assert command[:2] == ["gbasched", "serve"]
    args = build_parser().parse_args(command[1:])
    # serve refuses a non-loopback gRPC address without TLS, and the demo tokens on one.
    assert args.tls_cert is None and is_loopback_host(args.host)
    assert args.metrics_host == "0.0.0.0"
    assert args.metrics_port == 9464
    assert args.executor in ("fake", "ray")
    # The image's working directory is the checkout copied into it: the files are there.
    assert coordinator["working_dir"] == "/opt/gba-scheduler"
    assert "WORKDIR /opt/gba-scheduler" in (DEPLOY / "Dockerfile").read_text()
    assert (ROOT / args.config).is_file() and (ROOT / args.programs).is_file()
    # The database lives on the named volume, a directory the image makes for its user.
    [data] = [v for v in coordinator["volumes"] if v.startswith("coordinator-data:")]
    assert posixpath.dirname(str(args.db)) == data.split(":")[1]
    assert f"RUN mkdir -p {data.split(':')[1]}" in (DEPLOY / "Dockerfile").read_text()
    assert f"127.0.0.1:{args.metrics_port}:{args.metrics_port}" in coordinator["ports"]


def test_prometheus_scrapes_the_coordinator_and_reads_the_rules_it_is_given() -> None:
    services = compose()["services"]
    args = build_parser().parse_args(services["coordinator"]["command"][1:])
    prometheus = services["prometheus"]
    mounts = bind_mounts(prometheus)

    config_path = mounts["./prometheus/prometheus.yml"]
    assert f"--config.file={config_path}" in prometheus["command"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "gba-scheduler"  # what the CoordinatorDown alert watches
    assert job["scrape_interval"] == "15s"
    [targets] = job["static_configs"]
    assert targets["targets"] == [f"coordinator:{args.metrics_port}"]

    # rule_files are relative to the configuration, in the container as in the checkout.
    [pattern] = config["rule_files"]
    rules_dir = posixpath.dirname(pattern)
    assert mounts[f"./prometheus/{rules_dir}"] == posixpath.join(
        posixpath.dirname(config_path), rules_dir
    )
    assert list((DEPLOY / "prometheus").glob(pattern))
