"""The dyno network made real: the bridge, the nftables table, a namespace per dyno.

Runs as root with iproute2 (`ip`) and nftables (`nft`); `DynoNetwork.open`
says why not (and dynos share the host's network, loudly) when either is
missing. Everything it makes is named after the server's subnet, so a restart
after a kill -9 finds and removes what the last run left (namespaces, and the
nftables elements with the table, which is replaced whole).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from slipway.runtime.network.plan import (
    NetworkPlan,
    attach_commands,
    choose_subnet,
    element_lines,
    ruleset,
)

log = logging.getLogger("slipway.network")

NETNS_DIR = Path("/run/netns")
# One file per live dyno network on this machine, holding its server's pid: a network
# whose server is gone (kill -9, never restarted) is removed by the next one to start.
OWNERS_DIR = Path("/run/slipway/networks")
# argv, stdin -> (exit status, output)
Runner = Callable[[Sequence[str], str], tuple[int, str]]


class NetworkError(Exception):
    """The dyno network could not be set up, or a dyno could not join it."""


def run_command(argv: Sequence[str], stdin: str = "") -> tuple[int, str]:
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


@dataclass(frozen=True)
class Lease:
    """One dyno's place on the network: its namespace and address, and its nft elements."""

    index: int
    address: str
    netns: Path
    elements: tuple[str, ...]


