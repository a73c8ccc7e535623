"""`GrpcMetrics` counts calls in plain integers and is their collector: what a scrape shows for
the calls recorded (codes, cumulative buckets in seconds, +Inf = count, sum), and nothing for a
method never called."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scheduler.api.metrics import GRPC_DURATION_BUCKETS_S, GrpcMetrics
from scheduler.api.v1 import scheduler_pb2, scheduler_pb2_grpc

SERVICE = scheduler_pb2.DESCRIPTOR.services_by_name["Scheduler"]
SUBMIT = "/gba.scheduler.v1.Scheduler/SubmitJob"


class Servicer(scheduler_pb2_grpc.SchedulerServicer):
    pass


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_scrape_shows_the_calls_recorded_and_nothing_for_methods_never_called() -> None:
    registry = CollectorRegistry()
    metrics = GrpcMetrics(registry)
    metrics.instrument(Servicer(), SERVICE)
    assert samples(registry) == {}
    method = metrics._methods[SUBMIT]
    for code, took_s in [("OK", 0.0004), ("OK", 0.0005), ("OK", 0.003), ("NOT_FOUND", 20.0)]:
        method.record(code, took_s)

    seen = samples(registry)
    calls = "gba_scheduler_grpc_requests_total"
    assert seen[(calls, (("code", "OK"), ("method", SUBMIT)))] == 3
    assert seen[(calls, (("code", "NOT_FOUND"), ("method", SUBMIT)))] == 1
    name = "gba_scheduler_grpc_request_duration_seconds"
    buckets = {
        dict(labels)["le"]: value
        for (sample, labels), value in seen.items()
        if sample == f"{name}_bucket"
    }
    expected = {repr(bound): 0 for bound in GRPC_DURATION_BUCKETS_S}
    for bound in GRPC_DURATION_BUCKETS_S:
        expected[repr(bound)] = sum(took <= bound for took in (0.0004, 0.0005, 0.003, 20.0))
    expected["+Inf"] = 4
    assert buckets == expected  # 0.0005 falls in its own bound's bucket; 20 s above them all
    assert seen[(f"{name}_count", (("method", SUBMIT),))] == 4
    assert abs(seen[(f"{name}_sum", (("method", SUBMIT),))] - 20.0039) < 1e-9
    assert {dict(labels)["method"] for (_, labels) in seen} == {SUBMIT}
