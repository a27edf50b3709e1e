"""SETTINGS values (RFC 9113 §6.5.2): defaults, validation of what a server sends, and the
SETTINGS frame a client sends.

:class:`Settings` holds one side's values. ``None`` means "unlimited", the initial value of
MAX_CONCURRENT_STREAMS and MAX_HEADER_LIST_SIZE.
"""

from __future__ import annotations

from etcdwire._h2.frames import (
    MAX_FRAME_SIZE_LIMIT,
    MAX_WINDOW_INCREMENT,
    MIN_MAX_FRAME_SIZE,
    ErrorCode,
    SettingCode,
)
from etcdwire.errors import UsageError

__all__ = [
    "DEFAULT_INITIAL_WINDOW_SIZE",
    "MAX_WINDOW_SIZE",
    "SettingCode",
    "Settings",
    "check_remote_setting",
    "client_settings",
]

DEFAULT_INITIAL_WINDOW_SIZE = 65_535
MAX_WINDOW_SIZE = MAX_WINDOW_INCREMENT  # 2**31 - 1

_ATTRIBUTES: dict[int, str] = {
    SettingCode.HEADER_TABLE_SIZE: "header_table_size",
    SettingCode.ENABLE_PUSH: "enable_push",
    SettingCode.MAX_CONCURRENT_STREAMS: "max_concurrent_streams",
    SettingCode.INITIAL_WINDOW_SIZE: "initial_window_size",
    SettingCode.MAX_FRAME_SIZE: "max_frame_size",
    SettingCode.MAX_HEADER_LIST_SIZE: "max_header_list_size",
}


class Settings:
    """The six RFC 9113 settings of one endpoint, starting at their initial values (§6.5.2)."""

    __slots__ = (
        "enable_push",
        "header_table_size",
        "initial_window_size",
        "max_concurrent_streams",
        "max_frame_size",
        "max_header_list_size",
    )

    def __init__(self) -> None:
        self.header_table_size: int = 4_096
        self.enable_push: int = 1
        self.max_concurrent_streams: int | None = None
        self.initial_window_size: int = DEFAULT_INITIAL_WINDOW_SIZE
        self.max_frame_size: int = MIN_MAX_FRAME_SIZE
        self.max_header_list_size: int | None = None

    @staticmethod
    def is_known(code: int) -> bool:
        return code in _ATTRIBUTES

    def get(self, code: int) -> int | None:
        """The value of a known setting; KeyError for an unknown identifier."""
        value: int | None = getattr(self, _ATTRIBUTES[code])
        return value

    def set(self, code: int, value: int) -> int | None:
        """Store a known setting and return its previous value."""
        name = _ATTRIBUTES[code]
        old: int | None = getattr(self, name)
        setattr(self, name, value)
        return old

    def as_dict(self) -> dict[SettingCode, int | None]:
        return {SettingCode(code): getattr(self, name) for code, name in _ATTRIBUTES.items()}

    def __repr__(self) -> str:
        values = ", ".join(f"{code.name}={value}" for code, value in self.as_dict().items())
        return f"Settings({values})"


def check_remote_setting(code: int, value: int) -> tuple[ErrorCode, str] | None:
    """Validate one value a *server* sent (§6.5.2); the connection error to raise, or None.

    Unknown identifiers are fine (they MUST be ignored)."""
    if code == SettingCode.ENABLE_PUSH:
        if value not in (0, 1):
            return ErrorCode.PROTOCOL_ERROR, f"ENABLE_PUSH={value} is not 0 or 1"
        if value == 1:
            return ErrorCode.PROTOCOL_ERROR, "a server must not set ENABLE_PUSH to 1"
    elif code == SettingCode.INITIAL_WINDOW_SIZE:
        if value > MAX_WINDOW_SIZE:
            return ErrorCode.FLOW_CONTROL_ERROR, f"INITIAL_WINDOW_SIZE={value} exceeds 2**31-1"
    elif code == SettingCode.MAX_FRAME_SIZE and not (
        MIN_MAX_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT
    ):
        return ErrorCode.PROTOCOL_ERROR, f"MAX_FRAME_SIZE={value} outside 16384..16777215"
    return None


def client_settings(
    *,
    header_table_size: int,
    initial_window_size: int,
    max_frame_size: int,
    max_header_list_size: int,
) -> tuple[Settings, list[tuple[int, int]]]:
    """Our settings and the pairs for our first SETTINGS frame: push disabled, and every value
    that differs from its initial value. Bad arguments raise :class:`UsageError`."""
    if not 0 <= header_table_size <= 2**32 - 1:
        raise UsageError(f"header_table_size {header_table_size} out of range")
    if not 0 <= initial_window_size <= MAX_WINDOW_SIZE:
        raise UsageError(f"initial_window_size {initial_window_size} out of range 0..2**31-1")
    if not MIN_MAX_FRAME_SIZE <= max_frame_size <= MAX_FRAME_SIZE_LIMIT:
        raise UsageError(f"max_frame_size {max_frame_size} out of range 16384..16777215")
    if not 0 <= max_header_list_size <= 2**32 - 1:
        raise UsageError(f"max_header_list_size {max_header_list_size} out of range")
    defaults = Settings()
    ours = Settings()
    ours.enable_push = 0
    ours.header_table_size = header_table_size
    ours.initial_window_size = initial_window_size
    ours.max_frame_size = max_frame_size
    ours.max_header_list_size = max_header_list_size
    pairs: list[tuple[int, int]] = [(SettingCode.ENABLE_PUSH, 0)]
    for code in (
        SettingCode.HEADER_TABLE_SIZE,
        SettingCode.INITIAL_WINDOW_SIZE,
        SettingCode.MAX_FRAME_SIZE,
        SettingCode.MAX_HEADER_LIST_SIZE,
    ):
        value = ours.get(code)
        if value is not None and value != defaults.get(code):
            pairs.append((code, value))
    return ours, pairs
