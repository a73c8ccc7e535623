"""The executor port and its implementations: what actually runs the gangs the cycle placed.

base: the `Executor` port (MUST docstrings) and the events it reports; errors: what it refuses.
fake: `FakeExecutor` (deterministic, driven by a `Clock`; tests and the simulator). The Ray
executor comes in its own issue and must pass tests/contract/test_executor_contract.py unchanged.
"""
