"""How pool nodes appear in Ray, and how the Ray executor reaches a Ray cluster.

Naming: pool node `<id>` is the Ray custom resource `gba_node:<id>`, its amount the node's
accelerator count. Rank i of a gang placed on node n with m accelerators asks, in its placement
group bundle, for `{"gba_node:<n>": m}`, so the bundle can only be placed where that resource is:
on the Ray node that *is* pool node n. Accelerators are counted by the scheduler's engine; Ray
only enforces that the units the engine placed exist (it will not double-book them either).

On a real cluster, each machine of the pool runs a Ray node declaring its own resource, e.g.
for pool node sz-001 with 8 accelerators:

    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_AUTH_MODE=token \\
    ray start --address=<head>:6379 --num-cpus=<cpus> --resources='{"gba_node:sz-001": 8}'

and the coordinator runs with `RAY_ADDRESS=<head>:6379` and the same `RAY_AUTH_MODE`. On one
machine (no `RAY_ADDRESS`), `connect` starts a local Ray on loopback that declares every pool
node's resource on itself, so the same code path runs there.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping

# Ray reads this once, when it is imported: without it Ray binds the machine's non-loopback
# address and a driver can hang on the wrong IP (FEASIBILITY §1.0). Children (raylet, workers)
# inherit it from the environment.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from ray._private import ray_constants

RESOURCE_PREFIX = "gba_node:"
NAMESPACE = "gba"
"""The default Ray namespace of the executor's named placement groups and actors."""


def namespace_of(store_identity: str) -> str:
    """The Ray namespace of the coordinator of the database with this identity: the names of
    its attempts (`gba/<job>/<attempt>`) are unique within one database only."""
    return f"{NAMESPACE}-{store_identity}"


def node_resource(node_id: str) -> str:
    """The Ray custom resource that stands for pool node `node_id`."""
    return f"{RESOURCE_PREFIX}{node_id}"


def pool_node_of(resource: str) -> str | None:
    """The pool node a Ray resource stands for, or None for any other resource. Ray also lists a
    placement group's share of a resource under derived names (`gba_node:x_group_<pg id>`)."""
    if not resource.startswith(RESOURCE_PREFIX) or "_group_" in resource:
        return None
    return resource.removeprefix(RESOURCE_PREFIX)


class RayUnavailable(RuntimeError):
    """Ray could not be reached or started within the time allowed."""


def connect(
    node_accelerators: Mapping[str, int],
    *,
    address: str | None = None,
    num_cpus: int = 2,
    object_store_mb: int = 100,
    timeout_s: float = 60.0,
    namespace: str = NAMESPACE,
) -> bool:
    """Make this process a Ray driver; returns True when it started a local Ray itself.

    Already connected (tests, or an application that called `ray.init`): nothing to do. With an
    `address` (default: `RAY_ADDRESS`): connect to that cluster, whose nodes declare their own
    resources; `RAY_AUTH_MODE` must then be set, because Ray 2.60 refuses the connection when
    the two sides disagree on it. Otherwise start a local Ray bound to loopback declaring
    `gba_node:<id>` = accelerators for every node of `node_accelerators`, a Ray of its own even
    when another runs on this machine (RayUnavailable if that fails).

    `ray.init` takes no timeout. For an address it runs on a helper thread and is abandoned
    (RayUnavailable) after `timeout_s`, behind a TCP probe that fails fast when nothing listens.
    A local start cannot run on a helper thread: Ray ties the processes it spawns to the
    spawning thread's life (PR_SET_PDEATHSIG), so they die when that thread ends; it runs here,
    bounded only by Ray's own start-up timeouts for its processes."""
    if ray.is_initialized():
        return False
    loopback_only()
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        if "RAY_AUTH_MODE" not in os.environ:
            raise RayUnavailable(
                f"connecting to Ray at {address}: set RAY_AUTH_MODE (token or disabled) to what "
                "the cluster uses; Ray 2.60 refuses the connection when it is unset"
            )
        _probe(address, timeout_s)
        _init_within(
            timeout_s,
            address=address,
            namespace=namespace,
            log_to_driver=False,
            configure_logging=False,
        )
        return False
    # A Ray of our own on loopback only, reachable by this user alone: no token needed.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ray.init(
            # "local", not None: with None, Ray joins the cluster that a `ray start` (or a test
            # cluster) on this machine last recorded in /tmp/ray/ray_current_cluster, then
            # refuses the resources below ("When connecting to an existing cluster, ...").
            address="local",
            num_cpus=num_cpus,
            resources={node_resource(n): float(a) for n, a in node_accelerators.items()},
            object_store_memory=object_store_mb * 1024 * 1024,
            namespace=namespace,
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as error:  # Ray raises ValueError, RuntimeError, TimeoutError, ...
        raise RayUnavailable(f"starting a local Ray failed: {error}") from error
    return True


def loopback_only() -> None:
    """Keep Ray, and the Ray processes this one starts, on 127.0.0.1; call before Ray starts.

    Also silences what a scheduler's driver does not want on its terminal: usage stats, and the
    "unhandled error" lines for the calls it drops on purpose (drains of killed actors)."""
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    if os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0":
        # Ray may have been imported before this module set the variable: its copy would be
        # stale (a private constant; the child processes read the environment).
        ray_constants.ENABLE_RAY_CLUSTER = False


def alive_pool_nodes() -> set[str]:
    """The pool nodes some live Ray node declares (a GCS query)."""
    out: set[str] = set()
    for node in ray.nodes():  # type: ignore[no-untyped-call]
        if node.get("Alive"):
            for resource in node.get("Resources", {}):
                pool_node = pool_node_of(resource)
                if pool_node is not None:
                    out.add(pool_node)
    return out


def _probe(address: str, timeout_s: float) -> None:
    """Fail fast and clearly when nothing listens at `address` (ray.init would hang)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as error:
        raise RayUnavailable(f"no Ray at {address}: {error}") from error


def _init_within(timeout_s: float, **kwargs: object) -> None:
    outcome: list[BaseException | None] = []

    def init() -> None:
        try:
            ray.init(**kwargs)  # type: ignore[arg-type]
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=init, name="ray-init", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        raise RayUnavailable(f"ray.init did not return within {timeout_s} s")
    if outcome[0] is not None:
        raise RayUnavailable(f"ray.init failed: {outcome[0]}") from outcome[0]
