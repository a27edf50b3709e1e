"""A 3-member etcd cluster behind fault proxies, and the scheduler that breaks it.

Each member gets two :class:`FaultProxy`: one in front of its client port (clients are given
only the proxies' endpoints) and one in front of its peer port, which the member advertises as
its peer URL, so every raft connection the *other* members dial to it passes the proxy. In
etcd's rafthttp a member's messages to a peer travel on the stream that the peer dialled to it,
and pipeline (POST) messages go to the advertised URL too; black-holing a member's peer proxy
therefore silences it towards both peers: it can no longer lead, vote, or forward proposals and
read-index requests. ``test_peer_black_hole_takes_leadership_away`` checks this with leader
changes.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

from etcdwire.tools.embedded import EmbeddedCluster, EtcdMember
from tests.fakes.fault_proxy import FaultProxy

__all__ = ["FAULT_KINDS", "FaultScheduler", "ProxiedCluster"]

# keepalive PINGs every second are allowed (etcd's default minimum is 5 s)
SERVER_FLAGS = ("--grpc-keepalive-min-time=1s",)


class ProxiedCluster:
    """``EmbeddedCluster(size)`` with a client proxy and a peer proxy per member."""

    def __init__(self, size: int = 3, *, name_prefix: str = "chaos") -> None:
        self.cluster = EmbeddedCluster(
            size,
            name_prefix=name_prefix,
            unsafe_no_fsync=True,
            log_level="warn",
            extra_args=SERVER_FLAGS,
        )
        self.client_proxies: list[FaultProxy] = []
        self.peer_proxies: list[FaultProxy] = []
        try:
            for member in self.cluster:
                client = FaultProxy(_client_address(member), name=f"{member.name}-client")
                peer = FaultProxy(_peer_address(member), name=f"{member.name}-peer")
                self.client_proxies.append(client.start())
                self.peer_proxies.append(peer.start())
                member.advertise_client_url = client.url
                member.advertise_peer_url = peer.url
        except BaseException:
            self.close()
            raise

    @property
    def members(self) -> list[EtcdMember]:
        return self.cluster.members

    @property
    def endpoints(self) -> list[str]:
        """The client proxies' ``host:port`` (what clients should be given)."""
        return [proxy.endpoint for proxy in self.client_proxies]

    @property
    def proxies(self) -> list[FaultProxy]:
        return [*self.client_proxies, *self.peer_proxies]

    def start(self) -> ProxiedCluster:
        self.cluster.start()
        return self

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.close()
        self.cluster.close()

    def heal(self) -> None:
        """Every proxy back to pass-through, every member running and not paused."""
        for proxy in self.proxies:
            proxy.pass_through()
        for member in self.members:
            if member.paused:
                member.resume()
            elif not member.running:
                member.start(wait=False)

    def healthy(self) -> bool:
        return all(m.running and not m.paused and m.is_healthy(0.5) for m in self.members)

    def wait_healthy(self, timeout: float) -> float:
        """Seconds it took until every member reported healthy; TimeoutError past ``timeout``."""
        started = time.monotonic()
        while not self.healthy():
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"cluster not healthy after {timeout:.0f}s: {self.members}")
            time.sleep(0.1)
        return time.monotonic() - started

    def leader_index(self) -> int | None:
        for index, member in enumerate(self.members):
            if member.running and not member.paused:
                with contextlib.suppress(RuntimeError):
                    if member.is_leader():
                        return index
        return None

    def proxy_socket_fds(self) -> set[int]:
        fds: set[int] = set()
        for proxy in self.proxies:
            fds |= proxy.socket_fds()
        return fds

    def __enter__(self) -> ProxiedCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _client_address(member: EtcdMember) -> Callable[[], tuple[str, int]]:
    return lambda: (member.host, member.client_port)


def _peer_address(member: EtcdMember) -> Callable[[], tuple[str, int]]:
    return lambda: (member.host, member.peer_port)


# (kind, needs a hold time): one-shot faults act once; the others last until healed
FAULT_KINDS: dict[str, bool] = {
    "kill": True,  # SIGKILL, restart later on the same data
    "stop": True,  # SIGTERM (a leader hands over), restart later
    "pause": True,  # SIGSTOP: the process answers nobody, sockets stay open
    "partition": True,  # peer proxy black hole: cut off from the other members
    "client-black-hole": True,  # client proxy black hole: clients' connections hang
    "latency": True,  # client proxy adds latency both ways
    "split": True,  # client proxy forwards in pieces of a few bytes
    "cut": False,  # client proxy closes every connection with FIN
    "reset": False,  # client proxy closes every connection with RST
    "peer-reset": False,  # peer proxy resets raft connections
}


