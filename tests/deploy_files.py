"""The ConfigMaps of deploy/k8s that carry files of deploy/ (the sample pool and programs, the
Prometheus configuration and rules), made from those files, and the metric names of
docs/metrics.md. `python -m tests.deploy_files` rewrites the ConfigMaps after the files change;
tests/unit/test_deploy_k8s.py checks that they are current."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"
NAMESPACE = "gba"

CONFIG_MOUNT = "/etc/gbasched/config"
"""Where deploy/k8s/coordinator.yaml mounts the ConfigMap `gbasched-config`."""

CONFIG_FILES = {
    "pool.toml": DEPLOY / "pools" / "gba-sample.toml",
    "programs.toml": DEPLOY / "programs" / "gba-sample.toml",
}
"""The ConfigMap `gbasched-config`: its keys and the files they hold."""

PROMETHEUS_FILES = {
    "prometheus.yml": PROMETHEUS / "prometheus-k8s.yml",
    "recording.yml": PROMETHEUS / "rules" / "recording.yml",
    "alerts.yml": PROMETHEUS / "rules" / "alerts.yml",
}
"""The ConfigMap `gbasched-prometheus`: its keys and the files they hold. A ConfigMap's keys
cannot hold '/': a volume's `items` put the rules under rules/ (see deploy/k8s/prometheus.yaml)."""

METRICS_DOC = ROOT / "docs" / "metrics.md"
METRIC_IN_TABLE = re.compile(r"^\| `(gba_scheduler_[a-z_]+)` \|", re.MULTILINE)


METRIC_IN_EXPR = re.compile(r"\bgba_scheduler_[a-z0-9_]+")
RECORDED_IN_EXPR = re.compile(r"\bgba_scheduler:[a-z0-9_:]+")
HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")
PROMTOOL_MISSING = (
    "promtool not found: install Debian's prometheus package (apt-get install prometheus)"
)


def documented_metrics() -> set[str]:
    """The metric names of docs/metrics.md's tables (histograms without their _bucket, _sum and
    _count series)."""
    return set(METRIC_IN_TABLE.findall(METRICS_DOC.read_text()))


def metrics_in(expr: str) -> set[str]:
    """The coordinator's metric names a PromQL expression reads, a histogram's series by its own
    name (gba_scheduler_x_seconds_bucket: gba_scheduler_x_seconds)."""
    return {HISTOGRAM_SERIES.sub("", name) for name in METRIC_IN_EXPR.findall(expr)}


def recorded_in(expr: str) -> set[str]:
    """The recording rules' series (gba_scheduler:...) a PromQL expression reads."""
    return set(RECORDED_IN_EXPR.findall(expr))


def deployed_expressions() -> list[str]:
    """Every PromQL expression the deploy files hold: the dashboard's queries and the rules'."""
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "gba-scheduler.json").read_text())
    exprs = [
        target["expr"]
        for panel in board["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs += [rule["expr"] for rule in group["rules"]]
    return exprs


def recording_rules() -> set[str]:
    """The names deploy/prometheus/rules/recording.yml records."""
    groups = yaml.safe_load((PROMETHEUS / "rules" / "recording.yml").read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


def promtool(*args: str) -> str:
    """Run promtool from the checkout's root; fail (never skip) without it, and show its output
    when it does not exit 0."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_MISSING, pytrace=False)
    done = subprocess.run(
        [path, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


class _Literal(str):
    """A string YAML writes as a literal block."""


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def config_map(name: str, files: dict[str, Path], header: str) -> str:
    """A ConfigMap manifest whose data holds `files` under their keys, each a literal block."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "gbasched"},
        },
        "data": {key: _Literal(path.read_text()) for key, path in files.items()},
    }
    body = yaml.dump(
        manifest, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return header + body


def config_yaml() -> str:
    return config_map(
        "gbasched-config",
        CONFIG_FILES,
        "# Made by `python -m tests.deploy_files` from deploy/pools/gba-sample.toml and\n"
        "# deploy/programs/gba-sample.toml (edit those, then rerun it): the pool and the subsidy\n"
        f"# programs the coordinator reads, mounted at {CONFIG_MOUNT} by coordinator.yaml.\n",
    )


def prometheus_yaml() -> str:
    return config_map(
        "gbasched-prometheus",
        PROMETHEUS_FILES,
        "# Made by `python -m tests.deploy_files` from deploy/prometheus/prometheus-k8s.yml and\n"
        "# deploy/prometheus/rules/*.yml (edit those, then rerun it): a Prometheus configuration\n"
        "# scraping the coordinator's Service, with its recording rules and alerts. Mount it so\n"
        "# that the rules land under rules/ beside prometheus.yml:\n"
        "#\n"
        "#   volumes:\n"
        "#   - name: config\n"
        "#     configMap:\n"
        "#       name: gbasched-prometheus\n"
        "#       items:\n"
        "#       - {key: prometheus.yml, path: prometheus.yml}\n"
        "#       - {key: recording.yml, path: rules/recording.yml}\n"
        "#       - {key: alerts.yml, path: rules/alerts.yml}\n"
        "#\n"
        "# and run prometheus --config.file=<mount>/prometheus.yml.\n",
    )


GENERATED = {"config.yaml": config_yaml, "prometheus.yaml": prometheus_yaml}
"""The generated files of deploy/k8s and what makes each."""


def main() -> int:
    for name, make in GENERATED.items():
        (K8S / name).write_text(make())
        print(f"wrote {K8S / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
