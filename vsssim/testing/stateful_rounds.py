"""A round of :class:`~vsssim.testing.stateful.WriterProtocolMachine` as a token carries it
(a round run outside a rule is a step of its own) and the bounds a replayed round keeps to.

The bounds are a scenario file's (:mod:`vsssim.host.scenario_limits`), so that a token, which
anyone may hand over, costs bounded work: a round's agents, start times, lock waits, retries
and fault limit are checked before the round runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from vsssim.errors import ConfigurationError, ReplayError
from vsssim.faults import FaultPlan
from vsssim.host.scenario import AgentSpec, FaultSpec
from vsssim.host.scenario_codec import parts_from_dict
from vsssim.host.scenario_limits import COUNTS, LIMITS
from vsssim.sim.tokens import Json

__all__ = ["fault_spec", "out_of_bounds", "read_round"]


def fault_spec(plan: FaultPlan | None) -> FaultSpec | None:
    """``plan`` as data (None: no plan)."""
    if plan is None:
        return None
    return FaultSpec(
        plan.kinds, plan.activation_percent, plan.fire_percents, plan.sites, plan.limit
    )


def read_round(
    number: int, record: Json
) -> tuple[tuple[AgentSpec, ...], FaultPlan | None, int | None]:
    """A round of a token: its agents, fault plan and healing time, checked."""
    if not isinstance(record, dict):
        raise ReplayError(f"the replay token is damaged: step {number}'s round is not an object")
    heal = record.get("heal_after_us")
    if heal is not None and (isinstance(heal, bool) or not isinstance(heal, int) or heal < 0):
        raise ReplayError(f"the replay token is damaged: step {number} heals at {heal!r}")
    try:
        agents, faults = parts_from_dict(record)
        plan = faults.plan() if faults is not None else None
    except ConfigurationError as error:
        raise ReplayError(f"the replay token is damaged: step {number}: {error}") from None
    problem = out_of_bounds(agents, faults, heal)
    if problem is not None:
        raise ReplayError(f"the replay token is damaged: step {number}: {problem}")
    return agents, plan, heal


def out_of_bounds(
    agents: Sequence[AgentSpec], faults: FaultSpec | None, heal: int | None
) -> str | None:
    """What in a round is beyond the bounds a scenario file keeps to (None: nothing)."""
    if len(agents) > COUNTS["agents"]:
        return f"{len(agents)} agents, more than {COUNTS['agents']}"
    values = [("heal_after_us", heal, LIMITS["agents[].start"])]
    for agent in agents:
        options = agent.options
        values += [
            ("start_us", agent.start_us, LIMITS["agents[].start"]),
            ("lock_wait_us", options.lock_wait_us, LIMITS["agents[].lock_wait"]),
            ("lock_retry_us", options.lock_retry_us, LIMITS["agents[].lock_retry"]),
            ("copy_bytes_per_s", options.copy_bytes_per_s, LIMITS["agents[].copy_bytes_per_s"]),
            ("retry.retries", options.retry.retries, LIMITS["agents[].retry.retries"]),
            ("retry.delay_us", options.retry.delay_us, LIMITS["agents[].retry.delay"]),
        ]
    if faults is not None:
        values.append(("faults.limit", faults.limit, LIMITS["faults.limit"]))
    for name, value, bound in values:
        if value is not None and not bound.low <= value <= bound.high:
            return f"{name} is {value}, not {bound.text()}"
    return None
