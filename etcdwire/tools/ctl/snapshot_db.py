"""``snapshot status``: read an etcd snapshot (a bbolt database, maybe followed by the 32-byte
SHA-256 trailer etcd appends) and report what ``etcdutl snapshot status`` reports.

bbolt's layout (go.etcd.io/bbolt ``page.go``, ``db.go``): two meta pages at the start, the
valid one with the highest transaction id names the root bucket's page and the number of
pages in use; pages are branch pages (children by first key) or leaf pages (key/value
elements, a flag marking nested buckets); a small bucket's page is stored inline in its
value. Read-only through ``mmap``, so a large file costs no memory.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["DBStatus", "SnapshotFormatError", "crc32c", "snapshot_db_status"]


@dataclass(frozen=True)
class DBStatus:
    """What ``etcdutl snapshot status`` reports: CRC-32C of every bucket name, key and value,
    the revision of the last key in the ``key`` bucket, the number of keys, and the size of the
    database (pages in use times the page size)."""

    hash: int
    revision: int
    total_key: int
    total_size: int


class SnapshotFormatError(Exception):
    """The file is not a bbolt database (or is damaged)."""


_BOLT_MAGIC = 0xED0CDAED
_PAGE_HEADER = 16
_BRANCH, _LEAF = 0x01, 0x02
_BUCKET_LEAF = 0x01


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc``."""
    crc ^= 0xFFFFFFFF
    table = _CRC32C
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _fnv64a(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _meta(buf: Any, offset: int) -> tuple[int, int, int, int] | None:
    """(page size, root page, high water mark page, txid) of a valid meta page, else None."""
    if offset + 80 > len(buf):
        return None
    magic, version, page_size = struct.unpack_from("<III", buf, offset + 16)
    (root,) = struct.unpack_from("<Q", buf, offset + 32)
    high, txid, checksum = struct.unpack_from("<QQQ", buf, offset + 56)
    if magic != _BOLT_MAGIC or version != 2:
        return None
    if _fnv64a(bytes(buf[offset + 16 : offset + 72])) != checksum:
        return None
    return page_size, root, high, txid


def _leaf_items(buf: Any, page: int) -> Iterator[tuple[bytes, bytes, int]]:
    """(key, value, flags) of the page at byte offset ``page`` and everything below it."""
    flags, count = struct.unpack_from("<HH", buf, page + 8)
    base = page + _PAGE_HEADER
    if flags & _LEAF:
        for index in range(count):
            at = base + index * 16
            elem_flags, pos, ksize, vsize = struct.unpack_from("<IIII", buf, at)
            start = at + pos
            yield (
                bytes(buf[start : start + ksize]),
                bytes(buf[start + ksize : start + ksize + vsize]),
                elem_flags,
            )
    elif flags & _BRANCH:
        raise _Branch([struct.unpack_from("<IIQ", buf, base + i * 16)[2] for i in range(count)])
    else:
        raise SnapshotFormatError(f"unexpected page flags {flags:#x}")


class _Branch(Exception):
    def __init__(self, children: list[int]) -> None:
        self.children = children


def _walk(
    buf: Any, page_size: int, high: int, root: int, inline: bytes | None = None
) -> Iterator[tuple[bytes, bytes, int]]:
    """Every (key, value, flags) of a bucket in key order (``inline``: the bucket's page is
    stored in its value). Pages are checked to lie below the high water mark ``high`` and to
    be visited once, so a damaged file cannot send the walk outside the file or round a loop."""
    if inline is None:
        _check_page(root, high, set())
    seen: set[int] = {root}
    stack: list[tuple[Any, int]] = (
        [(memoryview(inline), 0)] if inline is not None else [(buf, root * page_size)]
    )
    while stack:
        source, offset = stack.pop()
        try:
            yield from _leaf_items(source, offset)
        except _Branch as branch:
            for child in branch.children:
                _check_page(child, high, seen)
                seen.add(child)
            stack.extend((buf, child * page_size) for child in reversed(branch.children))


def _check_page(page: int, high: int, seen: set[int]) -> None:
    if not 2 <= page < high:
        raise SnapshotFormatError(f"page {page} is outside the database (pages 2..{high - 1})")
    if page in seen:
        raise SnapshotFormatError(f"page {page} is referenced twice")


def snapshot_db_status(path: str | os.PathLike[str]) -> DBStatus:
    """Read a snapshot (a bbolt database, maybe followed by etcd's SHA-256 trailer) as
    ``etcdutl snapshot status`` does."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size < 4096:
            raise SnapshotFormatError(f"{os.fspath(path)} is too small to be a snapshot")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _db_status(buf)


def _db_status(buf: Any) -> DBStatus:
    first = _meta(buf, 0)
    page_size = first[0] if first else struct.unpack_from("<I", buf, 24)[0]
    second = _meta(buf, page_size) if 512 <= page_size <= 1 << 20 else None
    metas = [meta for meta in (first, second) if meta is not None]
    if not metas:
        raise SnapshotFormatError("not a bbolt database (no valid meta page)")
    page_size, root, high, _ = max(metas, key=lambda meta: meta[3])
    if len(buf) < high * page_size:
        raise SnapshotFormatError(
            f"truncated: {len(buf)} bytes, the database needs {high * page_size}"
        )
    crc, revision, keys = 0, 0, 0
    try:
        for name, value, flags in _walk(buf, page_size, high, root):
            if not flags & _BUCKET_LEAF:
                continue
            crc = crc32c(name, crc)
            (bucket_root,) = struct.unpack_from("<Q", value, 0)
            inline = value[16:] if bucket_root == 0 else None
            for key, item, item_flags in _walk(buf, page_size, high, bucket_root, inline):
                crc = crc32c(key, crc)
                if not item_flags & _BUCKET_LEAF:
                    crc = crc32c(item, crc)
                if name == b"key" and len(key) >= 8:
                    revision = struct.unpack_from(">q", key, 0)[0]
                keys += 1
    except (struct.error, IndexError, ValueError) as exc:
        raise SnapshotFormatError(f"damaged bbolt database: {exc}") from exc
    return DBStatus(hash=crc, revision=revision, total_key=keys, total_size=high * page_size)
