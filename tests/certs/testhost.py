"""A second host for the tests: a network namespace joined to this one by a veth pair.

The server side keeps 10.77.0.1 (the router listens there), the namespace has 10.77.0.2
and no route but the veth's: a program run inside it (the "laptop") reaches the test
host and nothing else. Its /etc/hosts (`/etc/netns/NAME/hosts`, which `ip netns exec`
mounts over /etc/hosts) maps the test domain's names to 10.77.0.1, and its resolv.conf
names no resolver. `connects(log)` reads what `strace -f -e trace=connect` saw, so a
test can insist that no connection went anywhere else.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SERVER_ADDRESS = "10.77.0.1"
LAPTOP_ADDRESS = "10.77.0.2"
_CONNECT = re.compile(
    r"connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), "
    r'(?:sin_addr=inet_addr\("([^"]+)"\)|.*?inet_pton\(AF_INET6, "([^"]+)")'
)


def available() -> str | None:
    """None when a namespace can be made here, else why not."""
    if os.geteuid() != 0:
        return "making a network namespace needs root"
    for tool in ("ip", "strace"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class TestHost:
    name: str = field(default_factory=lambda: f"swcli-{secrets.token_hex(3)}")
    hosts: list[str] = field(default_factory=list)

    @property
    def etc(self) -> Path:
        return Path("/etc/netns") / self.name

    def create(self) -> TestHost:
        suffix = self.name.removeprefix("swcli-")
        outer, inner = f"swh{suffix}", f"swc{suffix}"
        _ip("netns", "add", self.name)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", self.name)
        _ip("addr", "add", f"{SERVER_ADDRESS}/30", "dev", outer)
        _ip("link", "set", outer, "up")
        _ip("-n", self.name, "addr", "add", f"{LAPTOP_ADDRESS}/30", "dev", inner)
        _ip("-n", self.name, "link", "set", inner, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")
        self._outer = outer
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "resolv.conf").write_text("# no resolver: every name is in /etc/hosts\n")
        self.write_hosts()
        return self

    def add_hosts(self, *names: str) -> None:
        self.hosts.extend(n for n in names if n not in self.hosts)
        self.write_hosts()

    def write_hosts(self) -> None:
        lines = ["127.0.0.1 localhost"] + [f"{SERVER_ADDRESS} {h}" for h in self.hosts]
        # In place (same inode): `ip netns exec` bind-mounts this very file.
        with (self.etc / "hosts").open("w") as fh:
            fh.write("\n".join(lines) + "\n")

    def argv(self, argv: list[str], trace: Path | None = None) -> list[str]:
        """`argv` run inside the namespace, its connections logged to `trace`."""
        inner = ["ip", "netns", "exec", self.name]
        if trace is None:
            return inner + argv
        return [*inner, "strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *argv]

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self._outer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)


def connects(trace: Path) -> list[tuple[str, int]]:
    """Every (address, port) a traced program tried to connect to over IP."""
    found = []
    for path in [trace, *trace.parent.glob(trace.name + ".*")]:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            match = _CONNECT.search(line)
            if match:
                found.append((match[2] or match[3], int(match[1])))
    return found
