"""The dyno network on paper (pure): its subnet, the names of its parts, its nftables rules.

One Slipway server owns one /24 of the pool (172.30.0.0/15 by default), kept
in its data dir because add-on URLs name the bridge's address. The bridge
`slwbrTTTT` holds `.1`; dyno N is `.N` in the namespace `slipway-TTTT-N`,
reached through the veth `slwTTTTvNN`, whose bridge port is isolated (dynos
cannot talk to each other even at layer 2). The policy, one nftables table
`inet slipway_TTTT`:

* host -> dyno: only a web dyno's address and $PORT (set `web`): the router.
* dyno -> host: only its app's add-on ports on the bridge address (set
  `addon_access`); every other port of every host address is refused.
* dyno -> another dyno, another Slipway's dynos, loopback, link-local (the
  cloud metadata address 169.254.169.254), multicast: refused.
* dyno -> anything else: forwarded with NAT (masquerade), so builds reach
  package registries and apps reach the APIs they call.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

POOL = ipaddress.IPv4Network("172.30.0.0/15")
PREFIX = 24
# Never reachable from a dyno, whatever the host's routes say.
DENIED = (
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",  # link-local: the cloud metadata service at 169.254.169.254
    "224.0.0.0/4",
    "240.0.0.0/4",
)


@dataclass(frozen=True)
class NetworkPlan:
    subnet: ipaddress.IPv4Network
    pool: ipaddress.IPv4Network = POOL

    @property
    def tag(self) -> str:
        packed = self.subnet.network_address.packed
        return f"{packed[1]:02x}{packed[2]:02x}"

    @property
    def bridge(self) -> str:
        return f"slwbr{self.tag}"

    @property
    def table(self) -> str:
        return f"slipway_{self.tag}"

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def netns_prefix(self) -> str:
        return f"slipway-{self.tag}-"

    @property
    def indexes(self) -> range:
        """Host numbers dynos may take: .2 to .254 of a /24."""
        return range(2, self.subnet.num_addresses - 1)

    def address(self, index: int) -> str:
        return str(self.subnet.network_address + index)

    def netns(self, index: int) -> str:
        return f"{self.netns_prefix}{index}"

    def veth(self, index: int) -> str:
        # At most 15 characters (IFNAMSIZ - 1).
        return f"slw{self.tag}v{index:02x}"


def choose_subnet(
    taken: Iterable[ipaddress.IPv4Network],
    pool: ipaddress.IPv4Network = POOL,
    rng: random.Random | None = None,
) -> ipaddress.IPv4Network:
    """A /24 of the pool that overlaps nothing on this machine, picked at random so two
    servers started at once rarely race for the same one."""
    used = list(taken)
    free = [s for s in pool.subnets(new_prefix=PREFIX) if not any(s.overlaps(t) for t in used)]
    if not free:
        raise ValueError(f"every /{PREFIX} of {pool} is in use on this machine")
    return (rng or random.SystemRandom()).choice(free)


def ruleset(plan: NetworkPlan) -> str:
    """The whole table, replaced atomically by one `nft -f` (add, delete, then define)."""
    br, host, table = plan.bridge, plan.host_address, plan.table
    denied = ", ".join((str(plan.pool), *DENIED))
    reject = "goto refuse"
    return f"""table inet {table}
delete table inet {table}
table inet {table} {{
    set web {{
        type ipv4_addr . inet_service
    }}
    set addon_access {{
        type ipv4_addr . inet_service
    }}
    chain refuse {{
        # A TCP reset for TCP (ICMP errors are rate-limited: a dyno trying many ports
        # would wait a second for each), ICMP admin-prohibited for the rest.
        meta l4proto tcp counter reject with tcp reset
        counter reject with icmpx admin-prohibited
    }}
    chain input {{
        type filter hook input priority filter - 5; policy accept;
        iifname "{br}" jump dyno_to_host
    }}
    chain dyno_to_host {{
        ct state established,related accept
        ip daddr {host} ip saddr . tcp dport @addon_access accept
        {reject}
    }}
    chain forward {{
        type filter hook forward priority filter - 5; policy accept;
        iifname "{br}" jump dyno_out
        oifname "{br}" jump to_dyno
    }}
    chain dyno_out {{
        oifname "{br}" {reject}
        meta nfproto ipv6 {reject}
        ip daddr {{ {denied} }} {reject}
        fib daddr type local {reject}
        accept
    }}
    chain to_dyno {{
        ct state established,related accept
        counter drop
    }}
    chain output {{
        type filter hook output priority filter - 5; policy accept;
        oifname "{br}" jump host_to_dyno
    }}
    chain host_to_dyno {{
        ct state established,related accept
        ip daddr . tcp dport @web accept
        {reject}
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {plan.subnet} oifname != "{br}" masquerade
    }}
}}
"""


def element_lines(
    plan: NetworkPlan, verb: str, address: str, web_port: int | None, addon_ports: Sequence[int]
) -> list[str]:
    """`nft` lines that add (or delete) one dyno's elements."""
    lines = []
    if web_port is not None:
        lines.append(f"{verb} element inet {plan.table} web {{ {address} . {web_port} }}")
    if addon_ports:
        items = ", ".join(f"{address} . {p}" for p in sorted(set(addon_ports)))
        lines.append(f"{verb} element inet {plan.table} addon_access {{ {items} }}")
    return lines


def attach_commands(plan: NetworkPlan, index: int) -> tuple[list[str], list[str]]:
    """`ip -batch` lines in the host's namespace, then in the dyno's (`ip -n NS -batch`)."""
    ns, veth = plan.netns(index), plan.veth(index)
    host = [
        f"netns add {ns}",
        f"link add {veth} type veth peer name eth0 netns {ns}",
        f"link set {veth} master {plan.bridge}",
        f"link set {veth} type bridge_slave isolated on learning off",
        f"link set {veth} up",
    ]
    inside = [
        # A /32 and a route through the bridge: even other dynos' addresses go through the
        # host, whose rules refuse them at once (on-link, they would wait for ARP replies
        # the isolated bridge ports never pass).
        f"addr add {plan.address(index)}/32 dev eth0",
        "link set lo up",
        "link set eth0 up",
        f"route add {plan.host_address} dev eth0 scope link",
        f"route add default via {plan.host_address} dev eth0",
        # A second lock on the metadata address: even a broken host rule cannot route it.
        "route add unreachable 169.254.0.0/16",
    ]
    return host, inside
