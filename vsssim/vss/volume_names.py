"""The volume names the volume-taking calls of IVssBackupComponents accept.

AddToSnapshotSet and IsVolumeSupported take a volume as one of the forms their pages list, each
ending in a backslash: a drive letter (``D:\\``), the path of a mounted folder
(``D:\\Mounts\\Archive\\``), or the volume GUID path ``\\\\?\\Volume{GUID}\\`` that
GetVolumeNameForVolumeMountPoint gives (every :class:`~vsssim.vss.volumes.Volume` has one, in
its ``name``). AddToSnapshotSet also lists the UNC path of a remote file share
(``\\\\server\\share\\``): vsssim models no file-share shadow copies, so a share is a volume no
provider supports.

:func:`check_volume_name` is the argument check (``E_INVALIDARG`` for a name in none of the
forms, or without its trailing backslash); :func:`resolve` finds the volume a well-formed name
names (``VSS_E_OBJECT_NOT_FOUND`` when none does, *None* for a share).
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from vsssim.errors import HResult, VssError
from vsssim.vss import _args
from vsssim.vss.namespace import Namespace, normalize
from vsssim.vss.volumes import Volume

if TYPE_CHECKING:
    from vsssim.vss.providers.base import Provider


class NameForm(enum.Enum):
    """The documented forms of a volume name."""

    DRIVE_LETTER = "drive letter"
    MOUNTED_FOLDER = "mounted folder"
    VOLUME_GUID_PATH = "volume GUID path"
    FILE_SHARE = "UNC path of a remote file share"


_GUID_PATH = re.compile(
    r"\\\\\?\\Volume\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}\\",
    re.IGNORECASE,
)
#: ``X:\`` then folder names, each ending in a backslash (no empty, ``.`` or ``..`` names).
_DRIVE_PATH = re.compile(r"[A-Za-z]:\\(?:[^\\/:*?\"<>|]+\\)*")
#: ``\\server\share\`` (and folders below the share).
_SHARE = re.compile(r"\\\\[^\\/?.][^\\/]*\\[^\\/]+\\(?:[^\\/]+\\)*")


def form_of(name: str) -> NameForm | None:
    """Which documented form ``name`` has (None: none of them)."""
    if _GUID_PATH.fullmatch(name):
        return NameForm.VOLUME_GUID_PATH
    if _DRIVE_PATH.fullmatch(name):
        if len(name) == 3:
            return NameForm.DRIVE_LETTER
        folders = name[3:-1].split("\\")
        return None if any(f.strip(" .") == "" for f in folders) else NameForm.MOUNTED_FOLDER
    if _SHARE.fullmatch(name):
        return NameForm.FILE_SHARE
    return None


def check_volume_name(param: str, value: object) -> NameForm:
    """A volume name argument: a path string in one of the documented forms, with its
    trailing backslash (the AddToSnapshotSet and IsVolumeSupported pages say it must have
    one); anything else is ``E_INVALIDARG``."""
    name = _args.check_path(param, value)
    if not name.endswith("\\"):
        raise _args.invalid(
            param, f"{_shown(name)} must end with a backslash (as in D:\\ or D:\\Mount\\)"
        )
    form = form_of(name)
    if form is None:
        raise _args.invalid(
            param,
            f"{_shown(name)} is not a drive letter (D:\\), a mounted folder (D:\\Mount\\), a "
            "volume GUID path (\\\\?\\Volume{GUID}\\) or a share (\\\\server\\share\\)",
        )
    return form


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"


def guid_path_volume(namespace: Namespace, name: str) -> Volume | None:
    """The mounted volume whose GUID path is ``name`` (compared case-insensitively)."""
    key = name.upper()
    for volume in namespace.volumes:
        if volume.name.upper() == key:
            return volume
    return None


def resolve(namespace: Namespace, name: str) -> Volume | None:
    """The volume a well-formed volume name names; None for a remote file share.

    A drive letter or folder names a volume only where one is mounted there: a folder that is
    not a mount point (a path inside a volume) is ``VSS_E_OBJECT_NOT_FOUND``, as is a name no
    volume has.
    """
    form = form_of(name)
    if form is NameForm.FILE_SHARE:
        return None
    if form is NameForm.VOLUME_GUID_PATH:
        volume = guid_path_volume(namespace, name)
    elif form is not None:
        volume = namespace.volume_mounted_at(normalize(name))
    else:
        volume = None
    if volume is None:
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"{_shown(name)} is the {form.value if form else 'name'} of no mounted volume",
        )
    return volume


def share_refused(
    name: str, provider_id: uuid.UUID | None, providers: Iterable[Provider]
) -> VssError:
    """The answer to a remote file share: vsssim's providers shadow-copy no shares, so it is
    the code of a volume no provider (or not the named one) supports; a named provider that is
    not registered is ``VSS_E_PROVIDER_NOT_REGISTERED`` first."""
    if provider_id is None:
        code = HResult.VSS_E_VOLUME_NOT_SUPPORTED
    elif any(p.provider_id == provider_id for p in providers):
        code = HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER
    else:
        return VssError(
            HResult.VSS_E_PROVIDER_NOT_REGISTERED, f"no provider {provider_id} is registered"
        )
    return VssError(code, f"{_shown(name)} is a remote file share: vsssim copies no shares")
