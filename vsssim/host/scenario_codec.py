"""Scenarios as plain data: a :class:`~vsssim.host.scenario.Scenario` written as JSON-able values
and read back, every value checked against its field's type.

This is the machine form of a scenario (fuzz failure files keep it). It sits above the values
(it imports them, they never import it), so it is a module of functions, not methods.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from vsssim.errors import ConfigurationError, HResult
from vsssim.host._typecheck import check_types
from vsssim.host.scenario import (
    AgentSpec,
    ArraySpec,
    FaultSpec,
    FileSpec,
    PoolSpec,
    RestoreSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.vss.constants import BackupSchema, BackupType, Context, RestoreMethod
from vsssim.vss.coordinator.service import CoordinatorConfig
from vsssim.vss.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.vss.providers.xp import ReplicaMode, ReplicaOptions


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as JSON-able data (:func:`scenario_from_dict` reads it back)."""
    return _to_data(scenario)  # type: ignore[no-any-return]


def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Read a scenario written by :func:`scenario_to_dict`; every value is checked against its
    field's type (:class:`ConfigurationError` naming the first that is not)."""
    try:
        scenario = _scenario_from(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(f"not a scenario: {exc!r}") from None
    check_types(scenario, "scenario")
    return scenario


def parts_to_dict(agents: Sequence[AgentSpec], faults: FaultSpec | None) -> dict[str, Any]:
    """Agents and a fault plan as JSON-able data, as a scenario writes them (a state
    machine's round in its replay token)."""
    return {"agents": _to_data(list(agents)), "faults": _to_data(faults)}


def parts_from_dict(data: Mapping[str, Any]) -> tuple[tuple[AgentSpec, ...], FaultSpec | None]:
    """The agents and fault plan :func:`parts_to_dict` wrote, every value checked."""
    try:
        agents = tuple(_agent(a) for a in data["agents"])
        faults = _faults(data["faults"]) if data["faults"] is not None else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(f"not agents and faults: {exc!r}") from None
    for n, agent in enumerate(agents):
        check_types(agent, f"agents[{n}]")
    if faults is not None:
        check_types(faults, "faults")
    return agents, faults


def _to_data(value: Any) -> Any:
    if isinstance(value, ComponentKey) and value.writer_instance_id is None:
        # A key of any instance (a dependency) is written as before instances were kept:
        # the same scenario keeps the same bytes, and so the same digest.
        return {f: _to_data(getattr(value, f)) for f in ("writer_class_id", "logical_path", "name")}
    if attrs.has(type(value)):
        return {f.name: _to_data(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple | list):
        return [_to_data(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(v.name for v in value)
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _scenario_from(data: Mapping[str, Any]) -> Scenario:
    """The scenario of ``data``; a malformed one raises what the look-ups raise (KeyError...).

    The keys are read in a fixed order (faults, restore and config first), so the same bad
    data always names the same first problem."""
    faults = data.get("faults")
    restore = data.get("restore")
    config: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()
    }
    return Scenario(
        volumes=tuple(_volume(v) for v in data["volumes"]),
        files=tuple(FileSpec(**f) for f in data["files"]),
        writers=tuple(_metadata(m) for m in data["writers"]),
        workloads=tuple(
            WorkloadSpec(w["name"], tuple(w["files"]), tuple(w["interval_us"]), w["writer"])
            for w in data["workloads"]
        ),
        agents=tuple(_agent(a) for a in data["agents"]),
        faults=_faults(faults) if faults else None,
        config=CoordinatorConfig(**config),
        array=_array(data["array"]) if data.get("array") else None,
        restore=RestoreSpec(restore["write_for_us"], tuple(restore["delete"])) if restore else None,
    )


def _metadata(d: Mapping[str, Any]) -> WriterMetadata:
    return WriterMetadata(
        writer_class_id=uuid.UUID(d["writer_class_id"]),
        writer_instance_id=uuid.UUID(d["writer_instance_id"]),
        writer_name=d["writer_name"],
        restore_method=RestoreMethod[d.get("restore_method", "RESTORE_IF_CAN_REPLACE")],
        restore_service=d.get("restore_service", ""),
        backup_schema=_schema(d.get("backup_schema", "UNDEFINED")),
        components=tuple(_component(c) for c in d["components"]),
    )


def _schema(names: str) -> BackupSchema:
    flags = BackupSchema.UNDEFINED
    for name in names.split("|"):
        flags |= BackupSchema[name]
    return flags


def _files(items: list[Mapping[str, Any]]) -> tuple[FileDescriptor, ...]:
    return tuple(FileDescriptor(f["path"], f["filespec"], f["recursive"]) for f in items)


def _component(c: Mapping[str, Any]) -> Component:
    return Component(
        name=c["name"],
        logical_path=c["logical_path"],
        selectable=c["selectable"],
        files=_files(c["files"]),
        database_files=_files(c["database_files"]),
        log_files=_files(c["log_files"]),
        dependencies=tuple(_key(k) for k in c["dependencies"]),
    )


def _key(k: Mapping[str, Any]) -> ComponentKey:
    instance = k.get("writer_instance_id")  # absent in scenarios written before 0.3
    return ComponentKey(
        uuid.UUID(k["writer_class_id"]),
        k["logical_path"],
        k["name"],
        uuid.UUID(instance) if instance is not None else None,
    )


def _agent(a: Mapping[str, Any]) -> AgentSpec:
    return AgentSpec(
        a["name"],
        tuple(a["selection"]),
        _options(a["options"]),
        a["start_us"],
        tuple(a.get("builds_on", ())),
    )


def _options(o: Mapping[str, Any]) -> AgentOptions:
    r = o["retry"]
    return AgentOptions(
        backup_type=BackupType[o["backup_type"]],
        context=Context[o["context"]],
        keep_snapshots=o["keep_snapshots"],
        copy_bytes_per_s=o["copy_bytes_per_s"],
        lock_wait_us=o["lock_wait_us"],
        lock_retry_us=o["lock_retry_us"],
        retry=RetryPolicy(
            r["retries"], r["delay_us"], frozenset(HResult[n] for n in r["retryable"])
        ),
        skip_failed_writers=o["skip_failed_writers"],
        critical_writers=tuple(o["critical_writers"]),
        provider_id=uuid.UUID(o["provider_id"]) if o.get("provider_id") else None,
        allow_fallback=o.get("allow_fallback", True),
        replica=_replica(o["replica"]) if o.get("replica") else None,
    )


def _replica(r: Mapping[str, Any]) -> ReplicaOptions:
    return ReplicaOptions(
        mode=ReplicaMode[r["mode"]],
        replicas_rotated=r["replicas_rotated"],
        keep_replica=r["keep_replica"],
        track_for_instant_recovery=r["track_for_instant_recovery"],
        sync_wait_us=r["sync_wait_us"],
        pool=r["pool"],
    )


def _volume(v: Mapping[str, Any]) -> VolumeSpec:
    return VolumeSpec(**{**v, "replicas": tuple(v.get("replicas", ()))})


def _array(a: Mapping[str, Any]) -> ArraySpec:
    return ArraySpec(
        a["serial"],
        a["track_bytes"],
        a["track_copy_us"],
        _replica(a["replica"]) if a.get("replica") else None,
        tuple(PoolSpec(p["pool_id"], p["capacity_bytes"]) for p in a["pools"]),
    )


def _faults(f: Mapping[str, Any]) -> FaultSpec:
    return FaultSpec(
        tuple(f["kinds"]),
        f["activation_percent"],
        tuple(f["fire_percents"]),
        tuple(f["sites"]),
        f["limit"],
        f.get("per_run"),  # absent from older documents: no cap
    )
