"""Uncompressed ``.npz`` archives, written reproducibly and read without pickle.

The low-level half of the library's file formats: :mod:`gaussmix.io` (model
files) and :mod:`gaussmix.apps.background` (background model files) both store
a JSON header and a few arrays as the ``.npy`` members of one zip archive.
What such a format checks in its header and arrays is its own; this module
writes the archive and reads it back with every check that does not depend on
the format:

* :func:`write_npz` writes ``numpy.savez``'s layout (uncompressed, one ``.npy``
  member per key, zip64 members) with fixed timestamps and attributes, so the
  same arrays always give the same bytes;
* :func:`write_atomically` replaces a file through a temporary one in the same
  directory, so a failed write never leaves half a file behind;
* :func:`open_npz` opens an archive with ``allow_pickle=False`` and checks its
  members (only ``.npy``, stored, not encrypted, each once, not larger than the
  file); :meth:`NpzArchive.declared` reads a member's dtype and shape and checks
  its size before any data is read, :meth:`NpzArchive.read` reads the data.

Every problem in the bytes raises :class:`ArchiveError`, whose message says what
is wrong; the format's reader turns it into a ``ValueError`` naming the file.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Final, NoReturn

import numpy as np
import numpy.typing as npt

__all__ = [
    "ZIP_DATE",
    "ZIP_MAGIC",
    "ArchiveError",
    "NpzArchive",
    "open_npz",
    "write_atomically",
    "write_npz",
]

#: Timestamp of every member: the earliest zip date, for reproducible bytes.
ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)
#: First bytes of a zip archive (a local file header, or an empty archive).
ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")


class ArchiveError(Exception):
    """What is wrong with an archive; the caller names the file in a ValueError."""


def _fail(message: str) -> NoReturn:
    raise ArchiveError(message)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


# ----------------------------------------------------------------- write


def write_npz(fileobj: IO[bytes], members: Mapping[str, npt.NDArray[Any]]) -> None:
    """An uncompressed npz with fixed timestamps (np.savez's layout, reproducible).

    Members are written in the order of ``members``, each as ``<key>.npy``.
    """
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in members.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, on every platform
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fp:
                np.lib.format.write_array(fp, arr, allow_pickle=False)


def write_atomically(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a new temporary file beside ``path``, then rename it.

    The file is flushed to disk before the rename. If anything fails, the
    temporary file is removed and ``path`` is left as it was.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------- read


@dataclass(frozen=True, slots=True)
class NpzArchive:
    """An open archive whose members passed :func:`open_npz`'s checks.

    ``entries`` maps each key (the member's name without ``.npy``) to its zip
    entry. Use it as a context manager, or call :meth:`close`.
    """

    npz: np.lib.npyio.NpzFile
    entries: dict[str, zipfile.ZipInfo]

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive (not the file object it was opened on)."""
        self.npz.close()

    def declared(self, key: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
        """Shape and dtype from an entry's .npy header, without reading its data."""
        npz, info = self.npz, self.entries[key]
        assert npz.zip is not None
        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        try:
            with npz.zip.open(info) as fp:
                version = np.lib.format.read_magic(fp)
                reader = readers.get(version)
                if reader is not None:
                    shape, _, dtype = reader(fp)
                    offset = fp.tell()
        except zipfile.BadZipFile as exc:
            raise ArchiveError(
                f"array {key} is damaged ({_one_line(exc)}); save the model again"
            ) from exc
        except Exception as exc:  # any failure to parse untrusted bytes
            raise ArchiveError(
                f"array {key} is not a valid .npy array ({_one_line(exc)})"
            ) from exc
        if reader is None:
            _fail(f"array {key} uses .npy version {version}, which is not supported")
        if dtype.hasobject:
            _fail(
                f"array {key} holds Python objects (dtype object); model files hold "
                "only numbers and are never unpickled"
            )
        n_bytes = math.prod(shape) * dtype.itemsize
        if offset + n_bytes != info.file_size:
            _fail(
                f"array {key} is damaged or truncated: its shape {shape} and dtype "
                f"{dtype} need {n_bytes} bytes, the entry holds "
                f"{info.file_size - offset}"
            )
        return shape, dtype

    def read(self, key: str) -> npt.NDArray[Any]:
        """The array of ``key``, in native byte order (check :meth:`declared` first)."""
        try:
            arr = np.asarray(self.npz[key])
        except Exception as exc:  # any failure to parse untrusted bytes
            raise ArchiveError(
                f"array {key} is damaged ({_one_line(exc)}); save the model again"
            ) from exc
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def open_npz(
    f: IO[bytes],
    *,
    kind: str = "gaussmix model file",
    writer: str = "gaussmix.io.save",
) -> NpzArchive:
    """Open the archive at ``f``'s position and check its members.

    ``f`` must be seekable. ``kind`` names the file format in the messages
    (``"it is not a <kind>"``), ``writer`` the function that writes it.

    Raises
    ------
    ArchiveError
        If the file is empty, not a zip archive (a pickle and a single ``.npy``
        are recognised and said), damaged, or has a member that is not a stored,
        unencrypted ``.npy`` array, or the same member twice.
    """
    start = f.tell()
    size = f.seek(0, os.SEEK_END) - start
    f.seek(start)
    if size <= 0:
        _fail("the file is empty")
    magic = f.read(8)
    f.seek(start)
    if not magic.startswith(ZIP_MAGIC):
        _fail(_what_it_is(magic, kind))
    try:
        npz = np.load(f, allow_pickle=False)
    except Exception as exc:  # zipfile raises many kinds on damaged archives
        raise ArchiveError(
            "the file is damaged or truncated: it is not a readable zip archive "
            f"({_one_line(exc)}); save the model again"
        ) from exc
    try:
        if not isinstance(npz, np.lib.npyio.NpzFile):  # pragma: no cover
            _fail("the file is not an .npz archive")
        return NpzArchive(npz, _entries(npz, size, writer))
    except BaseException:
        npz.close()
        raise


def _what_it_is(magic: bytes, kind: str) -> str:
    if magic[:1] == b"\x80" and magic[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            f"it is a Python pickle, not a {kind}; pickles are never "
            "loaded (unpickling can run arbitrary code)"
        )
    if magic.startswith(b"\x93NUMPY"):
        return f"it is a single .npy array, not a {kind} (.npz archive)"
    return f"it is not a {kind} (not an .npz zip archive)"


def _entries(
    npz: np.lib.npyio.NpzFile, size: int, writer: str
) -> dict[str, zipfile.ZipInfo]:
    if npz.zip is None:  # pragma: no cover - np.load always opens the archive
        _fail("the file is not an .npz archive")
    infos = npz.zip.infolist()
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy"):
            _fail(f"unexpected entry {name!r} (model files hold only .npy arrays)")
        if name[:-4] in entries:
            _fail(f"the entry {name!r} appears twice")
        if info.flag_bits & 0x1:
            _fail(f"the entry {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            _fail(
                f"the entry {name!r} is compressed; model files store their arrays "
                f"uncompressed (write them with {writer})"
            )
        entries[name[:-4]] = info
    if sum(i.compress_size for i in infos) > size:
        _fail("the file is damaged or truncated: its entries are larger than the file")
    return entries