def unavailable_reason(is_root: bool) -> str | None:
    """Why dynos cannot get a namespace of their own here, or None if they can."""
    if not is_root:
        return "Slipway does not run as root"
    missing = [tool for tool in ("ip", "nft", "nsenter") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found (Debian packages iproute2, nftables)"
    return None


def _taken_subnets(run: Runner) -> list[ipaddress.IPv4Network]:
    code, out = run(["ip", "-j", "-4", "addr", "show"], "")
    taken: list[ipaddress.IPv4Network] = []
    if code == 0:
        with contextlib.suppress(ValueError):
            for link in json.loads(out or "[]"):
                for info in link.get("addr_info", []):
                    taken.append(
                        ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                    )
    code, out = run(["ip", "-j", "-4", "route", "show"], "")
    if code == 0:
        with contextlib.suppress(ValueError):
            for route in json.loads(out or "[]"):
                dst = route.get("dst", "")
                if dst and dst != "default":
                    taken.append(ipaddress.IPv4Network(dst, strict=False))
    return taken


class DynoNetwork:
    def __init__(self, plan: NetworkPlan, run: Runner = run_command) -> None:
        self.plan = plan
        self.run = run
        self._lock = threading.Lock()
        self._free = list(plan.indexes)
        self._leases: dict[int, Lease] = {}
        self.resolv_conf: Path | None = None

    # -- the server's network ---------------------------------------------------------

    @classmethod
    def open(
        cls, state_dir: Path, subnet: str | None = None, run: Runner = run_command
    ) -> DynoNetwork:
        """The server's dyno network: its subnet kept in `state_dir`, set up (idempotent)."""
        state_dir.mkdir(parents=True, exist_ok=True)
        state = state_dir / "network.json"
        kept = None
        if state.exists():
            with contextlib.suppress(ValueError, KeyError, OSError):
                kept = ipaddress.IPv4Network(json.loads(state.read_text())["subnet"])
        chosen = ipaddress.IPv4Network(subnet) if subnet else kept
        if chosen is None:
            chosen = choose_subnet(_taken_subnets(run))
        net = cls(NetworkPlan(chosen), run)
        collect_orphans(run, keep=net.plan.tag)
        net.setup()
        net.claim()
        if chosen != kept:
            tmp = state.with_suffix(".tmp")
            tmp.write_text(json.dumps({"subnet": str(chosen)}))
            tmp.replace(state)
        net.resolv_conf = _dyno_resolv_conf(state_dir)
        return net

    def setup(self) -> None:
        plan = self.plan
        self._remove_leftover_namespaces()
        code, _ = self.run(["ip", "link", "show", "dev", plan.bridge], "")
        if code != 0:
            self._check("ip", ["-batch", "-"], f"link add {plan.bridge} type bridge\n")
        self._ensure_bridge_address()
        try:
            Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
        except OSError as exc:
            raise NetworkError(f"cannot turn on IPv4 forwarding for dynos: {exc}") from exc
        self._check("nft", ["-f", "-"], ruleset(plan))

    def _ensure_bridge_address(self) -> None:
        plan = self.plan
        cidr = f"{plan.host_address}/{plan.subnet.prefixlen}"
        code, out = self.run(["ip", "-j", "-4", "addr", "show", "dev", plan.bridge], "")
        has = code == 0 and any(
            info.get("local") == plan.host_address
            for link in json.loads(out or "[]")
            for info in link.get("addr_info", [])
        )
        lines = [] if has else [f"addr add {cidr} dev {plan.bridge}"]
        lines.append(f"link set {plan.bridge} up")
        self._check("ip", ["-batch", "-"], "\n".join(lines) + "\n")
        # No IPv6 on the bridge: nothing for a dyno to reach at the host's link-local address.
        with contextlib.suppress(OSError):
            Path(f"/proc/sys/net/ipv6/conf/{plan.bridge}/disable_ipv6").write_text("1\n")

    def claim(self) -> None:
        OWNERS_DIR.mkdir(parents=True, exist_ok=True)
        (OWNERS_DIR / self.plan.tag).write_text(f"{os.getpid()}\n")

    def close(self) -> None:
        """Remove what the network holds: namespaces, the table, the bridge."""
        remove_network(self.plan.tag, self.run)

    def _remove_leftover_namespaces(self) -> None:
        if not NETNS_DIR.is_dir():
            return
        names = [p.name for p in NETNS_DIR.iterdir() if p.name.startswith(self.plan.netns_prefix)]
        if names:
            log.info("removing %d dyno network namespaces left by the last run", len(names))
            self.run(["ip", "-batch", "-"], "".join(f"netns del {n}\n" for n in names))

    def leftovers(self) -> list[str]:
        """Namespaces of this network that no live lease holds (for the chaos checks)."""
        if not NETNS_DIR.is_dir():
            return []
        held = {Path(lease.netns).name for lease in self._leases.values()}
        return sorted(
            p.name
            for p in NETNS_DIR.iterdir()
            if p.name.startswith(self.plan.netns_prefix) and p.name not in held
        )

    # -- one dyno ------------------------------------------------------------------------

    def attach(self, web_port: int | None, addon_endpoints: Sequence[tuple[str, int]]) -> Lease:
        """A namespace for one dyno: its address, reachable on `web_port` from the host,
        reaching the add-on ports of `addon_endpoints` that are on the bridge address."""
        plan = self.plan
        with self._lock:
            if not self._free:
                raise NetworkError(f"no address left in the dyno network {plan.subnet}")
            index = self._free.pop(0)
        address = plan.address(index)
        ports = [port for host, port in addon_endpoints if host == plan.host_address]
        try:
            host_lines, inside_lines = attach_commands(plan, index)
            self._check("ip", ["-batch", "-"], "\n".join(host_lines) + "\n")
            self._check(
                "ip", ["-n", plan.netns(index), "-batch", "-"], "\n".join(inside_lines) + "\n"
            )
            adds = element_lines(plan, "add", address, web_port, ports)
            if adds:
                self._check("nft", ["-f", "-"], "\n".join(adds) + "\n")
        except NetworkError:
            self.run(["ip", "netns", "del", plan.netns(index)], "")
            with self._lock:
                self._free.append(index)
            raise
        lease = Lease(
            index,
            address,
            NETNS_DIR / plan.netns(index),
            tuple(element_lines(plan, "delete", address, web_port, ports)),
        )
        with self._lock:
            self._leases[index] = lease
        return lease

    def detach(self, lease: Lease) -> None:
        """Forget the dyno's elements first, then its namespace: the address is reused."""
        with self._lock:
            if self._leases.pop(lease.index, None) is None:
                return
        if lease.elements:
            self.run(["nft", "-f", "-"], "\n".join(lease.elements) + "\n")
        # The veth goes at once, even if a dying process still holds the namespace: the
        # next dyno at this address must not meet the last one's interface on the bridge.
        self.run(
            ["ip", "-force", "-batch", "-"],
            f"link del {self.plan.veth(lease.index)}\nnetns del {self.plan.netns(lease.index)}\n",
        )
        with self._lock:
            self._free.append(lease.index)

    def _check(self, tool: str, args: list[str], stdin: str) -> None:
        code, out = self.run([tool, *args], stdin)
        if code != 0:
            raise NetworkError(f"{tool} {' '.join(args)} failed: {out}")


def _dyno_resolv_conf(state_dir: Path) -> Path | None:
    """A resolv.conf dynos can use when the host's names a loopback stub resolver
    (systemd-resolved's 127.0.0.53 is the host's own, not the namespace's)."""
    try:
        text = Path("/etc/resolv.conf").read_text()
    except OSError:
        return None
    servers = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver ")]
    if not any(s.startswith("127.") or s == "::1" for s in servers):
        return None
    upstream = Path("/run/systemd/resolve/resolv.conf")
    if upstream.exists():
        text = upstream.read_text()
    target = state_dir / "resolv.conf"
    target.write_text(text)
    target.chmod(0o644)
    os.utime(target)
    return target


def remove_network(tag: str, run: Runner) -> None:
    """Remove one dyno network by its tag: its namespaces, its table, its bridge."""
    prefix = f"slipway-{tag}-"
    if NETNS_DIR.is_dir():
        names = [p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix)]
        if names:
            run(["ip", "-batch", "-"], "".join(f"netns del {n}\n" for n in names))
    run(["nft", "delete", "table", "inet", f"slipway_{tag}"], "")
    run(["ip", "link", "del", f"slwbr{tag}"], "")
    (OWNERS_DIR / tag).unlink(missing_ok=True)


def collect_orphans(run: Runner, keep: str) -> None:
    """Remove the dyno networks whose server died and never came back."""
    if not OWNERS_DIR.is_dir():
        return
    for owner in OWNERS_DIR.iterdir():
        if owner.name == keep:
            continue
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid > 0 and Path(f"/proc/{pid}").exists():
            continue
        log.info("removing the dyno network %s: its server (pid %d) is gone", owner.name, pid)
        remove_network(owner.name, run)
