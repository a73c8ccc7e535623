"""The executor port and its implementations: what actually runs the gangs the cycle placed.

base: the `Executor` port (MUST docstrings) and the events it reports; errors: what it refuses.
fake: `FakeExecutor` (deterministic, driven by a `Clock`; tests and the simulator). ray:
`RayExecutor` (placement group + one detached actor per rank), with ray_cluster (pool nodes as
Ray resources, connecting) and ray_worker (the rank actor). Both pass
tests/contract/test_executor_contract.py unchanged.
"""