class FaultScheduler(threading.Thread):
    """Injects one fault at a time into one member, heals it, and waits until the whole
    cluster is healthy again before the next: quorum is never lost for longer than one
    fault's hold time plus the recovery bound (``recovery_bound``, else the run fails)."""

    def __init__(
        self,
        pcluster: ProxiedCluster,
        stop: threading.Event,
        *,
        seed: int = 1,
        hold: tuple[float, float] = (1.0, 6.0),
        gap: tuple[float, float] = (0.5, 2.0),
        recovery_bound: float = 30.0,
    ) -> None:
        super().__init__(name="chaos-scheduler", daemon=True)
        self.pcluster = pcluster
        self.stop = stop
        self.rng = random.Random(seed)
        self.hold = hold
        self.gap = gap
        self.recovery_bound = recovery_bound
        self.injected: Counter[str] = Counter()
        self.timeline: list[str] = []
        self.leader_changes = 0
        self.leaderless_seconds = 0.0
        self.longest_recovery = 0.0
        self.failure: str | None = None
        self._leader: int | None = None
        self._t0 = time.monotonic()

    def run(self) -> None:
        self._leader = self.pcluster.leader_index()
        try:
            while not self.stop.is_set():
                self._watch(self.rng.uniform(*self.gap))
                if self.stop.is_set():
                    break
                self._one_fault()
        except Exception as exc:
            self.failure = f"scheduler crashed: {exc!r}"
            self.stop.set()
        finally:
            with contextlib.suppress(Exception):
                self.pcluster.heal()

    def _one_fault(self) -> None:
        kind = self.rng.choice(list(FAULT_KINDS))
        index = self.rng.randrange(len(self.pcluster.members))
        hold = self.rng.uniform(*self.hold) if FAULT_KINDS[kind] else 0.0
        self._log(f"{kind} m{index} for {hold:.1f}s (leader m{self._leader})")
        self.injected[kind] += 1
        self._inject(kind, index)
        self._watch(hold)
        self._heal(kind, index)
        try:
            took = self.pcluster.wait_healthy(self.recovery_bound)
        except TimeoutError as exc:
            self.failure = f"no recovery after {kind} m{index}: {exc}"
            self.stop.set()
            return
        self.longest_recovery = max(self.longest_recovery, hold + took)

    def _inject(self, kind: str, index: int) -> None:
        member = self.pcluster.members[index]
        client = self.pcluster.client_proxies[index]
        peer = self.pcluster.peer_proxies[index]
        if kind == "kill":
            member.kill()
        elif kind == "stop":
            member.stop()
        elif kind == "pause":
            member.pause()
        elif kind == "partition":
            peer.black_hole()
        elif kind == "client-black-hole":
            client.black_hole()
        elif kind == "latency":
            client.add_latency(self.rng.uniform(0.05, 0.3))
        elif kind == "split":
            client.split_frames(max_chunk=16, pause=0.0)
        elif kind == "cut":
            client.cut()
        elif kind == "reset":
            client.reset()
        elif kind == "peer-reset":
            peer.reset()

    def _heal(self, kind: str, index: int) -> None:
        member = self.pcluster.members[index]
        if kind in ("kill", "stop"):
            member.start(wait=False)
        elif kind == "pause":
            member.resume()
        self.pcluster.client_proxies[index].pass_through()
        self.pcluster.peer_proxies[index].pass_through()

    def _watch(self, seconds: float) -> None:
        """Sleep ``seconds`` (or until stopped) while following the raft leader."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            leader = self.pcluster.leader_index()
            if leader is None:
                self.leaderless_seconds += 0.25
            elif leader != self._leader:
                if self._leader is not None:
                    self.leader_changes += 1
                self._log(f"leader is now m{leader}")
                self._leader = leader
            if now >= end or self.stop.wait(min(0.25, end - now)):
                return

    def _log(self, text: str) -> None:
        self.timeline.append(f"{time.monotonic() - self._t0:7.1f}s {text}")
