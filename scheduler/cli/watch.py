"""`gbasched watch`: the event log of a running server from a sequence number on, then live.

One line per event as it arrives (`--json`: one JSON object per line), until Ctrl-C or, with
`--count N`, after N events. Resume after a disconnect with `--after` the last `seq` seen.
"""

from __future__ import annotations

import argparse
import json

from scheduler.api.client import EventView
from scheduler.cli.remote import add_connection, connected, event_json, when, wire_int_type
from scheduler.domain.errors import InvalidField

INTERRUPTED_STATUS = 130


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = commands.add_parser("watch", help="follow the event log live", description=__doc__)
    watch.add_argument(
        "--after",
        type=wire_int_type(64),
        default=0,
        metavar="SEQ",
        help="only events after SEQ (default: 0)",
    )
    watch.add_argument("--job", default=None, metavar="ID", help="only this job's events")
    watch.add_argument("--tenant", default="", help="default: the token's tenant (all: operator)")
    watch.add_argument(
        "--key-prefix", default=None, metavar="P", help="only jobs whose client key starts with P"
    )
    watch.add_argument("--count", type=int, default=None, metavar="N", help="stop after N events")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    add_connection(watch)
    watch.set_defaults(handler=_watch)


def _watch(args: argparse.Namespace) -> int:
    count: int | None = args.count
    if count is not None and count < 1:
        raise InvalidField("--count", "must be at least 1")
    # An empty value (an unset shell variable, say) would mean "every job": say so instead.
    for flag, value in (("--job", args.job), ("--key-prefix", args.key_prefix)):
        if value is not None and not value:
            raise InvalidField(flag, "must not be empty (leave the flag out to follow every job)")
    seen = 0
    try:
        with connected(args) as client:
            events = client.watch(args.after, args.job or "", args.tenant, args.key_prefix or "")
            try:
                for event in events:
                    print(_line(event, args.json), flush=True)
                    seen += 1
                    if count is not None and seen >= count:
                        break
            finally:
                events.close()  # hangs up
    except KeyboardInterrupt:
        return INTERRUPTED_STATUS
    return 0


def _line(event: EventView, as_json: bool) -> str:
    if as_json:
        return json.dumps(event_json(event), ensure_ascii=False)
    data = json.dumps(dict(event.data), ensure_ascii=False, separators=(",", ":"))
    return (
        f"{event.seq:>8}  {when(event.at)}  {event.kind:<10}  {event.job_id or '-':<12}  "
        f"{event.tenant or '-':<14}  {data}"
    )
