"""The host's file namespace: drive letters and mount points onto volumes, files onto blocks.

Paths are Windows paths, compared case-insensitively. A volume may be mounted in a folder of
another (``D:\\Mounts\\Archive\\``); a path belongs to the volume of its longest mount point. A file
is a run of blocks on its volume, so writing a file writes volume blocks.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping

import attrs

from vsssim.errors import ConfigurationError
from vsssim.vss.volumes import Volume

#: Environment variables Writer Metadata Documents use, as on a default Windows install.
DEFAULT_ENVIRONMENT: Mapping[str, str] = {
    "%SYSTEMROOT%": "C:\\Windows",
    "%WINDIR%": "C:\\Windows",
    "%SYSTEMDRIVE%": "C:",
    "%PROGRAMFILES%": "C:\\Program Files",
    "%PROGRAMDATA%": "C:\\ProgramData",
}


def normalize(path: str) -> str:
    """The comparison key of a path: forward slashes turned back, upper case, no trailing slash."""
    key = path.replace("/", "\\").upper()
    while key.endswith("\\") and len(key) > 3:
        key = key[:-1]
    if len(key) == 2 and key[1] == ":":
        key += "\\"
    return key


def _folders_of(key: str) -> Iterator[str]:
    """The keys ``key`` lies under, longest first: itself, and each prefix ending in a backslash
    or followed by one."""
    # Backslash by backslash from the right (not character by character: lookups by folder
    # run it on every path): the prefix up to and with each one, then the prefix before it.
    yield key
    end = len(key)  # the shortest prefix given so far
    at = key.rfind("\\")
    while at >= 0:
        if at + 1 < end:
            yield key[: at + 1]
        yield key[:at]
        end = at
        at = key.rfind("\\", 0, at)


def _named(key: str, filespec: str) -> bool:
    """Whether the file name of path ``key`` (normalised) matches ``filespec`` (``*``, ``?``)."""
    return fnmatch.fnmatchcase(key.rpartition("\\")[2], filespec.upper())


def reads_as_zeros(data: bytes | None) -> bool:
    """Whether a block reads as zeros: never written (None) or written with zero bytes only."""
    return data is None or not data.strip(b"\0")


@attrs.define(eq=False)
class File:
    """A file: its path, its volume and the blocks it occupies there.

    ``in_use_by`` names a process that holds the file open without sharing (a database server
    its data files, the kernel the registry hives): a restore cannot replace it then.
    """

    path: str
    volume: Volume
    first_block: int
    block_count: int
    in_use_by: str | None = None

    @property
    def size_bytes(self) -> int:
        """Allocated size in bytes."""
        return self.block_count * self.volume.block_size

    def block_address(self, index: int) -> int:
        """The volume block holding block ``index`` of the file."""
        if not 0 <= index < self.block_count:
            raise ValueError(f"{self.path} has blocks 0..{self.block_count - 1}, not {index}")
        return self.first_block + index

    def volume_blocks(self) -> range:
        """The volume blocks of the file, in file order."""
        return range(self.first_block, self.first_block + self.block_count)

    def content(self) -> dict[int, bytes]:
        """The file's data by block index (0-based); blocks that read as zeros are left out."""
        found: dict[int, bytes] = {}
        for block in self.volume.written_blocks(self.volume_blocks()):
            data = self.volume.read(block)
            if data is not None and not reads_as_zeros(data):
                found[block - self.first_block] = data
        return found


@attrs.frozen
class PendingFileOperation:
    """A file replacement deferred to the next reboot (``MoveFileEx`` with
    ``MOVEFILE_DELAY_UNTIL_REBOOT``): at boot ``path`` gets ``content`` (block index -> data)
    in a file of ``block_count`` blocks. The staged copy is kept here, not in a temporary file.
    """

    path: str
    content: Mapping[int, bytes] = attrs.field(eq=False, repr=False)
    block_count: int
    origin: str


