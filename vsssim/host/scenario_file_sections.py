"""The sections of a scenario file: the XP array, volumes, files, writers and their
components, workloads, agents, faults and the restore, each read from its table(s).

:class:`Reader` reads one section at a time and checks what refers to another section (a
workload's files, an agent's selection, an LDEV of the array...); :mod:`vsssim.host.scenario_file`
reads the top-level table with it, section by section.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from vsssim.errors import ConfigurationError, VssError, VssimError
from vsssim.faults import KINDS
from vsssim.host._files import read_bounded
from vsssim.host.scenario import (
    AgentSpec,
    ArraySpec,
    FaultSpec,
    FileSpec,
    PoolSpec,
    RestoreSpec,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.host.scenario_file_table import (
    Array,
    Table,
    construct,
    enum_member,
    finish,
    read_fields,
    show,
)
from vsssim.host.scenario_limits import COUNTS, LIMITS, MAX_TEXT
from vsssim.requesters.backup_options import AgentOptions
from vsssim.requesters.backup_result import Outcome
from vsssim.requesters.selection import ComponentSelector
from vsssim.sim.kernel import MILLISECOND
from vsssim.vss.constants import BackupSchema, ComponentType, RestoreMethod, SourceType, UsageType
from vsssim.vss.documents.wmd_xml import XmlLimits, metadata_from_xml
from vsssim.vss.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.vss.namespace import normalize
from vsssim.vss.providers.software import SOFTWARE_PROVIDER_ID
from vsssim.vss.providers.xp import XP_PROVIDER_ID, ReplicaOptions
from vsssim.vss.volumes import FILE_SYSTEMS, VSSSIM_NAMESPACE

#: The providers an agent can ask VSS for, by the name a scenario gives them: ``any`` leaves
#: the choice to VSS (a hardware provider that supports the volume first, else the software
#: one), ``software`` is the copy-on-write provider, ``xp`` the XP array's hardware provider.
PROVIDER_IDS: Mapping[str, uuid.UUID | None] = {
    "any": None,
    "software": SOFTWARE_PROVIDER_ID,
    "xp": XP_PROVIDER_ID,
}
PROVIDERS: tuple[str, ...] = tuple(PROVIDER_IDS)

#: A component's table and its ``depends_on`` texts, resolved once every writer is read.
_Depends = tuple[Table, tuple[str, ...]]
_LDEV = re.compile(r"^[0-9A-F]{2}:[0-9A-F]{2}$")
#: Replica options that are the backup product's (the agent's) to choose, not the provider's.
_AGENT_ONLY_REPLICA_KEYS = ("keep_replica", "track_for_instant_recovery")


#: The largest Writer Metadata Document file a scenario may name (the XML reader's own limit).
_DOCUMENT_BYTES = XmlLimits().document_bytes


def _file_system(t: Table) -> str:
    """A volume's ``file_system``: one of :data:`FILE_SYSTEMS` (any case), NTFS by default."""
    value = t.text("file_system", "NTFS", longest=16)
    for known in FILE_SYSTEMS:
        if value.upper() == known.upper():
            return known
    t.fail("file_system", f"expected one of {', '.join(FILE_SYSTEMS)}; got {value!r}")


