"""A reusable hypothesis state machine that fuzzes a writer class against the VSS protocol.

:class:`WriterProtocolMachine` builds a small host whose writers are instances of its
``writer_class``, then lets hypothesis run a sequence of backup *rounds* on it: one agent, two
agents at once or a little apart, a backup with one forced fault, a backup under a swarm of
faults healed mid-way or at the end. The writers live across rounds, so a bug that shows only
on a second freeze, or after an abort, is in reach. After every step every invariant of
:mod:`vsssim.testing.invariants` must hold; a violation fails the step with the violations' text,
the world's replay token and the command that replays it (``vsssim replay TOKEN --machine
...``: the token carries the machine class and every step the run took, each rule with its
arguments and draws, so a subclass's own rules replay too; see
:mod:`vsssim.testing.stateful_steps`), and hypothesis shrinks the steps to a short sequence.

To fuzz your own writer, subclass and set ``writer_class`` (and ``writers`` for your own
metadata), then expose the machine to pytest::

    from vsssim.testing.stateful import WriterProtocolMachine

    class MyWriterMachine(WriterProtocolMachine):
        writer_class = MyWriter          # built as MyWriter(metadata)
        writers = (my_metadata,)         # optional: the default is two small writers

    TestMyWriter = MyWriterMachine.TestCase
    TestMyWriter.settings = hypothesis.settings(max_examples=50, deadline=None)

Needs hypothesis (``pip install 'vsssim[test]'``).
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
except ImportError:
    raise ImportError(
        "vsssim.testing.stateful needs hypothesis: pip install 'vsssim[test]'"
    ) from None

import inspect
import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs

from vsssim.errors import ReplayError
from vsssim.faults import FAULT_KINDS, FaultPlan
from vsssim.host.replay_origins import STATEFUL
from vsssim.host.scenario import AgentSpec, FaultSpec, FileSpec, Scenario, VolumeSpec, WorkloadSpec
from vsssim.host.scenario_codec import parts_to_dict
from vsssim.host.scenario_limits import MAX_TEXT
from vsssim.host.world import World
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.requesters.backup_result import BackupResult
from vsssim.sim.kernel import MILLISECOND, SECOND, ProcessGenerator, Simulation
from vsssim.sim.tokens import Json, ReplayToken
from vsssim.testing.fuzz import RUN_EVENT_BUDGET, SETTLE_US
from vsssim.testing.invariants import INVARIANTS, Invariant, Violation, check_all
from vsssim.testing.stateful_rounds import fault_spec, out_of_bounds, read_round
from vsssim.testing.stateful_steps import (
    MAX_STEPS,
    PlannedStep,
    StepLog,
    plan_rule_step,
    record_rules,
    run_steps,
)
from vsssim.testing.strategies import fault_specs, selectors
from vsssim.vss.constants import BackupType
from vsssim.vss.metadata import Component, FileDescriptor, WriterMetadata
from vsssim.vss.namespace import Namespace
from vsssim.vss.states import RESTORE_EVENTS, WRITER_EVENTS
from vsssim.vss.volumes import VSSSIM_NAMESPACE
from vsssim.vss.writers.base import Writer

__all__ = [
    "BASE_MACHINE",
    "DEFAULT_WRITERS",
    "FORCED_FAULTS",
    "WriterProtocolMachine",
    "assert_invariants",
    "host_scenario",
    "replay_lines",
    "replay_machine",
    "violations",
]

#: Every survivable fault kind with every place it can fire in a backup: ``(kind, event or
#: call)`` (the machine's hosts have no disk array, so the array's faults are left out; its
#: rounds are backups, so the restore events are too).
FORCED_FAULTS: tuple[tuple[str, str], ...] = tuple(
    (kind.name, where)
    for kind in FAULT_KINDS
    if not kind.misbehaviour and kind.target != "array"
    for where in kind.where
    if where not in RESTORE_EVENTS
)


def _writer(name: str, *components: Component) -> WriterMetadata:
    class_id = uuid.uuid5(VSSSIM_NAMESPACE, f"stateful-writer:{name}")
    return WriterMetadata(
        writer_class_id=class_id,
        writer_instance_id=uuid.uuid5(class_id, "instance"),
        writer_name=name,
        components=components,
    )


def _default_writers() -> tuple[WriterMetadata, ...]:
    first = _writer(
        "W1",
        Component("C0", files=(FileDescriptor("D:\\W1\\C0", "f0.dat"),)),
        Component("C1", files=(FileDescriptor("E:\\W1\\C1", "f0.dat"),)),
    )
    second = _writer(
        "W2",
        Component(
            "C0",
            files=(FileDescriptor("E:\\W2\\C0", "f0.dat"),),
            dependencies=(first.key(first.components[0]).any_instance,),
        ),
    )
    return first, second


#: The machine's writers unless a subclass names its own: ``W1`` (``C0`` on ``D:``, ``C1`` on
#: ``E:``) and ``W2`` (``C0`` on ``E:``, which depends on ``W1:C0``).
DEFAULT_WRITERS: tuple[WriterMetadata, ...] = _default_writers()


def host_scenario(
    writers: Sequence[WriterMetadata],
    *,
    interval_us: tuple[int, int] = (50 * MILLISECOND, 500 * MILLISECOND),
) -> Scenario:
    """A host for ``writers``: a volume per drive their files are on, a file for every file
    descriptor (``*.log`` gives ``data.log``), an application workload per writer over its
    files, and an unlinked ``users`` workload. No agents."""
    namespace = Namespace()
    volumes: list[VolumeSpec] = []
    files: dict[str, FileSpec] = {}
    workloads = []
    for metadata in writers:
        own = []
        for component in metadata.components:
            for fd in component.all_files:
                folder = namespace.expand(fd.path).rstrip("\\")
                drive = folder[:2].upper() + "\\"
                if all(v.mount_point != drive for v in volumes):
                    volumes.append(VolumeSpec(drive, drive[:2]))
                name = fd.filespec.replace("*", "data").replace("?", "x")
                path = f"{folder}\\{name}"
                files.setdefault(path.upper(), FileSpec(path, 8, 4))
                own.append(files[path.upper()].path)
        if own:
            workloads.append(
                WorkloadSpec(
                    f"app-{metadata.writer_name}",
                    tuple(dict.fromkeys(own)),
                    interval_us,
                    metadata.writer_name,
                )
            )
    if not volumes:
        volumes.append(VolumeSpec("D:\\", "D:"))
    notes = FileSpec(f"{volumes[0].mount_point}Users\\notes.txt", 8, 2)
    workloads.append(WorkloadSpec("users", (notes.path,), interval_us))
    return Scenario(
        volumes=tuple(volumes),
        files=(*files.values(), notes),
        writers=tuple(writers),
        workloads=tuple(workloads),
    )


def violations(world: World, invariants: Sequence[Invariant] = INVARIANTS) -> list[Violation]:
    """Every violation of ``invariants`` in ``world``, in the order the invariants are listed."""
    return [v for found in check_all(world, invariants).values() for v in found]


def assert_invariants(
    world: World, *, after: str = "the run", invariants: Sequence[Invariant] = INVARIANTS
) -> None:
    """Raise an ``AssertionError`` naming every broken invariant and the replay token."""
    found = violations(world, invariants)
    if found:
        lines = "\n".join(f"  {v}" for v in found)
        raise AssertionError(
            f"{len(found)} invariant violation(s) after {after}:\n{lines}\n{replay_lines(world)}"
        )


#: The machine every other is a subclass of, as its token names it.
BASE_MACHINE = "vsssim.testing.stateful:WriterProtocolMachine"


def replay_lines(world: World) -> str:
    """``replay token: TOKEN``, and for a state machine's world the command that replays it
    (naming the machine class, whose code runs only if the user says so)."""
    token = world.token()
    origin = world.origin
    if origin is None or origin.kind != STATEFUL:
        return f"replay token: {token}"
    machine = origin.fields.get("load")
    flag = "" if not isinstance(machine, str) else f" --machine {shlex.quote(machine)}"
    return f"replay token: {token}\nreplay it: vsssim replay {token}{flag}"


def _loadable(cls: type) -> str | None:
    """How ``--machine`` names ``cls`` from the current folder: ``module:Class`` if the module
    imports from here by that name, else ``path/file.py:Class`` (None: vsssim's own machine)."""
    if f"{cls.__module__}:{cls.__qualname__}" == BASE_MACHINE:
        return None
    try:
        source = inspect.getsourcefile(cls)
    except (TypeError, OSError):  # defined in no file (python -c, a notebook)
        source = None
    if source is None:
        return f"{cls.__module__}:{cls.__qualname__}"
    path = Path(source).resolve()
    here = Path.cwd().resolve()
    if path.is_relative_to(here):
        relative = path.relative_to(here)
        if relative.with_suffix("").as_posix().replace("/", ".") == cls.__module__:
            return f"{cls.__module__}:{cls.__qualname__}"
        return f"{relative.as_posix()}:{cls.__qualname__}"
    return f"{path}:{cls.__qualname__}"


def _heal_after(sim: Simulation, plan: FaultPlan, delay_us: int) -> ProcessGenerator:
    yield sim.timeout(delay_us)
    plan.heal()


_BACKUP_TYPES = (BackupType.FULL, BackupType.COPY, BackupType.INCREMENTAL, BackupType.LOG)
_HEAL = st.none() | st.integers(0, 600)


class WriterProtocolMachine(RuleBasedStateMachine):
    """Backups, concurrent backups and faulted backups on a host of ``writer_class`` writers.

    Override ``writer_class`` (built as ``writer_class(metadata)``; override :meth:`make_writer`
    for other constructors), ``writers`` (their metadata) or :meth:`host` (the whole host) in a
    subclass. Each rule runs one round: agents until they finish, then faults healed and the
    world settled. ``TestX = Machine.TestCase`` gives a pytest/unittest test (set
    ``TestX.settings`` to tune it).

    New rules can call :meth:`run_round` or change the world any other way: every rule call
    is recorded in the world's token, with its arguments and what it drew from ``data()``
    (values of the kinds :func:`~vsssim.testing.stateful_steps.encode_value` carries), and
    the replay calls the rules again. An overridden rule method must be decorated again:
    hypothesis finds rules by their decorator.
    """

    #: The writer class under test.
    writer_class: ClassVar[type[Writer]] = Writer
    #: The metadata of the host's writers (one ``writer_class`` instance each).
    writers: ClassVar[tuple[WriterMetadata, ...]] = DEFAULT_WRITERS
    #: How often the applications write (min, max), in microseconds.
    workload_interval_us: ClassVar[tuple[int, int]] = (50 * MILLISECOND, 500 * MILLISECOND)
    #: How long a round's healed world may take to come to rest.
    settle_us: ClassVar[int] = SETTLE_US

    def __init__(self) -> None:
        super().__init__()
        self._world: World | None = None
        self._selectors: list[str] = []
        self._writer_names: tuple[str, ...] = ()
        self._agents = 0
        self.last_step = "building the world"
        self._seed = 0
        #: The steps run so far, as the world's replay token carries them.
        self._step_log = StepLog(changed=self._steps_changed, lines=self._replay_lines)
        #: Set by a replay: rounds beyond a scenario file's bounds are refused.
        self._bounded = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Record the subclass's own rules too, for its tokens."""
        super().__init_subclass__(**kwargs)
        record_rules(cls)

    # -- the host ------------------------------------------------------------------------
    @property
    def world(self) -> World:
        """The world the rounds run in."""
        if self._world is None:
            raise RuntimeError("the world is built by the machine's initialize rule")
        return self._world

    def make_writer(self, metadata: WriterMetadata) -> Writer:
        """A writer under test for ``metadata``."""
        return self.writer_class(metadata)

    def host(self) -> Scenario:
        """The host the rounds run on (its agents and faults are not used)."""
        return host_scenario(self.writers, interval_us=self.workload_interval_us)

    @initialize(seed=st.integers(0, 2**16 - 1))
    def build_world(self, seed: int) -> None:
        """Build the host, its choices drawn from ``seed``."""
        host = attrs.evolve(self.host(), agents=(), faults=None)
        self._world = host.build(seed, writer_factory=self.make_writer)
        self._seed = seed
        self._world.origin = self._origin()
        self._selectors = selectors(host.writers)
        self._writer_names = tuple(m.writer_name for m in host.writers)

    # -- rounds --------------------------------------------------------------------------
    def next_agent(self) -> str:
        """A new agent name: ``A1``, ``A2``..."""
        self._agents += 1
        return f"A{self._agents}"

    def run_round(
        self,
        agents: Sequence[AgentSpec],
        plan: FaultPlan | None = None,
        *,
        heal_after_us: int | None = None,
    ) -> list[BackupResult]:
        """Run ``agents`` (with the applications writing) under ``plan`` until they finish,
        heal the faults (``heal_after_us`` into the round, or at its end), and let the world
        come to rest; fails if it does not within :attr:`settle_us`."""
        world = self.world
        sim = world.sim
        if self._bounded:
            problem = out_of_bounds(agents, fault_spec(plan), heal_after_us)
            if problem is not None:
                raise ReplayError(
                    f"the replay token's step {self.last_step!r} is beyond bounds: {problem}"
                )
        if not self._step_log.depth:  # called outside a rule: the round is a step of its own
            self._record(agents, plan, heal_after_us)
        active = plan if plan is not None else FaultPlan(())
        world.coordinator.install_faults(active)
        started = [
            world.add_agent(spec.name, spec.selection, spec.options, start_us=spec.start_us)
            for spec in agents
        ]
        stop = world.start(
            [(agent, spec.start_us) for agent, spec in zip(started, agents, strict=True)]
        )
        if heal_after_us is not None:
            sim.process(_heal_after(sim, active, heal_after_us), "healer")
        try:
            sim.run(until=stop)
        except RuntimeError:
            unfinished = ", ".join(a.name for a in started if a.result is None)
            raise AssertionError(
                f"deadlock: {unfinished} never finished in {self.last_step}\n{replay_lines(world)}"
            ) from None
        results = [a.result for a in started if a.result is not None]
        world.results.extend(results)
        if not world.heal_and_settle(self.settle_us):
            raise AssertionError(
                f"the world did not come to rest within {self.settle_us // SECOND} s after "
                f"{self.last_step}\n{replay_lines(world)}"
            )
        return results

    def _origin(self) -> ReplayToken:
        """The world's replay header: this machine class, the seed and the steps so far."""
        cls = type(self)
        fields: dict[str, Json] = {
            "machine": f"{cls.__module__}:{cls.__qualname__}",
            "load": _loadable(cls),
            "seed": self._seed,
            "steps": list(self._step_log.steps),
        }
        return ReplayToken(STATEFUL, fields)

    def _steps_changed(self) -> None:
        if self._world is not None:
            self._world.origin = self._origin()

    def _replay_lines(self) -> str | None:
        """The lines a failure's note gives (a token too large to print says so instead of
        hiding the failure)."""
        if self._world is None:
            return None
        try:
            return replay_lines(self._world)
        except ReplayError as error:
            return f"no replay token: {error}"

    def _record(
        self, agents: Sequence[AgentSpec], plan: FaultPlan | None, heal_after_us: int | None
    ) -> None:
        """Add a round run outside a rule to the token before it runs (a round that fails
        is in it)."""
        round_ = {"step": self.last_step, "heal_after_us": heal_after_us}
        self._step_log.add({"round": {**round_, **parts_to_dict(agents, fault_spec(plan))}})

    def _selection(self, data: st.DataObject, label: str) -> tuple[str, ...]:
        picked = data.draw(
            st.sets(st.sampled_from(self._selectors), min_size=1, max_size=2), label=label
        )
        return tuple(s for s in self._selectors if s in picked)

    @rule(data=st.data(), backup_type=st.sampled_from(_BACKUP_TYPES))
    def backup(self, data: st.DataObject, backup_type: BackupType) -> None:
        """One agent backs up some components."""
        selection = self._selection(data, "selection")
        name = self.next_agent()
        self.last_step = f"{name} backed up {', '.join(selection)}"
        options = AgentOptions(backup_type=backup_type)
        self.run_round([AgentSpec(name, selection, options)])

    @rule(data=st.data(), gap_ms=st.integers(0, 3000))
    def two_agents(self, data: st.DataObject, gap_ms: int) -> None:
        """Two agents back up at once (``gap_ms`` 0) or a little apart; they contend for the
        set lock and may share writers and volumes."""
        first, second = self.next_agent(), self.next_agent()
        specs = [
            AgentSpec(first, self._selection(data, "first")),
            AgentSpec(
                second,
                self._selection(data, "second"),
                AgentOptions(),
                gap_ms * MILLISECOND,
            ),
        ]
        self.last_step = f"{first} and {second} backed up {gap_ms} ms apart"
        self.run_round(specs)

    @rule(
        data=st.data(),
        fault=st.sampled_from(FORCED_FAULTS),
        times=st.none() | st.integers(1, 2),
        retries=st.integers(0, 1),
        skip_failed_writers=st.booleans(),
        heal_after_s=_HEAL,
    )
    def backup_with_fault(
        self,
        data: st.DataObject,
        fault: tuple[str, str],
        times: int | None,
        retries: int,
        skip_failed_writers: bool,
        heal_after_s: int | None,
    ) -> None:
        """One agent backs up while ``fault`` fires wherever it can (or at one writer), up to
        ``times`` per site; the faults heal ``heal_after_s`` into the round or at its end."""
        kind, where = fault
        who = "*"
        if where in WRITER_EVENTS:
            who = data.draw(st.sampled_from(("*", *self._writer_names)), label="writer")
        selection = self._selection(data, "selection")
        name = self.next_agent()
        site = f"{who}.{where}"
        self.last_step = f"{name} backed up {', '.join(selection)} with {kind} at {site}"
        options = AgentOptions(
            retry=RetryPolicy(retries=retries, delay_us=1 * SECOND),
            skip_failed_writers=skip_failed_writers,
        )
        self.run_round(
            [AgentSpec(name, selection, options)],
            FaultPlan.forced(kind, site, times=times),
            heal_after_us=heal_after_s * SECOND if heal_after_s is not None else None,
        )

    @rule(data=st.data(), faults=fault_specs(), agents=st.integers(1, 2), heal_after_s=_HEAL)
    def backup_with_swarm_faults(
        self, data: st.DataObject, faults: FaultSpec, agents: int, heal_after_s: int | None
    ) -> None:
        """One or two agents, a second apart, back up under a drawn mix of faults."""
        specs = [
            AgentSpec(
                self.next_agent(),
                self._selection(data, f"selection {n + 1}"),
                AgentOptions(retry=RetryPolicy(retries=1, delay_us=1 * SECOND)),
                n * SECOND,
            )
            for n in range(agents)
        ]
        names = " and ".join(s.name for s in specs)
        self.last_step = f"{names} backed up under faults {', '.join(faults.kinds) or 'none'}"
        self.run_round(
            specs,
            faults.plan(),
            heal_after_us=heal_after_s * SECOND if heal_after_s is not None else None,
        )

    # -- what must hold ------------------------------------------------------------------
    @invariant()
    def invariants_hold(self) -> None:
        """Every invariant of :mod:`vsssim.testing.invariants` holds after every round."""
        if self._world is not None:
            assert_invariants(self._world, after=self.last_step)


record_rules(WriterProtocolMachine)


def replay_machine(
    machine_class: type[WriterProtocolMachine], token: ReplayToken
) -> tuple[WriterProtocolMachine, str | None]:
    """Run the steps of a state machine's token again on a new ``machine_class`` machine,
    its invariants checked as hypothesis checks them: the machine, and the failure a step (or
    an invariant after it) raised, if one did. Every step is checked before any runs."""
    steps = token.value("steps")
    if not isinstance(steps, list):
        raise ReplayError(f"the replay token is damaged: its steps are {type(steps).__name__}")
    if len(steps) > MAX_STEPS:
        raise ReplayError(
            f"the replay token has {len(steps)} steps, more than the {MAX_STEPS} a state "
            "machine's token may have"
        )
    planned = [_plan(machine_class, number, step) for number, step in enumerate(steps, 1)]
    machine = machine_class()
    machine._bounded = True

    def budget() -> None:
        # Bounded work whatever the token says: a fuzzed run's budget per step.
        world = machine._world
        if world is not None and world.sim.event_budget is None:
            world.sim.event_budget = RUN_EVENT_BUDGET * max(1, len(planned))

    failure = run_steps(machine, planned, budget)
    if machine._world is None:
        raise ReplayError(
            "the replay token's steps never build the machine's world"
            + ("" if failure is None else f" ({failure.splitlines()[0]})")
        )
    return machine, failure


def _plan(cls: type[WriterProtocolMachine], number: int, record: Json) -> PlannedStep:
    """Step ``number`` of a token: a rule's call, or a round run outside a rule."""
    if not isinstance(record, dict):
        raise ReplayError(f"the replay token is damaged: step {number} is not an object")
    if "round" not in record:
        return plan_rule_step(cls, number, record)
    round_ = record["round"]
    agents, plan, heal_after_us = read_round(number, round_)
    step = round_.get("step") if isinstance(round_, dict) else None

    def run(machine: WriterProtocolMachine) -> None:
        if isinstance(step, str):
            machine.last_step = step[:MAX_TEXT]
        machine.run_round(agents, plan, heal_after_us=heal_after_us)

    return PlannedStep(run)
