"""Authentication and access control through the client against real etcd: users with and
without passwords, roles with permissions on a key, a range, a prefix and everything from a
key on, enable / status / authenticate / disable, the errors by name, and interop with
etcdctl in both directions (issue "Administration", points 1 and 3)."""

from __future__ import annotations

from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    AuthFailed,
    AuthNotEnabled,
    PermissionDenied,
    PermissionNotGranted,
    RoleAlreadyExists,
    RoleEmpty,
    RoleNotFound,
    RoleNotGranted,
    RootUserNotExist,
    UsageError,
    UserAlreadyExists,
    UserEmpty,
    UserNotFound,
)
from etcdwire._etcd import methods
from etcdwire._pb import rpc_pb2
from etcdwire.types import Permission, PermissionType

pytestmark = pytest.mark.etcd

READ, WRITE, READWRITE = PermissionType.READ, PermissionType.WRITE, PermissionType.READWRITE


async def test_users_and_roles_round_trip(etcd_factory: Any) -> None:
    member = etcd_factory()
    async with AsyncClient(member.url) as client:
        auth = client.auth
        assert (await auth.auth_status()).enabled is False
        await auth.role_add("app")
        await auth.role_grant_permission("app", READ, "config/", prefix=True)
        await auth.role_grant_permission("app", "readwrite", "app/data")
        await auth.role_grant_permission("app", "write", "logs/a", "logs/m")
        await auth.role_grant_permission("app", READ, "z", from_key=True)
        role = await auth.role_get("app")
        assert role.name == "app"
        assert set(role.permissions) == {
            Permission(READ, b"config/", b"config0"),
            Permission(READWRITE, b"app/data", b""),
            Permission(WRITE, b"logs/a", b"logs/m"),
            Permission(READ, b"z", b"\0"),
        }
        await auth.role_revoke_permission("app", "logs/a", "logs/m")
        await auth.role_revoke_permission("app", "config/", prefix=True)
        assert {p.key for p in (await auth.role_get("app")).permissions} == {b"app/data", b"z"}
        with pytest.raises(PermissionNotGranted, match="permission is not granted to the role"):
            await auth.role_revoke_permission("app", "never/granted")

        await auth.user_add("alice", "s3cret")
        await auth.user_add("certonly")  # no password: client certificates only
        await auth.user_grant_role("alice", "app")
        assert (await auth.user_get("alice")).roles == ("app",)
        assert (await auth.user_get("certonly")).roles == ()
        assert {"alice", "certonly"} <= set((await auth.user_list()).users)
        assert "app" in (await auth.role_list()).roles
        await auth.user_change_password("alice", "n3w")
        with pytest.raises(AuthNotEnabled, match="authentication is not enabled"):
            await auth.authenticate("alice", "n3w")
        await auth.user_revoke_role("alice", "app")
        assert (await auth.user_get("alice")).roles == ()
        with pytest.raises(RoleNotGranted, match="role is not granted to the user"):
            await auth.user_revoke_role("alice", "app")

        with pytest.raises(UserAlreadyExists, match="user name already exists"):
            await auth.user_add("alice", "again")
        with pytest.raises(RoleAlreadyExists, match="role name already exists"):
            await auth.role_add("app")
        with pytest.raises(RoleNotFound, match="role name not found"):
            await auth.user_grant_role("alice", "no-such-role")
        await auth.user_delete("certonly")
        await auth.role_delete("app")
        with pytest.raises(UserNotFound, match="user name not found"):
            await auth.user_get("certonly")
        with pytest.raises(RoleNotFound):
            await auth.role_get("app")
        with pytest.raises(UsageError):
            await auth.role_add("")
        with pytest.raises(UsageError):
            await auth.user_add("bob", "")
        with pytest.raises(UsageError):
            await auth.role_grant_permission("r", "execute", "k")
        with pytest.raises(UsageError):
            await auth.role_grant_permission("r", READ, "k", "l", prefix=True)


