"""Workloads and (in the trace-replay issue) the discrete-event simulator."""
