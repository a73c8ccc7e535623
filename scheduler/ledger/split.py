"""Splitting one cost between the programs a job draws on and the tenant's co-payment.

Rules:
- a program applies only if it is active at `now`, pays in the cost's currency, the tenant and
  the supplier (owner / nodes) are eligible, and it has budget left;
- stacking: programs of one (non-empty) stacking group may stack; a program without a group
  stands alone. Of the options — each group's applicable programs together, each ungrouped
  program alone — the one that covers the most of the cost is used (ties: the option whose first
  program the job names first), so the tenant gets the best subsidy the rules allow;
- within an option, programs pay in the order the job names them, each floor(cost × rate) —
  rounding always favours the sponsor — capped by its remaining budget, by what is left of the
  tenant's cap for the current period, and by what is still uncovered: together the programs
  never pay more than the cost;
- the tenant pays the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scheduler.domain.geography import Currency
from scheduler.domain.tenants import Tenant
from scheduler.ledger.programs import BASIS_POINTS, Program, Split


@dataclass(frozen=True, slots=True)
class Supplier:
    """Where the cost is incurred: the nodes' owner, the nodes, and whether the chip is domestic."""

    owner: str
    nodes: tuple[str, ...]
    domestic: bool


class Funds:
    """What programs have left: remaining budget per program, and what each tenant has drawn
    from each program in each cap period. A plain value the engine can copy and update."""

    __slots__ = ("drawn", "remaining")

    def __init__(
        self,
        remaining: Mapping[str, int],
        drawn: Mapping[tuple[str, str, int], int] | None = None,
    ) -> None:
        self.remaining: dict[str, int] = dict(remaining)
        self.drawn: dict[tuple[str, str, int], int] = dict(drawn or {})

    def copy(self) -> Funds:
        return Funds(self.remaining, self.drawn)

    def cap_left(self, program: Program, tenant: str, now: int) -> int | None:
        if program.tenant_cap is None:
            return None
        used = self.drawn.get((program.id, tenant, program.period(now)), 0)
        return max(0, program.tenant_cap - used)

    def take(self, programs: Mapping[str, Program], tenant: str, split: Split, now: int) -> None:
        """Reserve a split's shares (the caller checked they fit)."""
        self._shift(programs, tenant, split, now, -1)

    def give_back(
        self, programs: Mapping[str, Program], tenant: str, split: Split, taken_at: int
    ) -> None:
        """Undo `take`. `taken_at` is the `now` the split was taken at, so the draw returns to
        the cap period it was charged to, not to the current one."""
        self._shift(programs, tenant, split, taken_at, 1)

    def _shift(
        self, programs: Mapping[str, Program], tenant: str, split: Split, now: int, sign: int
    ) -> None:
        for program_id, amount in split.shares:
            self.remaining[program_id] = self.remaining.get(program_id, 0) + sign * amount
            key = (program_id, tenant, programs[program_id].period(now))
            self.drawn[key] = self.drawn.get(key, 0) - sign * amount


def applicable(
    program: Program, tenant: Tenant, supplier: Supplier, currency: Currency, now: int
) -> bool:
    return (
        program.active(now)
        and program.currency is currency
        and program.tenant_eligible(tenant)
        and program.supplier_eligible(supplier.owner, supplier.nodes)
    )


def split_cost(
    cost: int,
    currency: Currency,
    wanted: Sequence[str],
    programs: Mapping[str, Program],
    tenant: Tenant,
    supplier: Supplier,
    funds: Funds,
    now: int,
) -> Split:
    """Split `cost` (minor units of `currency`) between the programs `wanted` (ids, in the job's
    order; unknown ids are skipped) and the tenant."""
    options: dict[str, list[Program]] = {}  # option key -> its programs in the job's order
    for program_id in _unique(wanted):
        program = programs.get(program_id)
        if program is None or not applicable(program, tenant, supplier, currency, now):
            continue
        key = f"group:{program.stacking_group}" if program.stacking_group else f"alone:{program.id}"
        options.setdefault(key, []).append(program)
    best: list[tuple[str, int]] = []
    for members in options.values():  # in order of first mention: ties keep the earlier one
        shares = _shares(cost, members, tenant, supplier, funds, now)
        if sum(a for _, a in shares) > sum(a for _, a in best):
            best = shares
    return Split(currency, cost, tuple(best), cost - sum(amount for _, amount in best))


def coverage_bp(
    wanted: Sequence[str],
    programs: Mapping[str, Program],
    tenant: Tenant,
    supplier: Supplier,
    currency: Currency,
    now: int,
) -> int:
    """The share of a cost the job's programs would cover at this supplier, in basis points, by
    their rates alone (budgets and caps left aside): the best option, as `split_cost` chooses."""
    options: dict[str, int] = {}
    for program_id in _unique(wanted):
        program = programs.get(program_id)
        if program is None or not applicable(program, tenant, supplier, currency, now):
            continue
        key = f"group:{program.stacking_group}" if program.stacking_group else f"alone:{program.id}"
        options[key] = options.get(key, 0) + program.rate_bp(tenant, supplier.domestic)
    return min(BASIS_POINTS, max(options.values(), default=0))


def _shares(
    cost: int,
    members: list[Program],
    tenant: Tenant,
    supplier: Supplier,
    funds: Funds,
    now: int,
) -> list[tuple[str, int]]:
    shares: list[tuple[str, int]] = []
    covered = 0
    for program in members:
        amount = cost * program.rate_bp(tenant, supplier.domestic) // BASIS_POINTS
        amount = min(amount, funds.remaining.get(program.id, 0), cost - covered)
        cap_left = funds.cap_left(program, tenant.id, now)
        if cap_left is not None:
            amount = min(amount, cap_left)
        if amount > 0:
            shares.append((program.id, amount))
            covered += amount
    return shares


def _unique(ids: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for program_id in ids:
        if program_id not in seen:
            seen.add(program_id)
            out.append(program_id)
    return out
