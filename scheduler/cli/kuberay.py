"""`gbasched pool kuberay`: the KubeRay `RayCluster` in which every pool node is a Ray node.

One worker group per pool node, one replica each: the group's Ray node declares the custom
resource `gba_node:<node id>` (its amount the node's accelerators; naming in
`scheduler.executor.ray_cluster`), so the Ray executor's placement-group bundles for that node can
only land there. The pod is pinned to the Kubernetes node labelled `gba.pool/node=<node id>` and
asks the device plugin for the node's accelerators, so Kubernetes and the scheduler agree on which
machine is which. A cordoned or draining pool node keeps its worker (the coordinator stops sending
it work); a node that is down is left out.

The head runs no work (`num-cpus: 0`, no pool resources): a gang's bundles go to pool nodes only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from scheduler.domain.errors import InvalidField
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool

RESOURCE_PREFIX = "gba_node:"  # as scheduler.executor.ray_cluster.node_resource names it
NODE_LABEL = "gba.pool/node"
RAY_VERSION = "2.60.0"
DEFAULT_IMAGE = "gba-scheduler:0.1.0"
"""deploy/Dockerfile's image: Ray of the same version as the coordinator's, and this package,
whose worker code and sample workloads the gang's actors import."""

DEVICE_PLUGIN_RESOURCES: Mapping[str, str] = {
    "NVIDIA": "nvidia.com/gpu",
    "Huawei": "huawei.com/Ascend910",
    "Cambricon": "cambricon.com/mlu",
    "Hygon": "hygon.com/dcu",
}
"""The extended resource each vendor's Kubernetes device plugin commonly advertises. Plugins
differ by version and configuration: check `kubectl describe node` and change the generated file
where yours differs. A vendor not listed gets no device request (a comment in the pod says so)."""


# Kubernetes' name rules (k8s.io/apimachinery validation): a DNS-1035 label for the cluster (KubeRay
# names its services after it), a DNS-1123 label for the namespace and for worker groups (their
# pods are named after them), at most 63 characters each.
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_MAX_LABEL = 63


def _check_name(value: str, pattern: re.Pattern[str], field: str, what: str) -> None:
    if len(value) > _MAX_LABEL or not pattern.match(value):
        raise InvalidField(
            field,
            f"{value!r} cannot be {what}: lowercase letters, digits and '-', starting with a"
            f" {'letter' if pattern is _DNS_1035_LABEL else 'letter or digit'}, ending with a"
            f" letter or digit, at most {_MAX_LABEL} characters",
        )


def kuberay_manifest(
    pool: Pool,
    *,
    name: str = "gba",
    namespace: str = "gba",
    image: str = DEFAULT_IMAGE,
    cpus_per_node: int = 8,
) -> str:
    """The RayCluster manifest of `pool`, as YAML text with a header saying how it was made.
    Names Kubernetes would refuse are InvalidField: `name`, `namespace`, `image`, or
    `nodes.<id>` for a pool node whose id cannot name a worker group."""
    _check_name(name, _DNS_1035_LABEL, "name", "a RayCluster's name")
    _check_name(namespace, _DNS_1123_LABEL, "namespace", "a Kubernetes namespace")
    if not image or any(c.isspace() for c in image):
        raise InvalidField("image", f"{image!r} is not a container image reference")
    for node_id in sorted(pool.nodes):
        _check_name(node_id, _DNS_1123_LABEL, f"nodes.{node_id}", "a KubeRay worker group's name")
    groups = [
        _worker_group(node_id, pool, image, cpus_per_node)
        for node_id in sorted(pool.nodes)
        if pool.nodes[node_id].state is not NodeState.DOWN
    ]
    cluster: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "rayVersion": RAY_VERSION,
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "0", "dashboard-host": "0.0.0.0"},
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "ray-head",
                                "image": image,
                                "env": [dict(_AUTH_MODE)],
                                "ports": [
                                    {"containerPort": 6379, "name": "gcs"},
                                    {"containerPort": 8265, "name": "dashboard"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "2", "memory": "8Gi"},
                                    "limits": {"cpu": "2", "memory": "8Gi"},
                                },
                            }
                        ]
                    }
                },
            },
            "workerGroupSpecs": groups,
        },
    }
    header = (
        f"# Generated by `gbasched pool kuberay` from pool {pool.name!r}: {len(groups)} worker\n"
        "# groups, one per pool node. Regenerate after changing the pool; label each Kubernetes\n"
        f"# node with the pool node it is: kubectl label node <k8s-node> {NODE_LABEL}=<pool-node>\n"
    )
    body: str = yaml.safe_dump(cluster, sort_keys=False, width=100)
    return header + body


def _worker_group(node_id: str, pool: Pool, image: str, cpus: int) -> dict[str, Any]:
    node = pool.nodes[node_id]
    vendor = pool.catalogue[node.model].vendor
    device = DEVICE_PLUGIN_RESOURCES.get(vendor)
    limits: dict[str, str] = {"cpu": str(cpus), "memory": f"{8 * cpus}Gi"}
    if device is not None:
        limits[device] = str(node.accelerators)
    resources = f'"{{\\"{RESOURCE_PREFIX}{node_id}\\": {node.accelerators}}}"'
    return {
        "groupName": node_id,
        "replicas": 1,
        "minReplicas": 1,
        "maxReplicas": 1,
        "rayStartParams": {"num-cpus": str(cpus), "resources": resources},
        "template": {
            "metadata": {
                "labels": {NODE_LABEL: node_id},
                "annotations": {
                    "gba.pool/model": node.model,
                    "gba.pool/owner": node.owner,
                    "gba.pool/city": node.city.value,
                },
            },
            "spec": {
                "nodeSelector": {NODE_LABEL: node_id},
                "containers": [
                    {
                        "name": "ray-worker",
                        "image": image,
                        "env": [dict(_AUTH_MODE)],
                        "resources": {"requests": dict(limits), "limits": limits},
                    }
                ],
            },
        },
    }


# Ray 2.60 refuses a driver whose auth mode differs from the cluster's: the coordinator's
# Deployment sets the same.
_AUTH_MODE = {"name": "RAY_AUTH_MODE", "value": "disabled"}
