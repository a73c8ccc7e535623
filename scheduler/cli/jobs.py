"""`gbasched submit | jobs | job | cancel`: a tenant's jobs on a running `gbasched serve`.

Each call presents the API token of `--token` or, without it, of $GBASCHED_TOKEN. A refused
call prints `gbasched: error: <STATUS>: <details>` (the details name the bad field) and exits 1.
"""

from __future__ import annotations

import argparse
import itertools
import json

from rich.table import Table

from scheduler.api.client import ApiError, JobSpec, JobView
from scheduler.cli.remote import (
    add_connection,
    amounts,
    connected,
    job_json,
    when,
    wire_int_type,
)
from scheduler.cli.text import counted, stdout_console
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import JobState

MAX_PAGE = 1000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    submit = commands.add_parser(
        "submit",
        help="submit a job to a running server",
        description="Submit one job (a gang of --workers ranks, --per-worker accelerators "
        "each) and print its id. Accelerators by --model, by --min-tflops, or both.",
    )
    submit.add_argument("--tenant", default="", help="submit as (default: the token's tenant)")
    submit.add_argument(
        "--workers", type=wire_int_type(32), required=True, metavar="N", help="gang ranks"
    )
    submit.add_argument(
        "--per-worker",
        type=wire_int_type(32),
        required=True,
        metavar="M",
        help="accelerators per rank",
    )
    submit.add_argument(
        "--model",
        dest="models",
        action="extend",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="accepted accelerator model(s) by catalogue id",
    )
    submit.add_argument(
        "--min-tflops",
        type=wire_int_type(32),
        default=None,
        metavar="N",
        help="any model with >= N fp16 TFLOPS",
    )
    submit.add_argument(
        "--walltime",
        type=wire_int_type(64),
        required=True,
        metavar="S",
        help="longest run, in seconds",
    )
    submit.add_argument(
        "--origin",
        choices=[z.value for z in Jurisdiction],
        default=Jurisdiction.MAINLAND.value,
        help="the zone the data comes from (default: mainland)",
    )
    submit.add_argument("--priority", default="", metavar="P", help="priority class by name")
    submit.add_argument("--key", default=None, metavar="K", help="idempotency key")
    submit.add_argument(
        "--program",
        dest="programs",
        action="extend",
        nargs="+",
        default=[],
        metavar="ID",
        help="subsidy program(s) asked to pay part of the cost",
    )
    submit.add_argument(
        "--not-preemptible", action="store_true", help="higher-priority work may not stop it"
    )
    submit.add_argument(
        "--entrypoint",
        default="",
        metavar="MODULE:FUNCTION",
        help="what every rank runs (default: the server's, the sample training workload)",
    )
    submit.add_argument(
        "--checkpoint-interval",
        type=wire_int_type(64),
        default=0,
        metavar="S",
        help="how often the job checkpoints, in seconds (0: it does not; preemption prefers "
        "jobs that do)",
    )
    submit.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(submit)
    submit.set_defaults(handler=_submit)

    listing = commands.add_parser(
        "jobs", help="list jobs", description="Jobs in submission order, newest last."
    )
    listing.add_argument("--tenant", default="", help="default: the token's tenant (all: operator)")
    listing.add_argument(
        "--state",
        dest="states",
        action="extend",
        nargs="+",
        default=[],
        choices=[s.value for s in JobState],
        metavar="STATE",
        help=f"only these states ({', '.join(s.value for s in JobState)})",
    )
    listing.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the newest N jobs (default: all)"
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(listing)
    listing.set_defaults(handler=_jobs)

    one = commands.add_parser(
        "job",
        help="show one job",
        description="A job's state, attempt, placement, why it waits or how it ended, and its "
        "money so far: cost (settled attempts plus the running one's usage up to now), the part "
        "subsidy programs pay and the tenant's co-payment, per currency in minor units in --json.",
    )
    one.add_argument("job_id", metavar="ID")
    one.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(one)
    one.set_defaults(handler=_job)

    cancel = commands.add_parser(
        "cancel",
        help="cancel a job",
        description="Cancel a job: a queued one leaves the queue, a running one is stopped.",
    )
    cancel.add_argument("job_id", metavar="ID")
    cancel.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(cancel)
    cancel.set_defaults(handler=_cancel)


def _submit(args: argparse.Namespace) -> int:
    if not args.models and args.min_tflops is None:
        raise InvalidField("--model", "name at least one accelerator model or set --min-tflops")
    if args.key is not None and not args.key:
        # an empty key is no key: a retry would submit the job twice
        raise InvalidField("--key", "must not be empty (leave the flag out for no idempotency key)")
    spec = JobSpec(
        workers=args.workers,
        per_worker=args.per_worker,
        walltime_s=args.walltime,
        data_origin=Jurisdiction(args.origin),
        models=tuple(args.models),
        min_tflops_fp16=args.min_tflops,
        priority_class=args.priority,
        preemptible=not args.not_preemptible,
        checkpoint_interval_s=args.checkpoint_interval,
        entrypoint=args.entrypoint,
        programs=tuple(args.programs),
    )
    with connected(args) as client:
        try:
            result = client.submit(spec, tenant=args.tenant, client_key=args.key)
        except ApiError as exc:
            raise _flagged(exc) from None
    if args.json:
        print(json.dumps({"job_id": result.job_id, "created": result.created}))
    elif result.created:
        print(f"submitted {result.job_id}")
    else:
        print(f"{result.job_id} (already submitted with key {args.key!r}; nothing changed)")
    return 0


