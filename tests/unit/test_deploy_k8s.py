"""The Kubernetes files of deploy/k8s: the RayCluster is exactly what `gbasched pool kuberay`
makes of the sample pool, every pool node is one Ray worker group declaring its own resource, the
coordinator's command line is one `gbasched` accepts, reading the pool and programs of the
ConfigMap made from deploy/ and serving metrics where its Service, annotations and Prometheus
configuration say, and every manifest of a Kubernetes kind is valid against Kubernetes' schemas
(kubernetes-validate)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scheduler.cli.kuberay import NODE_LABEL, kuberay_manifest
from scheduler.cli.main import build_parser, main
from scheduler.cli.paths import default_pool_path
from scheduler.config.pool_toml import load_pool
from scheduler.domain.errors import InvalidField
from scheduler.domain.nodes import NodeState
from scheduler.executor.ray_cluster import node_resource
from tests.deploy_files import (
    CONFIG_FILES,
    CONFIG_MOUNT,
    GENERATED,
    K8S,
    PROMETHEUS_FILES,
)

KUBERNETES_VERSION = "1.29.0"
CUSTOM_KINDS = {("ray.io/v1", "RayCluster")}
"""Kinds of custom resources (KubeRay's CRD), which kubernetes-validate has no schema for."""


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc is not None]


def test_the_checked_in_raycluster_is_what_the_command_makes_of_the_sample_pool() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["pool", "kuberay"]) == 0
    assert out.getvalue() == (K8S / "raycluster.yaml").read_text(), (
        "deploy/k8s/raycluster.yaml is stale: gbasched pool kuberay > deploy/k8s/raycluster.yaml"
    )


