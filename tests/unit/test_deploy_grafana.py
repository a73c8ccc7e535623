"""deploy/grafana: the dashboard parses, every panel has a title and queries, its queries are
PromQL promtool accepts and read only metrics docs/metrics.md lists and series the recording
rules make, and the provisioning files point at the compose services and mounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.deploy_files import (
    DEPLOY,
    documented_metrics,
    metrics_in,
    promtool,
    recorded_in,
    recording_rules,
)

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "gba-scheduler.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
GRAFANA_RANGES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    """The panels with queries: every one but the rows that group them."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_every_panel_has_a_title_and_queries_through_the_templated_data_source() -> None:
    board = dashboard()
    assert board["uid"] == "gba-scheduler"
    assert board["schemaVersion"] >= 39
    [variable] = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("DS_PROMETHEUS", "prometheus")
    assert len(panels()) >= 20
    for panel in board["panels"]:
        assert panel["title"], panel
    for panel in panels():
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"] == DATASOURCE, panel["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_the_panels_do_not_overlap_on_the_grid() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_panels_cover_what_operators_watch() -> None:
    text = "\n".join(expressions())
    for wanted in (
        "gba_scheduler:jobs_submitted:rate1m",
        "gba_scheduler:jobs_admitted:rate1m",
        "gba_scheduler:jobs_started:rate1m",
        "gba_scheduler:jobs_finished:rate1m",
        "gba_scheduler_jobs_pending",
        "gba_scheduler_jobs_pending_by_reason",
        "gba_scheduler_admission_wait_seconds_bucket",
        "gba_scheduler:utilisation_by_owner_class:ratio",
        "gba_scheduler:utilisation_by_city:ratio",
        "gba_scheduler:capacity_pflops:fp16",
        "gba_scheduler:allocated_pflops:fp16",
        "gba_scheduler_capacity_target_pflops",
        "gba_scheduler_program_paid",
        "gba_scheduler_program_remaining",
        "gba_scheduler:program_paid:delta1h",
        "gba_scheduler_grpc_requests_total",
        "gba_scheduler_grpc_request_duration_seconds_bucket",
        "gba_scheduler_cycle_duration_seconds_bucket",
    ):
        assert wanted in text, wanted


def test_the_queries_read_only_documented_metrics_and_recorded_series() -> None:
    documented = documented_metrics()
    recorded = recording_rules()
    used: set[str] = set()
    for expr in expressions():
        assert metrics_in(expr) - documented == set(), expr
        assert recorded_in(expr) - recorded == set(), expr
        used |= metrics_in(expr)
    assert len(used) >= 25  # the expressions were read


def test_the_queries_are_promql_promtool_accepts(tmp_path: Path) -> None:
    # promtool parses PromQL in rule files: each query becomes a recording rule, with Grafana's
    # range variables replaced by durations.
    rules = []
    for i, expr in enumerate(expressions()):
        for variable, duration in GRAFANA_RANGES.items():
            expr = expr.replace(variable, duration)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    promtool("check", "rules", str(path))


def test_grafana_provisions_the_compose_prometheus_and_the_mounted_dashboards() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])

    [source] = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    prometheus_port = compose["services"]["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert source["url"] == f"http://prometheus:{prometheus_port}"

    [provider] = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )["providers"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert provider["options"]["path"] == mounts["./grafana/dashboards"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{mounts['./grafana/dashboards']}/{DASHBOARD.name}"
