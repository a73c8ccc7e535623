"""The Kubernetes files of deploy/k8s: the RayCluster is exactly what `gbasched pool kuberay`
makes of the sample pool, every pool node is one Ray worker group declaring its own resource, and
the coordinator's command line is one `gbasched` accepts."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from scheduler.cli.kuberay import NODE_LABEL, kuberay_manifest
from scheduler.cli.main import build_parser, main
from scheduler.cli.paths import default_pool_path
from scheduler.config.pool_toml import load_pool
from scheduler.domain.nodes import NodeState
from scheduler.executor.ray_cluster import node_resource

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


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


def test_the_coordinator_deployment_runs_one_gbasched_serve_against_the_clusters_head() -> None:
    [deployment, claim] = documents("coordinator.yaml")
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
