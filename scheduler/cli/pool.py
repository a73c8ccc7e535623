"""`gbasched pool show | generate`: a pool's capacity, and large generated pools."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from scheduler.cli.admin_views import show_pool
from scheduler.cli.capacity_view import render_capacity
from scheduler.cli.files import write_atomically
from scheduler.cli.kuberay import DEFAULT_IMAGE, kuberay_manifest
from scheduler.cli.paths import SAMPLE_POOL, default_pool_path
from scheduler.cli.remote import add_remote_switch, wants_server
from scheduler.cli.text import counted, stdout_console
from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import load_pool, parse_pool
from scheduler.domain.capacity import capacity_report
from scheduler.domain.errors import InvalidField


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pool = commands.add_parser(
        "pool", help="pool capacity and generated pools", description=__doc__
    )
    actions = pool.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser(
        "show",
        help="capacity: totals, then by model, city, owner class and jurisdiction",
        description="Show a pool's capacity: accelerators, PFLOPS per precision, domestic share. "
        "By default of a pool file (--config); with --address, --tls-ca or --token of a running "
        "server (Admin.GetPool and GetCapacity; an operator's token), its configuration first "
        "(--json: the same capacity object, the configuration under `configuration`).",
    )
    show.add_argument(
        "--config", type=Path, metavar="FILE", help=f"pool TOML (default: {SAMPLE_POOL})"
    )
    show.add_argument("--json", action="store_true", help="print one JSON object instead")
    add_remote_switch(show, "--config")
    show.set_defaults(handler=_show)

    generate = actions.add_parser(
        "generate",
        help="write a large pool with the sample's mix",
        description="Write a pool of N accelerators (rounded down to whole 8-accelerator "
        "nodes) with the template's mix of models, cities, owners, prices and tenants.",
    )
    generate.add_argument("--accelerators", type=int, required=True, metavar="N", help="at least 8")
    generate.add_argument("--seed", type=int, default=1, metavar="S", help="default: 1")
    generate.add_argument("--out", type=Path, required=True, metavar="FILE")
    generate.add_argument(
        "--template",
        type=Path,
        metavar="FILE",
        help=f"pool whose mix to scale (default: {SAMPLE_POOL})",
    )
    generate.set_defaults(handler=_generate)

    kuberay = actions.add_parser(
        "kuberay",
        help="the KubeRay RayCluster of a pool (YAML on stdout)",
        description="Print the KubeRay RayCluster manifest in which every pool node is a Ray "
        "worker group declaring gba_node:<id> (see deploy/k8s/README.md).",
    )
    kuberay.add_argument(
        "--config", type=Path, metavar="FILE", help=f"pool TOML (default: {SAMPLE_POOL})"
    )
    kuberay.add_argument("--name", default="gba", help="the RayCluster's name (default: gba)")
    kuberay.add_argument("--namespace", default="gba", help="its namespace (default: gba)")
    kuberay.add_argument("--image", default=DEFAULT_IMAGE, help=f"default: {DEFAULT_IMAGE}")
    kuberay.add_argument(
        "--cpus-per-node", type=int, default=8, metavar="N", help="each worker's CPUs (default: 8)"
    )
    kuberay.set_defaults(handler=_kuberay)


def _show(args: argparse.Namespace) -> int:
    if wants_server(args):
        return show_pool(args)
    report = capacity_report(load_pool(args.config or default_pool_path()))
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        render_capacity(report, stdout_console())
    return 0


def _kuberay(args: argparse.Namespace) -> int:
    if args.cpus_per_node < 1:
        raise InvalidField("--cpus-per-node", "must be at least 1")
    config = args.config or default_pool_path()
    pool = load_pool(config)
    try:
        manifest = kuberay_manifest(
            pool,
            name=args.name,
            namespace=args.namespace,
            image=args.image,
            cpus_per_node=args.cpus_per_node,
        )
    except InvalidField as exc:  # a flag's value, or a node of the pool file
        moved = exc.moved("name", "--name").moved("namespace", "--namespace")
        raise moved.moved("image", "--image").moved("nodes", f"{config}: nodes") from None
    sys.stdout.write(manifest)
    return 0


def _generate(args: argparse.Namespace) -> int:
    out: Path = args.out
    template = load_pool(args.template or default_pool_path())
    text = generate_pool_toml(
        args.accelerators, args.seed, template=template, field="--accelerators"
    )
    # Read it back before writing: a file that would not load is never left behind.
    pool = parse_pool(tomllib.loads(text), str(out))
    report = capacity_report(pool)
    write_atomically(out, lambda file: file.write(text))
    groups = {(n.owner, n.city, n.model, n.price) for n in pool.nodes.values()}
    print(
        f"wrote {out}: {counted(report.nodes, 'node')}, {report.accelerators:,} accelerators, "
        f"{report.tflops_fp16 / 1000:,.1f} PFLOPS fp16, {counted(len(groups), 'node group')}"
    )
    return 0
