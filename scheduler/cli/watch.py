"""`gbasched watch`: the event log of a running server from a sequence number on, then live.

One line per event as it arrives (`--json`: one JSON object per line), until Ctrl-C or, with
`--count N`, after N events. When the server goes away mid-watch (a restart, a network break),
it says so on stderr and reconnects, every few seconds, resuming after the last event it printed:
nothing is missed or shown twice. A server it cannot reach at the start is an error. Resume a
watch that was stopped with `--after` the last `seq` seen.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from scheduler.api.client import ApiError, EventView
from scheduler.cli.remote import add_connection, connected, event_json, when, wire_int_type
from scheduler.domain.errors import InvalidField

INTERRUPTED_STATUS = 130
RECONNECT_S = 1.0
"""Between attempts to reach a server that went away."""
REACHED_S = 1.0
"""A watch that failed as unavailable within this long, before any event, never reached the
server (an error, not a reconnect)."""


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
    seen, after = 0, args.after
    away = False  # the server went away after the watch began: reconnecting
    try:
        with connected(args) as client:
            while True:
                began = time.monotonic()
                events = client.watch(after, args.job or "", args.tenant, args.key_prefix or "")
                try:
                    for event in events:
                        if away:
                            print(f"gbasched: watch: reconnected at seq {after}", file=sys.stderr)
                            away = False
                        print(_line(event, args.json), flush=True)
                        seen, after = seen + 1, event.seq
                        if count is not None and seen >= count:
                            return 0
                except ApiError as exc:
                    if exc.code != "UNAVAILABLE":
                        raise
                    if not (away or seen or time.monotonic() - began >= REACHED_S):
                        raise  # never reached: not a server that went away
                    if not away:
                        print(
                            f"gbasched: watch: the server went away ({exc.details}); "
                            f"reconnecting after seq {after} ...",
                            file=sys.stderr,
                            flush=True,
                        )
                        away = True
                    time.sleep(RECONNECT_S)
                finally:
                    events.close()  # hangs up
    except KeyboardInterrupt:
        return INTERRUPTED_STATUS


def _line(event: EventView, as_json: bool) -> str:
    if as_json:
        return json.dumps(event_json(event), ensure_ascii=False)
    data = json.dumps(dict(event.data), ensure_ascii=False, separators=(",", ":"))
    return (
        f"{event.seq:>8}  {when(event.at)}  {event.kind:<10}  {event.job_id or '-':<12}  "
        f"{event.tenant or '-':<14}  {data}"
    )
