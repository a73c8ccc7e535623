"""One Ray cluster per test process, started on first use and shut down at the session's end.

pytest-xdist runs each worker in its own process, so with `-n 2` two small clusters run side by
side (each on its own free ports, loopback only). The head declares generous amounts of the
pool nodes the contract suite places on; tests that need distinct Ray nodes add worker nodes
(`add_pool_node`). Light on purpose: 2 CPUs, 100 MiB object store, no dashboard.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

CONTRACT_NODES = ("sz-001", "sz-002", "sz-003", "sz-004")
_OBJECT_STORE = 100 * 1024 * 1024
_WORKER_OBJECT_STORE = 80 * 1024 * 1024


@dataclass
class RaySession:
    cluster: Any
    """A `ray.cluster_utils.Cluster`."""

    def add_pool_node(self, node_id: str, accelerators: int = 8) -> Any:
        """A Ray node of its own that is pool node `node_id`; returns Ray's node object.

        Ray waits a fixed 30 s for a new raylet to register, and on this starved 2-core machine
        it has run out (seen in about one suite run in three one evening, the GCS answering
        "Deadline Exceeded"). Then the stray raylet is killed, lest it register late as a
        second node offering the same pool node, and the node is added once more, saying so
        on stderr."""
        from scheduler.executor.ray_cluster import node_resource

        def add() -> Any:
            return self.cluster.add_node(
                num_cpus=1,
                object_store_memory=_WORKER_OBJECT_STORE,
                resources={node_resource(node_id): accelerators},
            )

        try:
            return add()
        except Exception as error:
            if "timed out during startup" not in str(error):
                raise
            killed = self.kill_strays(node_resource(node_id))
            print(
                f"Ray node for pool node {node_id} did not start ({error}); killed {killed} stray"
                " raylet(s), adding it once more",
                file=sys.stderr,
            )
            return add()

    def kill_strays(self, resource: str) -> int:
        """Kill every raylet declaring `resource` that is not a node of this cluster (one whose
        start Ray gave up on); how many. Sound because one xdist worker runs all the Ray tests
        (`xdist_group("ray")`): no other test process's raylet declares a pool node of ours."""
        import psutil

        nodes = [self.cluster.head_node, *self.cluster.worker_nodes]
        ours = {p.process.pid for n in nodes for p in n.all_processes.get("raylet", [])}
        killed = 0
        for process in psutil.process_iter(["pid", "name", "cmdline"]):
            command = " ".join(process.info["cmdline"] or ())
            stray = process.info["pid"] not in ours and f"{resource}," in command
            if process.info["name"] == "raylet" and stray:
                with contextlib.suppress(psutil.Error):
                    process.kill()
                    killed += 1
        return killed

    def pool_nodes(self, *node_ids: str) -> dict[str, Any]:
        """A Ray node of its own for each of these pool nodes: pool node -> Ray's node object."""
        return {node_id: self.add_pool_node(node_id) for node_id in node_ids}

    def revive(self, nodes: dict[str, Any]) -> None:
        """Replace, in `nodes` (from `pool_nodes`), each Ray node that Ray no longer lists alive
        with a new Ray node that is the same pool node, and say so on stderr. A raylet lost on a
        starved machine then fails the test it was lost in, not every later test of the module.
        """
        import ray

        alive = {entry["NodeID"] for entry in ray.nodes() if entry.get("Alive")}
        for node_id, node in list(nodes.items()):
            if node.node_id not in alive:
                print(
                    f"Ray node {node.node_id} (pool node {node_id}) is dead; adding another",
                    file=sys.stderr,
                )
                self.cluster.remove_node(node, allow_graceful=False)
                nodes[node_id] = self.add_pool_node(node_id)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[RaySession]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        import ray
        from ray.cluster_utils import Cluster

        from scheduler.executor.ray_cluster import NAMESPACE, loopback_only, node_resource
    except ImportError as missing:
        pytest.fail(
            f"these tests need Ray, a runtime dependency: {missing}. "
            "Install the project (pip install -e '.[dev]').",
            pytrace=False,
        )
    loopback_only()  # before the cluster starts
    head = {
        "num_cpus": 2,
        "object_store_memory": _OBJECT_STORE,
        "include_dashboard": False,
        "resources": {node_resource(n): 1000 for n in CONTRACT_NODES},
    }
    try:
        cluster = Cluster(initialize_head=True, head_node_args=head)
    except Exception as error:
        # Seen once with the other test process busy beside this one: Ray's fixed 30 s wait for
        # the head's raylet ran out and its log shows no raylet at all. One more try, said on
        # stderr, rather than failing every Ray test of this process.
        if "timed out during startup" not in str(error):
            raise
        print(f"Ray's test cluster did not start ({error}); starting it again", file=sys.stderr)
        cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        yield RaySession(cluster)
    finally:
        ray.shutdown()
        cluster.shutdown()
