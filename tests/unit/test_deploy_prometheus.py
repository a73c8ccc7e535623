"""deploy/prometheus: promtool accepts the configurations and the rules, the rules' unit tests
(deploy/prometheus/tests) pass and test every alert both firing and not firing, and the rules
read only metrics docs/metrics.md lists. Without promtool these tests fail: it is Debian's
`prometheus` package (.ci/run installs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.deploy_files import (
    PROMETHEUS,
    ROOT,
    documented_metrics,
    metrics_in,
    promtool,
    recorded_in,
    recording_rules,
)

RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
ALERTS = PROMETHEUS / "rules" / "alerts.yml"


def relative(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def rules_of(path: Path) -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_every_configuration_and_finds_its_rules() -> None:
    for config in ("prometheus.yml", "prometheus-k8s.yml", "prometheus-local.yml"):
        output = promtool("check", "config", f"deploy/prometheus/{config}")
        # rule_files is resolved relative to the configuration: every rule file is found.
        assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output, output


def test_promtool_accepts_the_rules() -> None:
    assert RULE_FILES
    promtool("check", "rules", *relative(RULE_FILES))


def test_the_rules_unit_tests_pass() -> None:
    assert TEST_FILES
    output = promtool("test", "rules", *relative(TEST_FILES))
    assert "FAILED" not in output, output


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = {rule["alert"] for rule in rules_of(ALERTS)}
    assert alerts == {
        "CoordinatorDown",
        "CoordinatorStopped",
        "QueueWaitTooLong",
        "CycleSlow",
        "NodeDown",
        "ProgramBudgetNearlySpent",
    }
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested not firing"


def test_every_recording_rule_is_unit_tested() -> None:
    tested = {
        case["expr"]
        for path in TEST_FILES
        for group in yaml.safe_load(path.read_text())["tests"]
        for case in group.get("promql_expr_test", [])
    }
    assert recording_rules() - tested == set()


def test_every_alert_has_a_for_a_severity_and_a_summary_and_description() -> None:
    for rule in rules_of(ALERTS):
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_the_rules_read_only_documented_metrics_and_recorded_series() -> None:
    documented = documented_metrics()
    # The tables were read: a counter, a histogram and a gauge of three of them.
    assert {
        "gba_scheduler_jobs_submitted_total",
        "gba_scheduler_admission_wait_seconds",
        "gba_scheduler_program_paid",
    } <= documented
    recorded = recording_rules()
    for path in RULE_FILES:
        for rule in rules_of(path):
            expr = rule["expr"]
            assert metrics_in(expr) - documented == set(), f"{path.name}: {expr}"
            assert recorded_in(expr) - recorded == set(), f"{path.name}: {expr}"
    assert all(name.startswith("gba_scheduler:") for name in recorded)
