"""The identity checks of AddComponent as ``IVssBackupComponents::AddComponent`` takes it: the
writer instance id and the component type beside the writer class id, logical path and name.

Both are optional keywords of :meth:`~vsssim.vss.coordinator.session.BackupComponents.
add_component` (the three-argument form of earlier vsssim releases stays valid); given, they
are checked against the Writer Metadata Document the named writer gave GatherWriterMetadata.
"""

from __future__ import annotations

import uuid

from vsssim.errors import HResult, VssError
from vsssim.vss import _args
from vsssim.vss.constants import ComponentType
from vsssim.vss.metadata import Component, WriterMetadata


def check_identity(
    metadata: WriterMetadata,
    component: Component,
    instance_id: object,
    component_type: object,
) -> None:
    """``instance_id`` must be the instance of the writer class that answered
    (``VSS_E_OBJECT_NOT_FOUND``); ``component_type`` a ``VSS_COMPONENT_TYPE`` other than
    ``VSS_CT_UNDEFINED`` and the component's own type (``E_INVALIDARG``)."""
    if instance_id is not None:
        _args.check_id("instance_id", instance_id)
        assert isinstance(instance_id, uuid.UUID)
        if instance_id != metadata.writer_instance_id:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"no instance {instance_id} of writer {metadata.writer_name} answered "
                "GatherWriterMetadata",
            )
    if component_type is not None:
        kind = _args.check_enum("component_type", component_type, ComponentType)
        if kind != component.component_type:
            raise VssError(
                HResult.E_INVALIDARG,
                f"component_type: {component.full_path!r} is "
                f"{component.component_type.vss_name}, not {kind.vss_name}",
            )
