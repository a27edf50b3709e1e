"""The Auth service: turn authentication on and off, get tokens, and manage users, roles and
the permissions of roles on keys, ranges and prefixes (etcd's api/etcdserverpb Auth)."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from .._etcd import methods
from .._etcd.convert_admin import (
    as_bytes,
    auth_header,
    auth_status,
    authenticate,
    permission_range,
    permission_type,
    role_get,
    role_list,
    user_get,
    user_list,
)
from .._grpc.method import Method
from .._pb import auth_pb2, rpc_pb2
from ..errors import UsageError
from ..types import (
    AuthenticateResponse,
    AuthResponse,
    AuthStatus,
    PermissionType,
    RoleGetResponse,
    RoleListResponse,
    UserGetResponse,
    UserListResponse,
)
from .channel import call_deadline
from .manager import AsyncConnectionManager

__all__ = ["AsyncAuth"]

ReqT = TypeVar("ReqT", bound=Message)
RespT = TypeVar("RespT", bound=Message)
Key = bytes | str


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{what} must be a non-empty string, got {value!r}")
    return value


class AsyncAuth:
    """Authentication and access control. Every call but ``authenticate`` and ``auth_status``
    needs the root role once authentication is enabled."""

    def __init__(self, manager: AsyncConnectionManager, *, timeout: float | None) -> None:
        self._manager = manager
        self._timeout = timeout

    def _deadline(self, timeout: float | None) -> float | None:
        return call_deadline(timeout, self._timeout)

    async def _call(
        self, method: Method[ReqT, RespT], request: ReqT, timeout: float | None
    ) -> RespT:
        return await self._manager.unary(method, request, deadline=self._deadline(timeout))

    # --- the switch ---------------------------------------------------------------------------

    async def auth_enable(self, *, timeout: float | None = None) -> AuthResponse:
        """Turn authentication on (the ``root`` user with the ``root`` role must exist)."""
        return auth_header(
            await self._call(methods.AUTH_ENABLE, rpc_pb2.AuthEnableRequest(), timeout)
        )

    async def auth_disable(self, *, timeout: float | None = None) -> AuthResponse:
        """Turn authentication off."""
        return auth_header(
            await self._call(methods.AUTH_DISABLE, rpc_pb2.AuthDisableRequest(), timeout)
        )

    async def auth_status(self, *, timeout: float | None = None) -> AuthStatus:
        """Whether authentication is on, and the auth store's revision."""
        return auth_status(
            await self._call(methods.AUTH_STATUS, rpc_pb2.AuthStatusRequest(), timeout)
        )

    async def authenticate(
        self, name: str, password: str, *, timeout: float | None = None
    ) -> AuthenticateResponse:
        """A token for ``name`` (the client fetches its own from ``username``/``password``;
        this is for handing a token to something else)."""
        request = rpc_pb2.AuthenticateRequest(name=_name(name, "user name"), password=password)
        return authenticate(await self._call(methods.AUTH_AUTHENTICATE, request, timeout))

    # --- users --------------------------------------------------------------------------------

    async def user_add(
        self, name: str, password: str | None = None, *, timeout: float | None = None
    ) -> AuthResponse:
        """Add a user. Without a password the user can only be used with client certificates
        (etcd's ``no_password`` option)."""
        if password is not None and not isinstance(password, str):
            raise UsageError("password must be a string or None")
        if password == "":
            raise UsageError("empty password: pass None for a user without a password")
        request = rpc_pb2.AuthUserAddRequest(
            name=_name(name, "user name"),
            password=password or "",
            options=auth_pb2.UserAddOptions(no_password=password is None),
        )
        return auth_header(await self._call(methods.AUTH_USER_ADD, request, timeout))

    async def user_get(self, name: str, *, timeout: float | None = None) -> UserGetResponse:
        """A user and its roles."""
        request = rpc_pb2.AuthUserGetRequest(name=_name(name, "user name"))
        return user_get(await self._call(methods.AUTH_USER_GET, request, timeout), name)

    async def user_list(self, *, timeout: float | None = None) -> UserListResponse:
        """Every user."""
        return user_list(
            await self._call(methods.AUTH_USER_LIST, rpc_pb2.AuthUserListRequest(), timeout)
        )

    async def user_delete(self, name: str, *, timeout: float | None = None) -> AuthResponse:
        """Delete a user."""
        request = rpc_pb2.AuthUserDeleteRequest(name=_name(name, "user name"))
        return auth_header(await self._call(methods.AUTH_USER_DELETE, request, timeout))

    async def user_change_password(
        self, name: str, password: str, *, timeout: float | None = None
    ) -> AuthResponse:
        """Set a user's password."""
        if not isinstance(password, str) or not password:
            raise UsageError("the new password must be a non-empty string")
        request = rpc_pb2.AuthUserChangePasswordRequest(
            name=_name(name, "user name"), password=password
        )
        return auth_header(await self._call(methods.AUTH_USER_CHANGE_PASSWORD, request, timeout))

    async def user_grant_role(
        self, user: str, role: str, *, timeout: float | None = None
    ) -> AuthResponse:
        """Grant ``role`` to ``user``."""
        request = rpc_pb2.AuthUserGrantRoleRequest(
            user=_name(user, "user name"), role=_name(role, "role name")
        )
        return auth_header(await self._call(methods.AUTH_USER_GRANT_ROLE, request, timeout))

    async def user_revoke_role(
        self, user: str, role: str, *, timeout: float | None = None
    ) -> AuthResponse:
        """Take ``role`` away from ``user``."""
        request = rpc_pb2.AuthUserRevokeRoleRequest(
            name=_name(user, "user name"), role=_name(role, "role name")
        )
        return auth_header(await self._call(methods.AUTH_USER_REVOKE_ROLE, request, timeout))

    # --- roles --------------------------------------------------------------------------------

    async def role_add(self, name: str, *, timeout: float | None = None) -> AuthResponse:
        """Add a role (with no permissions yet)."""
        request = rpc_pb2.AuthRoleAddRequest(name=_name(name, "role name"))
        return auth_header(await self._call(methods.AUTH_ROLE_ADD, request, timeout))

    async def role_get(self, name: str, *, timeout: float | None = None) -> RoleGetResponse:
        """A role and its permissions."""
        request = rpc_pb2.AuthRoleGetRequest(role=_name(name, "role name"))
        return role_get(await self._call(methods.AUTH_ROLE_GET, request, timeout), name)

    async def role_list(self, *, timeout: float | None = None) -> RoleListResponse:
        """Every role."""
        return role_list(
            await self._call(methods.AUTH_ROLE_LIST, rpc_pb2.AuthRoleListRequest(), timeout)
        )

    async def role_delete(self, name: str, *, timeout: float | None = None) -> AuthResponse:
        """Delete a role (users lose it)."""
        request = rpc_pb2.AuthRoleDeleteRequest(role=_name(name, "role name"))
        return auth_header(await self._call(methods.AUTH_ROLE_DELETE, request, timeout))

    async def role_grant_permission(
        self,
        role: str,
        perm: PermissionType | str,
        key: Key,
        range_end: Key | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        timeout: float | None = None,
    ) -> AuthResponse:
        """Let ``role`` read, write or both (``perm``: a PermissionType or "read", "write",
        "readwrite") on ``key``, on ``[key, range_end)``, on every key starting with ``key``
        (``prefix``) or on every key from ``key`` on (``from_key``). An empty key with
        ``prefix`` or ``from_key`` means every key."""
        start, end = permission_range(key, range_end, prefix=prefix, from_key=from_key)
        request = rpc_pb2.AuthRoleGrantPermissionRequest(
            name=_name(role, "role name"),
            perm=auth_pb2.Permission(permType=permission_type(perm).name, key=start, range_end=end),
        )
        return auth_header(await self._call(methods.AUTH_ROLE_GRANT_PERMISSION, request, timeout))

    async def role_revoke_permission(
        self,
        role: str,
        key: Key,
        range_end: Key | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        timeout: float | None = None,
    ) -> AuthResponse:
        """Take back the permission ``role`` has on exactly this key, range or prefix."""
        start, end = permission_range(key, range_end, prefix=prefix, from_key=from_key)
        request = rpc_pb2.AuthRoleRevokePermissionRequest(
            role=_name(role, "role name"), key=as_bytes(start), range_end=end
        )
        return auth_header(await self._call(methods.AUTH_ROLE_REVOKE_PERMISSION, request, timeout))