# The submission's fields on the wire by the flag that sets each: the server's refusals name the
# former, the person at the terminal typed the latter.
_SUBMIT_FLAGS = {
    "spec.workers": "--workers",
    "spec.per_worker": "--per-worker",
    "spec.models": "--model",
    "spec.min_tflops_fp16": "--min-tflops",
    "spec.walltime_s": "--walltime",
    "spec.data_origin": "--origin",
    "spec.priority_class": "--priority",
    "spec.checkpoint_interval_s": "--checkpoint-interval",
    "spec.entrypoint": "--entrypoint",
    "spec.programs": "--program",
    "tenant": "--tenant",
    "client_key": "--key",
}


def _flagged(exc: ApiError) -> ApiError:
    """`exc` naming the submit flag instead of the wire field its details start with (an
    element's index dropped: the message names the value), or `exc` itself."""
    field, colon, rest = exc.details.partition(": ")
    flag = _SUBMIT_FLAGS.get(field.split("[", 1)[0])
    if not colon or flag is None:
        return exc
    return ApiError(exc.code, f"{flag}: {rest}")


def _jobs(args: argparse.Namespace) -> int:
    limit: int | None = args.limit
    if limit is not None and limit < 1:
        raise InvalidField("--limit", "must be at least 1")
    states = [JobState(s) for s in args.states]
    more = False
    with connected(args) as client:
        if limit is None:  # all of them, oldest first
            found = list(client.jobs(args.tenant, states, MAX_PAGE // 10))
        else:  # the newest, fetched newest first; one more says whether older ones exist
            page_size = min(limit + 1, MAX_PAGE)
            newest = client.jobs(args.tenant, states, page_size, newest_first=True)
            found = list(itertools.islice(newest, limit + 1))
            more = len(found) > limit
            found = found[:limit][::-1]
    if args.json:
        listed = {"jobs": [job_json(j) for j in found], "older_exist": more}
        print(json.dumps(listed, indent=2, ensure_ascii=False))
        return 0
    title = counted(len(found), "job")
    if more:
        title = f"the newest {title}; older ones exist (raise --limit)"
    table = Table(title=title)
    for column in ("Job", "Tenant", "State", "Gang", "Attempt", "Submitted", "Reason"):
        table.add_column(column, no_wrap=column in ("Job", "State", "Submitted"))
    for job in found:
        table.add_row(
            job.id,
            job.tenant,
            job.state.value,
            f"{job.workers}x{job.per_worker}",
            str(job.attempt),
            when(job.submitted_at),
            job.reason_code,
        )
    stdout_console().print(table)
    return 0


def _job(args: argparse.Namespace) -> int:
    with connected(args) as client:
        job = client.job(args.job_id)
    _show(job, args.json)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with connected(args) as client:
        job = client.cancel(args.job_id)
    _show(job, args.json)
    return 0


def _show(job: JobView, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job_json(job), indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Job {job.id}", show_header=False)
    table.add_column("Field", style="bold")
    table.add_column("Value")
    rows = [
        ("Tenant", job.tenant),
        ("State", job.state.value),
        ("Gang", f"{job.workers} x {job.per_worker} accelerators"),
        ("Priority class", job.priority_class),
        ("Accepted models", ", ".join(job.accepted_models)),
        ("Attempt", f"{job.attempt} ({job.failures} failed)"),
        ("Placement", job.placement_summary or "-"),
        (_reason_label(job.state), _reason(job)),
        ("Client key", job.client_key or "-"),
        ("Submitted", when(job.submitted_at)),
        ("Started", when(job.started_at) or "-"),
        ("Ended", when(job.ended_at) or "-"),
    ]
    if job.progress_bp is not None:  # no row at all until the attempt reported something
        rows.append(("Progress", _progress(job.progress_bp, job)))
    rows += [
        ("Cost so far", amounts(job.cost)),
        ("Subsidy", _subsidy(job)),
        ("Co-payment", amounts(job.copay)),
        ("Reserved", amounts(job.reserved)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    stdout_console().print(table)


def _subsidy(job: JobView) -> str:
    text = amounts(job.subsidy)
    if job.subsidy_by_program:
        text += " = " + " + ".join(
            f"{program} {amounts((amount,))}" for program, amount in job.subsidy_by_program
        )
    elif job.programs:
        text += f" (programs asked: {', '.join(job.programs)})"
    return text


def _progress(progress_bp: int, job: JobView) -> str:
    """E.g. `42.50 % (attempt 2; last checkpoint 40.00 %; reported 2026-03-01 08:00:00Z)`."""
    details = [f"attempt {job.attempt}"]
    if job.checkpoint_bp is not None:
        details.append(f"last checkpoint {percent(job.checkpoint_bp)}")
    if job.progress_at is not None:
        details.append(f"reported {when(job.progress_at)}")
    return f"{percent(progress_bp)} ({'; '.join(details)})"


def percent(bp: int) -> str:
    """Basis points as a percentage with two decimals: 4250 -> `42.50 %`."""
    return f"{bp // 100}.{bp % 100:02d} %"


def _reason_label(state: JobState) -> str:
    if state is JobState.QUEUED:
        return "Waiting because"
    if state.terminal:
        return "Ended because"
    return "Reason"


def _reason(job: JobView) -> str:
    if not job.reason_code:
        return job.reason or "-"
    return f"{job.reason_code}: {job.reason}" if job.reason else job.reason_code