async def test_enable_authenticate_status_and_disable(etcd_factory: Any) -> None:
    member = etcd_factory()
    async with AsyncClient(member.url) as admin:
        initial = (await admin.auth.auth_status()).auth_revision
        with pytest.raises(RootUserNotExist, match="root user does not exist"):
            await admin.auth.auth_enable()
        await admin.auth.user_add("root", "rootpw")
        await admin.auth.user_grant_role("root", "root")
        await admin.auth.role_add("reader")
        await admin.auth.role_grant_permission("reader", READ, "", prefix=True)  # every key
        await admin.auth.role_add("app")
        await admin.auth.role_grant_permission("app", READWRITE, "app/", prefix=True)
        await admin.auth.user_add("alice", "pw")
        await admin.auth.user_grant_role("alice", "app")
        await admin.auth.user_add("rita", "pw")
        await admin.auth.user_grant_role("rita", "reader")
        await admin.auth.user_add("certonly")  # no password: client certificates only
        await admin.put("outside", "x")
        await admin.auth.auth_enable()
        with pytest.raises(UserEmpty):  # no credentials: etcd refuses everything
            await admin.get("app/k")
    async with AsyncClient(member.url, username="root", password="rootpw") as root:
        status = await root.auth.auth_status()
        assert status.enabled and status.auth_revision > initial
        answer = await root.auth.authenticate("alice", "pw")
        token = answer.token
        assert token and token not in repr(answer)
        with pytest.raises(AuthFailed, match="invalid user ID or password"):
            await root.auth.authenticate("alice", "wrong")
        with pytest.raises(AuthFailed, match="no password user"):
            await root.auth.authenticate("certonly", "anything")
    async with AsyncClient(member.url, token=token) as alice:
        await alice.put("app/k", "v")
        assert (await alice.get("app/k")).value == b"v"
        with pytest.raises(PermissionDenied, match="permission denied"):
            await alice.get("outside")
        with pytest.raises(PermissionDenied):
            await alice.auth.user_list()  # needs the root role
    async with AsyncClient(member.url, username="rita", password="pw") as rita:
        assert (await rita.get("outside")).value == b"x"
        assert (await rita.get("app/k")).value == b"v"
        with pytest.raises(PermissionDenied):
            await rita.put("app/k", "w")
    async with AsyncClient(member.url, username="root", password="rootpw") as root:
        await root.auth.auth_disable()
    async with AsyncClient(member.url) as anyone:
        assert (await anyone.auth.auth_status()).enabled is False
        assert (await anyone.get("outside")).value == b"x"


async def test_users_and_roles_made_by_etcdctl_are_used_by_etcdwire(
    etcd_factory: Any, etcdctl: Any
) -> None:
    member = etcd_factory()
    for args in (
        ("user", "add", "root", "--new-user-password=rootpw"),
        ("user", "grant-role", "root", "root"),
        ("role", "add", "ops"),
        ("role", "grant-permission", "ops", "readwrite", "ops/", "--prefix=true"),
        ("role", "grant-permission", "ops", "read", "a", "c"),
        ("user", "add", "olga", "--new-user-password=olgapw"),
        ("user", "grant-role", "olga", "ops"),
        ("user", "add", "nopass", "--no-password"),
        ("auth", "enable"),
    ):
        etcdctl(*args, member=member, check=True)
    async with AsyncClient(member.url, username="root", password="rootpw") as root:
        assert (await root.auth.user_get("olga")).roles == ("ops",)
        assert set((await root.auth.role_get("ops")).permissions) == {
            Permission(READWRITE, b"ops/", b"ops0"),
            Permission(READ, b"a", b"c"),
        }
        assert {"root", "olga", "nopass"} <= set((await root.auth.user_list()).users)
        with pytest.raises(AuthFailed):
            await root.auth.authenticate("nopass", "guess")
        await root.put("b", "readable")
    async with AsyncClient(member.url, username="olga", password="olgapw") as olga:
        await olga.put("ops/k", "by-olga")
        assert (await olga.get("b")).value == b"readable"
        with pytest.raises(PermissionDenied):
            await olga.put("b", "nope")
    got = etcdctl("get", "ops/k", "--print-value-only", "--user=olga:olgapw", member=member)
    assert got.stdout.strip() == "by-olga"


async def test_users_and_roles_made_by_etcdwire_are_used_by_etcdctl(
    etcd_factory: Any, etcdctl: Any
) -> None:
    member = etcd_factory()
    async with AsyncClient(member.url) as admin:
        await admin.auth.user_add("root", "rootpw")
        await admin.auth.user_grant_role("root", "root")
        await admin.auth.role_add("writer")
        await admin.auth.role_grant_permission("writer", WRITE, "w/", prefix=True)
        await admin.auth.role_grant_permission("writer", READWRITE, "w/", prefix=True)
        (granted,) = (await admin.auth.role_get("writer")).permissions  # the grant replaced
        assert granted == Permission(READWRITE, b"w/", b"w0")
        await admin.auth.user_add("wendy", "wendypw")
        await admin.auth.user_grant_role("wendy", "writer")
        await admin.auth.auth_enable()
    shown = etcdctl("role", "get", "writer", "--user=root:rootpw", member=member, check=True)
    assert "[w/, w0) (prefix w/)" in shown.stdout
    user = etcdctl("user", "get", "wendy", "--user=root:rootpw", member=member, check=True)
    assert "Roles: writer" in user.stdout
    etcdctl("put", "w/k", "by-wendy", "--user=wendy:wendypw", member=member, check=True)
    denied = etcdctl("put", "other", "x", "--user=wendy:wendypw", member=member)
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    wrong = etcdctl("get", "w/k", "--user=wendy:nope", member=member)
    assert wrong.returncode != 0 and "authentication failed" in wrong.stderr
    async with AsyncClient(member.url, username="root", password="rootpw") as root:
        assert (await root.get("w/k")).value == b"by-wendy"
        await root.auth.role_revoke_permission("writer", "w/", prefix=True)
    denied = etcdctl("put", "w/k", "again", "--user=wendy:wendypw", member=member)
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    async with AsyncClient(member.url, username="root", password="rootpw") as root:
        with pytest.raises(RoleEmpty, match="role name is empty"):  # past the client's check
            await root.manager.unary(
                methods.AUTH_ROLE_ADD, rpc_pb2.AuthRoleAddRequest(name=""), deadline=None
            )