def test_every_pool_node_up_is_one_worker_group_declaring_its_own_resource() -> None:
    pool = load_pool(default_pool_path())
    [cluster] = documents("raycluster.yaml")
    groups = {g["groupName"]: g for g in cluster["spec"]["workerGroupSpecs"]}

    wanted = {n.id for n in pool.nodes.values() if n.state is not NodeState.DOWN}
    assert set(groups) == wanted
    for node_id, group in groups.items():
        node = pool.nodes[node_id]
        assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (1, 1, 1)
        # KubeRay passes the value to `ray start --resources=...` through a shell: a quoted,
        # escaped JSON object.
        text = group["rayStartParams"]["resources"]
        assert text.startswith('"') and text.endswith('"')
        declared = json.loads(text[1:-1].replace('\\"', '"'))
        assert declared == {node_resource(node_id): node.accelerators}
        spec = group["template"]["spec"]
        assert spec["nodeSelector"] == {NODE_LABEL: node_id}
        [container] = spec["containers"]
        devices = {
            k: v for k, v in container["resources"]["limits"].items() if k not in ("cpu", "memory")
        }
        assert list(devices.values()) == [str(node.accelerators)]
    head = cluster["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert "resources" not in head["rayStartParams"]  # no gang rank can land on the head


def test_a_down_node_gets_no_worker_and_the_names_are_the_ones_asked() -> None:
    pool = load_pool(default_pool_path())
    first = sorted(pool.nodes)[0]
    downed = replace(
        pool, nodes={**pool.nodes, first: replace(pool.nodes[first], state=NodeState.DOWN)}
    )
    [cluster] = yaml.safe_load_all(kuberay_manifest(downed, name="pool-b", namespace="ns-b"))
    assert first not in {g["groupName"] for g in cluster["spec"]["workerGroupSpecs"]}
    assert cluster["metadata"] == {"name": "pool-b", "namespace": "ns-b"}


@pytest.mark.parametrize(
    ("names", "field"),
    [
        ({"name": "Pool B"}, "name"),
        ({"name": "9-lives"}, "name"),  # a service name must start with a letter
        ({"name": "p" * 64}, "name"),
        ({"namespace": ""}, "namespace"),
        ({"namespace": "ns_b"}, "namespace"),
        ({"image": ""}, "image"),
        ({"image": "gba scheduler"}, "image"),
    ],
)
def test_names_kubernetes_would_refuse_are_refused_naming_the_field(
    names: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        kuberay_manifest(load_pool(default_pool_path()), **names)
    assert refused.value.field == field


def test_a_pool_node_whose_id_cannot_name_a_worker_group_is_refused_naming_it() -> None:
    pool = load_pool(default_pool_path())
    first = sorted(pool.nodes)[0]
    renamed = {**pool.nodes, "GZ_Hall_1": replace(pool.nodes[first], id="GZ_Hall_1")}
    with pytest.raises(InvalidField) as refused:
        kuberay_manifest(replace(pool, nodes=renamed))
    assert refused.value.field == "nodes.GZ_Hall_1"
    assert "worker group" in refused.value.message


def test_the_command_names_the_pool_file_of_a_bad_node_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = default_pool_path().read_text(encoding="utf-8")
    assert 'id_prefix = "sz-aicc-910b"' in text
    pool_file = tmp_path / "pool.toml"
    pool_file.write_text(text.replace('id_prefix = "sz-aicc-910b"', 'id_prefix = "SZ_aicc"'))
    assert main(["pool", "kuberay", "--config", str(pool_file)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"gbasched: error: {pool_file}: nodes.SZ_aicc-001: ")


def test_the_command_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pool", "kuberay", "--namespace", "NS"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("gbasched: error: --namespace: 'NS' cannot be a Kubernetes namespace")


def test_the_coordinator_deployment_runs_one_gbasched_serve_against_the_clusters_head() -> None:
    [deployment, claim, _service] = documents("coordinator.yaml")
    [cluster] = documents("raycluster.yaml")
    spec = deployment["spec"]
    assert (deployment["kind"], spec["replicas"], spec["strategy"]["type"]) == (
        "Deployment",
        1,
        "Recreate",
    )
    [container] = spec["template"]["spec"]["containers"]
    command = container["command"]
    assert command[0] == "gbasched"
    args = build_parser().parse_args(command[1:])  # gbasched itself accepts the command line
    assert args.executor == "ray"
    env = {e["name"]: e["value"] for e in container["env"]}
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    assert env["RAY_ADDRESS"].startswith(f"{name}-head-svc.{namespace}.")
    assert deployment["metadata"]["namespace"] == namespace
    assert (
        env["RAY_AUTH_MODE"]
        == cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
    )
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert str(args.db).startswith(mounts["data"])
    assert claim["kind"] == "PersistentVolumeClaim"


def test_every_manifest_is_valid_against_the_kubernetes_schemas() -> None:
    validated: list[str] = []
    skipped: set[tuple[str, str]] = set()
    for path in sorted(K8S.glob("*.yaml")):
        for doc in documents(path.name):
            kind = (doc["apiVersion"], doc["kind"])
            if kind in CUSTOM_KINDS:
                # No schema for a CRD's kind: say so rather than pass it as validated.
                with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
                    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                skipped.add(kind)
                continue
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                pytest.fail(
                    f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {where}: {exc.message}"
                )
            validated.append(f"{doc['kind']}/{doc['metadata']['name']}")
    assert skipped == CUSTOM_KINDS
    assert sorted(validated) == [
        "ConfigMap/gbasched-config",
        "ConfigMap/gbasched-prometheus",
        "Deployment/gbasched",
        "PersistentVolumeClaim/gbasched-data",
        "Service/gbasched",
    ]


def test_the_generated_config_maps_are_current_and_hold_the_files() -> None:
    for name, make in GENERATED.items():
        assert (K8S / name).read_text() == make(), (
            f"deploy/k8s/{name} is stale: python -m tests.deploy_files"
        )
    for name, files in (("config.yaml", CONFIG_FILES), ("prometheus.yaml", PROMETHEUS_FILES)):
        [config_map] = documents(name)
        assert config_map["data"] == {key: path.read_text() for key, path in files.items()}


def test_the_coordinator_reads_the_config_map_and_serves_metrics_where_it_is_scraped() -> None:
    [deployment, _claim, service] = documents("coordinator.yaml")
    [config_map] = documents("config.yaml")
    template = deployment["spec"]["template"]
    [container] = template["spec"]["containers"]
    args = build_parser().parse_args(container["command"][1:])

    # The pool and programs are the ConfigMap's files, mounted where the flags look.
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == CONFIG_MOUNT]
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    assert str(args.config) == f"{CONFIG_MOUNT}/pool.toml"
    assert str(args.programs) == f"{CONFIG_MOUNT}/programs.toml"
    assert {"pool.toml", "programs.toml"} <= set(config_map["data"])

    # Metrics on every address of the pod, at the port the annotations, the container, the
    # Service and the Prometheus configuration name.
    assert (args.metrics_host, args.metrics_port) == ("0.0.0.0", 9464)
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(args.metrics_port)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": args.port, "metrics": args.metrics_port}

    assert service["kind"] == "Service"
    assert service["spec"]["selector"] == template["metadata"]["labels"]
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert service_ports == {"grpc": (args.port, "grpc"), "metrics": (args.metrics_port, "metrics")}

    prometheus = yaml.safe_load(PROMETHEUS_FILES["prometheus.yml"].read_text())
    [job] = prometheus["scrape_configs"]
    assert job["job_name"] == "gba-scheduler"
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    assert job["static_configs"][0]["targets"] == [
        f"{name}.{namespace}.svc.cluster.local:{args.metrics_port}"
    ]
