"""Txn guards as data: :class:`Compare` (one comparison of a key's value, version, create or
mod revision, or lease) built with the operators of :class:`CompareSubject`, after etcd's Go
client (client/v3/compare.go)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .._pb import rpc_pb2
from ..errors import UsageError
from .checks import as_bytes, as_count, as_member, check_key, check_range, resolve_range

__all__ = [
    "Compare",
    "CompareResult",
    "CompareSubject",
    "CompareTarget",
    "key_exists",
    "key_missing",
]


class CompareTarget(enum.Enum):
    """What a comparison looks at (Compare.CompareTarget)."""

    VERSION = 0
    CREATE_REVISION = 1
    MOD_REVISION = 2
    VALUE = 3
    LEASE = 4


class CompareResult(enum.Enum):
    """The relation a comparison asks for (Compare.CompareResult)."""

    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


_PB_TARGET = {
    CompareTarget.VERSION: rpc_pb2.Compare.VERSION,
    CompareTarget.CREATE_REVISION: rpc_pb2.Compare.CREATE,
    CompareTarget.MOD_REVISION: rpc_pb2.Compare.MOD,
    CompareTarget.VALUE: rpc_pb2.Compare.VALUE,
    CompareTarget.LEASE: rpc_pb2.Compare.LEASE,
}
_PB_RESULT = {
    CompareResult.EQUAL: rpc_pb2.Compare.EQUAL,
    CompareResult.GREATER: rpc_pb2.Compare.GREATER,
    CompareResult.LESS: rpc_pb2.Compare.LESS,
    CompareResult.NOT_EQUAL: rpc_pb2.Compare.NOT_EQUAL,
}
_UNION_FIELD = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE_REVISION: "create_revision",
    CompareTarget.MOD_REVISION: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}


@dataclass(frozen=True, slots=True)
class Compare:
    """One txn guard: ``target`` of ``key`` (or of every key in [key, range_end)) compared
    with ``operand``. Build it with the operators of :class:`CompareSubject`::

        Compare.value("k") == b"v"       Compare.version("k") == 0   # key absent
        Compare.mod_revision("k") < 42   Compare.lease("k") != 0

    etcd evaluates a value comparison on a missing key as false, and a numeric one as if the
    key had all zero fields (server/etcdserver/apply.go ``applyCompare``).
    """

    key: bytes
    target: CompareTarget
    result: CompareResult
    operand: bytes | int
    range_end: bytes = b""

    def __post_init__(self) -> None:
        check_key(self.key, "compare")
        check_range(self.key, self.range_end, "compare")
        object.__setattr__(self, "target", as_member(self.target, CompareTarget, "target"))
        object.__setattr__(self, "result", as_member(self.result, CompareResult, "result"))
        if self.target is CompareTarget.VALUE:
            if not isinstance(self.operand, bytes):
                raise UsageError(
                    f"compare: a value is compared with bytes, not {type(self.operand).__name__}"
                )
        else:
            as_count(self.operand, f"compare: the {self.target.name.lower()} operand")

    def __bool__(self) -> bool:
        raise UsageError(
            "a Compare is evaluated by etcd inside a txn, not by Python; pass it to Op.txn()"
        )

    @staticmethod
    def value(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the value of ``key`` (with bytes or str)."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.VALUE)

    @staticmethod
    def version(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the version of ``key`` (0 when the key does not exist)."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.VERSION)

    @staticmethod
    def create_revision(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the revision at which ``key`` was created."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.CREATE_REVISION)

    @staticmethod
    def mod_revision(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the revision at which ``key`` was last modified."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.MOD_REVISION)

    @staticmethod
    def lease(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the lease ID attached to ``key`` (0: no lease)."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.LEASE)

    def to_pb(self) -> rpc_pb2.Compare:
        message = rpc_pb2.Compare(
            key=self.key,
            range_end=self.range_end,
            target=_PB_TARGET[self.target],
            result=_PB_RESULT[self.result],
        )
        # Setting the member selects the oneof case even for 0, so the target is explicit.
        setattr(message, _UNION_FIELD[self.target], self.operand)
        return message


@dataclass(frozen=True, slots=True, eq=False)
class CompareSubject:
    """The left side of a comparison; ``==``, ``!=``, ``<`` and ``>`` turn it into a
    :class:`Compare`. etcd has no ``<=`` or ``>=``."""

    key: bytes
    range_end: bytes
    target: CompareTarget

    def __post_init__(self) -> None:
        check_key(self.key, "compare")
        check_range(self.key, self.range_end, "compare")

    @classmethod
    def _make(
        cls, key: object, range_end: object, prefix: bool, target: CompareTarget
    ) -> CompareSubject:
        raw_key, end = resolve_range(key, range_end, prefix, False, "compare")
        return cls(key=raw_key, range_end=end, target=target)

    def _compare(self, result: CompareResult, operand: object) -> Compare:
        if self.target is CompareTarget.VALUE:
            operand = as_bytes(operand, "compare: the value operand")
        elif isinstance(operand, bool) or not isinstance(operand, int):
            raise UsageError(
                f"compare: the {self.target.name.lower()} of a key is compared with an int, "
                f"not {type(operand).__name__}"
            )
        return Compare(
            key=self.key,
            target=self.target,
            result=result,
            operand=operand,
            range_end=self.range_end,
        )

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return self._compare(CompareResult.EQUAL, other)

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return self._compare(CompareResult.NOT_EQUAL, other)

    def __lt__(self, other: object) -> Compare:
        return self._compare(CompareResult.LESS, other)

    def __gt__(self, other: object) -> Compare:
        return self._compare(CompareResult.GREATER, other)

    def __le__(self, other: object) -> Compare:
        raise UsageError("etcd compares with =, !=, < and > only; for <= n use < n + 1")

    def __ge__(self, other: object) -> Compare:
        raise UsageError("etcd compares with =, !=, < and > only; for >= n use > n - 1")

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise UsageError(
            "an unfinished comparison has no truth value; complete it with ==, !=, < or >"
        )


def key_exists(key: bytes | str) -> Compare:
    """Holds when ``key`` exists (Go's clientv3util.KeyExists: version > 0)."""
    return Compare.version(key) > 0


def key_missing(key: bytes | str) -> Compare:
    """Holds when ``key`` does not exist (Go's clientv3util.KeyMissing: version == 0)."""
    return Compare.version(key) == 0
