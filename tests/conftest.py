"""Shared builders: a small server that tests can bend (failing writers, slow providers...)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import vsssim
from vsssim import MILLISECOND, Component, FileDescriptor, World, Writer, WriterMetadata
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import ChoiceSource
from vsssim.vss.constants import SourceType, UsageType
from vsssim.vss.workload import Workload

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3
#: Agent options for tests of one failure: no retry, so the failure is the result.
NO_RETRY = AgentOptions(retry=RetryPolicy(retries=0))
DB_WRITER_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")


def db_metadata(
    writer_class: uuid.UUID = DB_WRITER_ID, name: str = "TestDbWriter"
) -> WriterMetadata:
    """A database writer: component ``Inst\\Db`` with data on ``D:`` and log on ``L:``."""
    return WriterMetadata(
        writer_class_id=writer_class,
        writer_instance_id=uuid.uuid5(writer_class, "instance"),
        writer_name=name,
        usage_type=UsageType.USERDATA,
        source_type=SourceType.TRANSACTEDDB,
        components=(
            Component(
                name="Db",
                logical_path="Inst",
                files=(FileDescriptor("D:\\Data", "Db.mdf"), FileDescriptor("L:\\Logs", "Db.ldf")),
            ),
        ),
    )


def small_world(
    seed: int | None = 0,
    *,
    db_writer: Writer | None = None,
    config: vsssim.CoordinatorConfig | None = None,
    workload: bool = True,
    choices: ChoiceSource | None = None,
    array: bool = False,
) -> World:
    """``D:`` (data), ``L:`` (logs), ``S:`` (shares, unlinked busy workload); one DB writer.

    With ``array``, ``D:`` is LDEV ``01:10`` of an XP array, with one replica LDEV.
    """
    world = World.create(seed, config=config, choices=choices)
    if array:
        world.add_array()
        world.add_array_volume("D:\\", "01:10", 10 * GIB, label="D:", replicas=["01:20"])
    else:
        world.add_volume("D:\\", "D:", 10 * GIB)
    world.add_volume("L:\\", "L:", 10 * GIB)
    world.add_volume("S:\\", "S:", 10 * GIB)
    world.add_file("D:\\Data\\Db.mdf", 64, initial_blocks=4)
    world.add_file("L:\\Logs\\Db.ldf", 32, initial_blocks=4)
    world.add_file("S:\\Share\\doc.txt", 16, initial_blocks=2)
    writer = world.add_writer(db_writer or Writer(db_metadata()))
    if workload:
        world.add_workload(
            Workload(
                "dbserver",
                ["D:\\Data\\Db.mdf", "L:\\Logs\\Db.ldf"],
                interval_us=(1 * MILLISECOND, 5 * MILLISECOND),
                writer=writer,
            )
        )
        world.add_workload(
            Workload(
                "users", ["S:\\Share\\doc.txt"], interval_us=(1 * MILLISECOND, 3 * MILLISECOND)
            )
        )
    return world


def actions(world: World, actor: str | None = None) -> list[str]:
    """The protocol actions of a run, writes left out."""
    return [
        r.action
        for r in world.sim.trace
        if r.action not in (V.WRITE, V.WRITE_HELD) and (actor is None or r.actor == actor)
    ]


def ctrl_c_after(seconds: float, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m vsssim ARGV`` in a process group of its own, with Ctrl-C pressed after
    ``seconds`` as a terminal does (every process of the group gets it: workers too); its
    status and what it printed. Killed if it has not ended a minute later."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-m", "vsssim", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(seconds)
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)