@attrs.define(eq=False)
class Namespace:
    """Mount points and files of one host."""

    environment: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_ENVIRONMENT))
    _mounts: dict[str, tuple[str, Volume]] = attrs.field(factory=dict, init=False)
    #: Mounted volume -> (mount position, mount point), and volumes by name and by label.
    _mounted: dict[Volume, tuple[int, str]] = attrs.field(factory=dict, init=False)
    _named: dict[str, list[Volume]] = attrs.field(factory=dict, init=False)
    _labels: set[str] = attrs.field(factory=set, init=False)
    _files: dict[str, File] = attrs.field(factory=dict, init=False)
    #: Files by folder key: those directly in it, and those under it (see :func:`_folders_of`).
    _in_folder: dict[str, dict[str, File]] = attrs.field(factory=dict, init=False)
    _under: dict[str, dict[str, File]] = attrs.field(factory=dict, init=False)
    _pending: list[PendingFileOperation] = attrs.field(factory=list, init=False)

    def expand(self, path: str) -> str:
        """Expand the environment variables a metadata path may use (``%SystemRoot%``...)."""
        upper = path.upper()
        for name, value in self.environment.items():
            index = upper.find(name)
            if index >= 0:
                path = path[:index] + value + path[index + len(name) :]
                upper = path.upper()
        return path

    # -- mounts --------------------------------------------------------------------------
    def mount(self, path: str, volume: Volume) -> None:
        """Mount ``volume`` at a drive letter (``E:\\``) or in a folder of a mounted volume."""
        key = normalize(path)
        if key in self._mounts:
            raise ConfigurationError(f"{path} already has {self._mounts[key][1].label!r} mounted")
        if volume in self._mounted:
            raise ConfigurationError(f"volume {volume.label!r} is mounted already")
        is_root = len(key) == 3 and key[1:] == ":\\" and key[0].isalpha()
        if not is_root:
            if self._mount_of(key) is None:
                raise ConfigurationError(
                    f"cannot mount {volume.label!r} at {path}: it is on no mounted volume"
                )
            if key in self._under:
                raise ConfigurationError(f"cannot mount at {path}: files exist in that folder")
        display = path if path.endswith("\\") else path + "\\"
        self._mounted[volume] = (len(self._mounts), display)
        self._mounts[key] = (display, volume)
        self._named.setdefault(volume.name, []).append(volume)
        self._labels.add(volume.label)

    def _mount_of(self, key: str) -> tuple[str, Volume] | None:
        """The mount ``key`` lies under with the longest mount point."""
        for folder in _folders_of(key):
            entry = self._mounts.get(folder)
            if entry is not None:
                return entry
        return None

    def volume_of(self, path: str) -> Volume:
        """The volume holding ``path`` (the one of its longest mount point)."""
        entry = self._mount_of(normalize(self.expand(path)))
        if entry is None:
            raise ConfigurationError(f"{path} is on no mounted volume")
        return entry[1]

    def volume_mounted_at(self, path: str) -> Volume | None:
        """The volume mounted exactly at ``path`` (a drive letter or mounted folder), if any."""
        entry = self._mounts.get(normalize(path))
        return None if entry is None else entry[1]

    def mount_point_of(self, volume: Volume) -> str:
        """Where ``volume`` is mounted."""
        try:
            return self._mounted[volume][1]
        except KeyError:
            raise ConfigurationError(f"volume {volume.label!r} is not mounted") from None

    @property
    def volumes(self) -> list[Volume]:
        """Mounted volumes, in mount order."""
        return [v for _, v in self._mounts.values()]

    def volumes_named(self, names: Iterable[str]) -> list[Volume]:
        """The mounted volumes whose ``name`` is one of ``names``, each once, in mount order."""
        found = {v: None for name in names for v in self._named.get(name, ())}
        return sorted(found, key=lambda v: self._mounted[v][0])

    def has_label(self, label: str) -> bool:
        """Whether a mounted volume is labelled ``label``."""
        return label in self._labels

    def volume_labelled(self, label: str) -> Volume:
        """The mounted volume labelled ``label``."""
        for _, volume in self._mounts.values():
            if volume.label == label:
                return volume
        raise ConfigurationError(f"no mounted volume is labelled {label!r}")

    def mount_points(self) -> list[tuple[str, Volume]]:
        """(mount point, volume) pairs, in mount order."""
        return list(self._mounts.values())

    # -- files ---------------------------------------------------------------------------
    def create_file(self, path: str, blocks: int) -> File:
        """Create a file of ``blocks`` blocks on the volume its path falls on."""
        path = self.expand(path)
        key = normalize(path)
        if key in self._files:
            raise ConfigurationError(f"file {path} exists already")
        if key in self._mounts:
            raise ConfigurationError(f"{path} is a mount point, not a file")
        volume = self.volume_of(path)
        file = File(path, volume, volume.allocate(blocks), blocks)
        self._files[key] = file
        self._in_folder.setdefault(normalize(key.rpartition("\\")[0]), {})[key] = file
        for folder in _folders_of(key):
            self._under.setdefault(folder, {})[key] = file
        return file

    def file(self, path: str) -> File:
        """The file at ``path``."""
        try:
            return self._files[normalize(self.expand(path))]
        except KeyError:
            raise ConfigurationError(f"no file {path}") from None

    def find(self, path: str) -> File | None:
        """The file at ``path``, or None if there is none."""
        return self._files.get(normalize(self.expand(path)))

    def delete_file(self, path: str) -> File:
        """Remove the file at ``path``; its blocks stay on the volume, unreferenced."""
        file = self.file(path)
        key = normalize(file.path)
        del self._files[key]
        del self._in_folder[normalize(key.rpartition("\\")[0])][key]
        for folder in _folders_of(key):
            del self._under[folder][key]
        return file

    def files(self) -> Iterator[File]:
        """Every file, in creation order."""
        return iter(self._files.values())

    @staticmethod
    def in_scope(path: str, folder: str, filespec: str, recursive: bool) -> bool:
        """Whether ``path`` is a file a descriptor (``folder``, ``filespec``, ``recursive``)
        names, as :meth:`match` decides; both paths already expanded."""
        key, folder_key = normalize(path), normalize(folder)
        parent = normalize(key.rpartition("\\")[0])
        inside = parent == folder_key or (
            recursive and (parent + "\\").startswith(folder_key.rstrip("\\") + "\\")
        )
        return inside and _named(key, filespec)

    def put_file(
        self, path: str, content: Mapping[int, bytes], block_count: int, origin: str
    ) -> File:
        """Make the file at ``path`` hold exactly ``content`` (block index -> data), as a
        restore writes it back; returns the file.

        A file of ``block_count`` blocks there is overwritten in place (so a process that has
        it open keeps its handle): changed blocks are written, and blocks with data that
        ``content`` does not have are zeroed. Otherwise a file of that size is created (after
        removing one of another size). Blocks are written in ascending order.
        """
        file = self.find(path)
        if file is not None and file.block_count != block_count:
            self.delete_file(path)
            file = None
        if file is None:
            file = self.create_file(path, block_count)
        volume = file.volume
        stale = [b - file.first_block for b in volume.written_blocks(file.volume_blocks())]
        for index in sorted(set(content) | set(stale)):
            address = file.block_address(index)
            wanted = content.get(index)
            current = volume.read(address)
            if wanted == current or (reads_as_zeros(wanted) and reads_as_zeros(current)):
                continue
            volume.write(address, wanted if wanted is not None else b"", origin)
        return file

    def schedule_at_reboot(self, operation: PendingFileOperation) -> None:
        """Defer ``operation`` to the next reboot (the host's pending file operations)."""
        self._pending.append(operation)

    @property
    def pending_operations(self) -> tuple[PendingFileOperation, ...]:
        """The file operations waiting for a reboot, in the order they were scheduled."""
        return tuple(self._pending)

    def take_pending_operations(self) -> list[PendingFileOperation]:
        """Remove and return the pending file operations (a reboot applies them)."""
        pending, self._pending = self._pending, []
        return pending

    def match(self, folder: str, filespec: str, recursive: bool) -> list[File]:
        """Files in ``folder`` (and below it if ``recursive``) whose name matches ``filespec``.

        ``filespec`` uses the wildcards of Writer Metadata Documents (``*``, ``?``). The result is
        sorted by path, so it never depends on creation order.
        """
        folder_key = normalize(self.expand(folder))
        candidates = (self._under if recursive else self._in_folder).get(folder_key, {})
        found = [file for key, file in candidates.items() if _named(key, filespec)]
        found.sort(key=lambda f: normalize(f.path))
        return found

    def write_file(self, path: str, index: int, data: bytes, origin: str) -> bool:
        """Write block ``index`` of a file; True if it landed, False if the volume held it."""
        file = self.file(path)
        return file.volume.write(file.block_address(index), data, origin)