class Reader:
    """Reads the sections of one scenario file (``source``; the files it names are found
    relative to ``base``), remembering the array and the default provider once read."""

    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base
        self.array_spec: ArraySpec | None = None
        self.provider = "any"

    # -- the XP array ----------------------------------------------------------------------
    def provider_name(self, t: Table, default: str = "any") -> str:
        """A ``provider`` key: one of :data:`PROVIDERS`; ``xp`` only with an ``[array]``."""
        name: str = t.text("provider", default)
        if name not in PROVIDER_IDS:
            t.fail("provider", f"expected one of {', '.join(PROVIDERS)}; got {name!r}")
        if name == "xp" and self.array_spec is None:
            t.fail("provider", "the XP provider needs an [array] table; this scenario has none")
        return name

    def array(self, t: Table) -> ArraySpec:
        serial = t.integer("serial", 10053, bound=LIMITS["array.serial"])
        track_bytes = t.size("track_size", 256 * 1024, bound=LIMITS["array.track_size"])
        track_copy_us = t.duration("track_copy", 2 * MILLISECOND, bound=LIMITS["array.track_copy"])
        pools = tuple(self.pool(p) for p in t.tables("pools", most=COUNTS["array.pools"]))
        self.unique(t, "pools", [str(p.pool_id) for p in pools], "id")
        replica_table = t.table("replica")
        replica = None
        if replica_table is not None:
            # Keeping and tracking a replica is the backup product's choice, made per agent.
            fields = read_fields(ReplicaOptions, replica_table, skip=_AGENT_ONLY_REPLICA_KEYS)
            replica = finish(replica_table, construct(ReplicaOptions, replica_table, fields))
            self.check_pool(replica_table, replica, pools)
        return finish(t, ArraySpec(serial, track_bytes, track_copy_us, replica, pools))

    def pool(self, t: Table) -> PoolSpec:
        pool_id = t.integer("id", bound=LIMITS["array.pools[].id"])
        return finish(
            t, PoolSpec(pool_id, t.size("capacity", bound=LIMITS["array.pools[].capacity"]))
        )

    def check_pool(
        self, t: Table, replica: ReplicaOptions, pools: Sequence[PoolSpec] | None = None
    ) -> None:
        """The Snapshot pool ``replica`` names exists on the array."""
        if pools is None:
            pools = self.array_spec.pools if self.array_spec is not None else ()
        if replica.pool is not None and replica.pool not in {p.pool_id for p in pools}:
            known = ", ".join(str(p.pool_id) for p in pools) or "none; add [[array.pools]]"
            t.fail("pool", f"the array has no pool {replica.pool} (pools: {known})")

    def ldev(self, t: Table, key: str | int, value: str) -> str:
        address = value.strip().upper()
        if not _LDEV.match(address):
            t.fail(
                key,
                f"expected an LDEV address CU:LDEV (two hex digits each) like '01:2A', "
                f"got {value!r}",
            )
        return address

    def unique_ldevs(self, tables: list[Table], volumes: list[VolumeSpec]) -> None:
        """No LDEV is two volumes, a volume and a replica, or two replicas."""
        seen: dict[str, str] = {}
        for t, volume in zip(tables, volumes, strict=True):
            if volume.ldev is None:
                continue
            for key, address in [
                ("ldev", volume.ldev),
                *((f"replicas[{i}]", r) for i, r in enumerate(volume.replicas)),
            ]:
                if address in seen:
                    t.fail(key, f"LDEV {address} is {seen[address]} already")
                seen[address] = t.at(key)

    def unique(self, top: Table, key: str, names: list[str], field: str) -> None:
        seen: dict[str, int] = {}
        for index, name in enumerate(names):
            folded = name.upper()
            if folded in seen:
                top.fail(
                    key,
                    f"[{index}].{field} {name!r} repeats [{seen[folded]}].{field}",
                )
            seen[folded] = index

    def volume(self, t: Table) -> VolumeSpec:
        mount_point = t.text("mount_point")
        if not mount_point.endswith("\\"):
            mount_point += "\\"
        label = t.text("label", mount_point.rstrip("\\"))
        ldev = t.text("ldev", None)
        replicas = t.texts("replicas", (), most=COUNTS["volumes[].replicas"])
        if ldev is not None:
            ldev = self.ldev(t, "ldev", ldev)
            if self.array_spec is None:
                t.fail("ldev", "an LDEV is on the XP array: add an [array] table")
            replicas = tuple(self.ldev(t, f"replicas[{i}]", r) for i, r in enumerate(replicas))
        elif replicas:
            t.fail("replicas", "only a volume on the XP array (one with an ldev) has replicas")
        spec = VolumeSpec(
            mount_point,
            label,
            t.size("size", 10 * 1024**3, bound=LIMITS["volumes[].size"]),
            _file_system(t),
            ldev,
            replicas,
        )
        return finish(t, spec)

    def file(self, t: Table, volumes: list[VolumeSpec]) -> FileSpec:
        path = t.text("path")
        blocks = t.integer("blocks", 16, bound=LIMITS["files[].blocks"])
        initial = t.integer("initial_blocks", blocks // 2, bound=LIMITS["files[].initial_blocks"])
        if initial > blocks:
            t.fail("initial_blocks", f"expected at most blocks ({blocks}), got {initial}")
        key = normalize(path)
        if not any(key.startswith(normalize(v.mount_point)) for v in volumes):
            mounts = ", ".join(v.mount_point for v in volumes)
            t.fail("path", f"{path!r} is on no volume (mount points: {mounts})")
        return finish(t, FileSpec(path, blocks, initial))

    def descriptors(self, t: Table, key: str) -> tuple[FileDescriptor, ...]:
        found = []
        for index, item in enumerate(t.array(key, [])):
            where = f"{key}[{index}]"
            if isinstance(item, str):
                if len(item) > MAX_TEXT:
                    t.fail(where, f"expected at most {MAX_TEXT} characters, got {len(item)}")
                folder, sep, filespec = item.rpartition("\\")
                if not sep or not folder or not filespec:
                    t.fail(
                        where, f"expected 'FOLDER\\FILESPEC' (like 'D:\\Data\\*.mdf'), got {item!r}"
                    )
                found.append(FileDescriptor(folder, filespec))
            elif isinstance(item, dict):
                d = Table(item, t.at(where), self.source)
                found.append(
                    finish(
                        d,
                        FileDescriptor(
                            d.text("path"),
                            d.text("filespec", "*"),
                            d.flag("recursive", False),
                            d.text("alternate_path", None),
                        ),
                    )
                )
            else:
                t.fail(where, f"expected a string or a table, got {show(item)}")
        return tuple(found)

    def writer(self, t: Table) -> tuple[WriterMetadata, list[_Depends] | None]:
        """A writer's metadata; its components' ``depends_on`` are resolved once all are read.

        ``metadata = 'sql.xml'`` reads a Writer Metadata Document (XML as VSS writes it, for
        instance captured on a real server) instead of the keys below.
        """
        document = t.text("metadata", None)
        if document is not None:
            return finish(t, self.document(t, document)), None
        name = t.text("name")
        class_id = self.guid(t, "class_id", uuid.uuid5(VSSSIM_NAMESPACE, f"scenario-writer:{name}"))
        instance_id = self.guid(t, "instance_id", uuid.uuid5(class_id, "instance"))
        read = [
            self.component(c) for c in t.tables("components", most=COUNTS["writers[].components"])
        ]
        components = tuple(component for component, _ in read)
        usage_type = t.choice("usage_type", UsageType, UsageType.USERDATA)
        source_type = t.choice("source_type", SourceType, SourceType.OTHER)
        restore_method = t.choice(
            "restore_method", RestoreMethod, RestoreMethod.RESTORE_IF_CAN_REPLACE
        )
        instance_name = t.text("instance_name", "")
        schema = BackupSchema.UNDEFINED
        for i, flag in enumerate(t.texts("backup_schema", ())):
            schema |= enum_member(t, f"backup_schema[{i}]", flag, BackupSchema)
        try:
            metadata = WriterMetadata(
                writer_class_id=class_id,
                writer_instance_id=instance_id,
                writer_name=name,
                instance_name=instance_name,
                usage_type=usage_type,
                source_type=source_type,
                restore_method=restore_method,
                backup_schema=schema,
                components=components,
            )
        except VssimError as error:
            t.fail("components", getattr(error, "message", str(error)))
        return finish(t, metadata), [depends for _, depends in read]

    def document(self, t: Table, name: str) -> WriterMetadata:
        path = self.base / name
        try:
            # Bytes: the reader takes UTF-8 or UTF-16, as Windows tools save these documents.
            return metadata_from_xml(
                read_bounded(path, _DOCUMENT_BYTES, "metadata document", ConfigurationError)
            )
        except ConfigurationError as error:
            t.fail("metadata", str(error))
        except VssError as error:
            t.fail("metadata", f"{path}: {error}")

    def guid(self, t: Table, key: str, default: uuid.UUID) -> uuid.UUID:
        text = t.text(key, None)
        if text is None:
            return default
        try:
            return uuid.UUID(text.strip("{}"))
        except ValueError:
            t.fail(key, f"expected a GUID like '{{{default}}}', got {text!r}")

    def component(self, c: Table) -> tuple[Component, _Depends]:
        component = Component(
            name=c.text("name"),
            component_type=c.choice("type", ComponentType, ComponentType.FILEGROUP),
            logical_path=c.text("logical_path", ""),
            caption=c.text("caption", ""),
            selectable=c.flag("selectable", True),
            selectable_for_restore=c.flag("selectable_for_restore", True),
            files=self.descriptors(c, "files"),
            database_files=self.descriptors(c, "database_files"),
            log_files=self.descriptors(c, "log_files"),
        )
        depends = (c, c.texts("depends_on", ()))
        return finish(c, component), depends

    def with_dependencies(
        self,
        metadata: WriterMetadata,
        depends: list[_Depends] | None,
        writers: list[WriterMetadata],
    ) -> WriterMetadata:
        """``metadata`` with each component's ``depends_on`` (``WRITER:PATH``) resolved
        (``None``: a metadata document, whose dependencies name writers by class id)."""
        if depends is None:
            return metadata
        components = tuple(
            attrs.evolve(
                component,
                dependencies=tuple(
                    self.resolve(table, f"depends_on[{i}]", text, writers)
                    for i, text in enumerate(texts)
                ),
            )
            for component, (table, texts) in zip(metadata.components, depends, strict=True)
        )
        return attrs.evolve(metadata, components=components)

    def resolve(self, t: Table, key: str, text: str, writers: list[WriterMetadata]) -> ComponentKey:
        try:
            selector = ComponentSelector.parse(text)
        except ConfigurationError:
            t.fail(key, f"expected 'WRITER:LOGICAL\\PATH\\NAME', got {text!r}")
        for metadata in writers:
            if selector.matches(metadata):
                for component in metadata.components:
                    if component.full_path.upper() == selector.path.upper():
                        return metadata.key(component).any_instance
                paths = ", ".join(c.full_path for c in metadata.components) or "none"
                t.fail(
                    key,
                    f"writer {metadata.writer_name!r} has no component {selector.path!r} "
                    f"(it has: {paths})",
                )
        names = ", ".join(w.writer_name for w in writers) or "none"
        t.fail(key, f"no writer {selector.writer!r} (writers: {names})")

    def workload(
        self, t: Table, files: list[FileSpec], writers: list[WriterMetadata]
    ) -> WorkloadSpec:
        name = t.text("name")
        paths = t.texts("files")
        known = {normalize(f.path) for f in files}
        for index, path in enumerate(paths):
            if normalize(path) not in known:
                t.fail(f"files[{index}]", f"{path!r} is not one of the scenario's [[files]]")
        interval = read_fields(WorkloadSpec, t, skip=("name", "files", "writer"))
        writer = t.text("writer", None)
        if writer is not None and writer not in {w.writer_name for w in writers}:
            names = ", ".join(w.writer_name for w in writers) or "none"
            t.fail("writer", f"no writer {writer!r} (writers: {names})")
        return finish(t, WorkloadSpec(name, paths, writer=writer, **interval))

    def agent(
        self, t: Table, index: int, writers: list[WriterMetadata], earlier: list[str]
    ) -> tuple[AgentSpec, Outcome]:
        name = t.text("name", f"agent-{index + 1}")
        selection = t.texts("select")
        if not selection:
            t.fail("select", "expected at least one component, like 'Writer:Path\\Name'")
        for i, text in enumerate(selection):
            self.resolve(t, f"select[{i}]", text, writers)
        start = t.duration("start", 0, bound=LIMITS["agents[].start"])
        builds_on = t.texts("builds_on", ())
        for i, base in enumerate(builds_on):
            if base == name:
                t.fail(f"builds_on[{i}]", f"agent {name!r} cannot build on itself")
            if base not in earlier:
                known = ", ".join(repr(n) for n in earlier) or "none"
                t.fail(
                    f"builds_on[{i}]",
                    f"agent {name!r} builds on {base!r}, which is not an earlier [[agents]] "
                    f"(earlier agents: {known})",
                )
            if base in builds_on[:i]:
                t.fail(f"builds_on[{i}]", f"{base!r} is named twice")
        outcome = t.choice("expect", Outcome, Outcome.SUCCEEDED)
        provider = self.provider_name(t, self.provider)
        fields = read_fields(AgentOptions, t, skip=("provider_id", "history", "replica"))
        # The agent's replica options are a provider's own (typed SetOptions): a file's are the
        # XP provider's, read as read_fields reads any nested table (the agent's last field).
        replica_table = t.table("replica")
        replica: ReplicaOptions | None = None
        if replica_table is not None:
            replica_fields = read_fields(ReplicaOptions, replica_table)
            replica = construct(ReplicaOptions, replica_table, replica_fields)
            fields["replica"] = replica = finish(replica_table, replica)
        if replica is not None:
            if self.array_spec is None:
                t.fail("replica", "replica options are for the XP array; this scenario has none")
            self.check_pool(Table({}, t.at("replica"), self.source), replica)
        try:
            options = AgentOptions(**fields, provider_id=PROVIDER_IDS[provider])
        except ConfigurationError as error:
            if replica is not None and replica.keeps:
                key = "keep_replica" if replica.keep_replica else "track_for_instant_recovery"
                t.fail(f"replica.{key}", str(error))
            raise
        return finish(t, AgentSpec(name, selection, options, start, builds_on)), outcome

    def faults(self, t: Table) -> FaultSpec:
        force = t.text("force", None)
        if force is not None:
            kind, _, site = force.partition("@")
            self.check_kind(t, "force", kind)
            times = t.integer("times", None, bound=LIMITS["faults.times"])
            spec = FaultSpec((kind,), 100, (100,), (site or "*",), times)
            return finish(t, spec)
        kinds = t.texts("kinds")
        for index, kind in enumerate(kinds):
            self.check_kind(t, f"kinds[{index}]", kind)
        spec = FaultSpec(
            kinds,
            t.integer("activation_percent", 30, bound=LIMITS["faults.activation_percent"]),
            tuple(
                Array(
                    t.array("fire_percents", [10, 30, 100]), t.at("fire_percents"), self.source
                ).each(int, "an integer percent", LIMITS["faults.fire_percents[]"])
            ),
            t.texts("sites", []),
            t.integer("limit", None, bound=LIMITS["faults.limit"]),
            t.integer("per_run", None, bound=LIMITS["faults.per_run"]),
        )
        return finish(t, spec)

    def restore(self, t: Table, files: list[FileSpec]) -> RestoreSpec:
        """A ``[restore]`` table: after the backups, the applications write for ``write_for``,
        the ``delete`` files (of ``[[files]]``) are deleted, then every backup is restored."""
        write_for = t.duration("write_for", 0, bound=LIMITS["restore.write_for"])
        delete = t.texts("delete", ())
        known = {normalize(f.path) for f in files}
        for index, path in enumerate(delete):
            if normalize(path) not in known:
                t.fail(f"delete[{index}]", f"no [[files]] has the path {path}")
        return finish(t, RestoreSpec(write_for, delete))

    def check_kind(self, t: Table, key: str, kind: str) -> None:
        if kind not in KINDS:
            t.fail(key, f"no fault kind {kind!r} (kinds: {', '.join(sorted(KINDS))})")
