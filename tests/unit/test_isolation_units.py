"""The pure parts of dyno isolation: cgroup files per size, the sandbox's command line with
a network namespace and a capped disk, the dyno network's plan and rules, add-on endpoints.

What they do for real (a dyno that cannot reach another app, a fork bomb that stops at
pids.max, a full disk that is ENOSPC in one dyno only) is proven from inside real dynos
by tests/isolation/test_escapes.py.
"""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest

from slipway.platform.addon_keys import addon_endpoints
from slipway.platform.dynos import size_limits
from slipway.platform.formation_rules import parse_size
from slipway.runtime.network.plan import (
    NetworkPlan,
    attach_commands,
    choose_subnet,
    element_lines,
    ruleset,
)
from slipway.runtime.sandbox import (
    Capabilities,
    Limits,
    Overlay,
    SandboxSpec,
    build_argv,
    cgroup_settings,
)

LIMITS = Limits(memory_mb=1024, pids=256, cpu_weight=100, cpu_quota=1.0)


def test_cgroup_v2_files_for_a_basic_dyno() -> None:
    assert cgroup_settings("v2", LIMITS, cpus=2) == {
        "": {
            "memory.max": str(1024 * 1024 * 1024),
            "memory.swap.max": "0",
            "pids.max": "256",
            "cpu.weight": "100",
            "cpu.max": "100000 100000",
        }
    }


def test_cgroup_v1_files_one_directory_per_controller() -> None:
    files = cgroup_settings("v1", LIMITS, cpus=2)
    assert files["memory"] == {"memory.limit_in_bytes": str(1024 * 1024 * 1024)}
    assert files["pids"] == {"pids.max": "256"}
    assert files["cpu"] == {
        "cpu.shares": "1024",
        "cpu.cfs_period_us": "100000",
        "cpu.cfs_quota_us": "100000",
    }


def test_a_quota_of_the_whole_machine_or_more_is_no_quota() -> None:
    big = Limits(cpu_weight=5000, cpu_quota=8.0)
    assert "cpu.max" not in cgroup_settings("v2", big, cpus=2)[""]
    assert cgroup_settings("v1", big, cpus=2)["cpu"] == {"cpu.shares": "51200"}
    assert cgroup_settings("v2", Limits(), cpus=2) == {"": {}}


def test_sizes_give_heroku_process_limits_and_cpu_shares() -> None:
    basic, two_x, perf_l = (size_limits(parse_size(n)) for n in ("basic", "2X", "performance-l"))
    assert (basic.pids, basic.cpu_weight, basic.cpu_quota) == (256, 100, 1.0)
    assert (two_x.pids, two_x.cpu_weight, two_x.cpu_quota) == (512, 200, 2.0)
    assert (perf_l.pids, perf_l.cpu_weight) == (32768, 5000)
    assert size_limits(parse_size("eco")).cpu_quota == 0.5
    assert basic.disk_mb is not None
    assert two_x.disk_mb is not None
    assert basic.disk_mb < two_x.disk_mb


ROOT = Capabilities(bwrap="/usr/bin/bwrap", setpriv="/usr/bin/setpriv", is_root=True, cgroup="v1")


def test_argv_joins_every_cgroup_then_mounts_the_disk_then_enters_the_namespace() -> None:
    overlay = Overlay(
        Path("/slug"),
        Path("/w/disk/upper"),
        Path("/w/disk/work"),
        Path("/w/merged"),
        image=Path("/w/disk.img"),
        image_mount=Path("/w/disk"),
    )
    spec = SandboxSpec(
        argv=["/bin/true"],
        env={},
        overlay=overlay,
        tmp=Path("/w/disk/tmp"),
        netns=Path("/run/netns/slipway-1e05-7"),
        uid=20001,
    )
    procs = [Path("/cg/memory/x/cgroup.procs"), Path("/cg/pids/x/cgroup.procs")]
    argv = build_argv(spec, ROOT, procs)
    assert argv[3] == "/cg/memory/x/cgroup.procs:/cg/pids/x/cgroup.procs"
    mount = argv.index("unshare")
    script = argv[mount + 6]
    assert script.startswith('mount -o loop,nosuid,nodev "$5" "$6" && mount -t overlay')
    assert argv[mount + 7 : mount + 14] == [
        "overlay",
        "/slug",
        "/w/disk/upper",
        "/w/disk/work",
        "/w/merged",
        "/w/disk.img",
        "/w/disk",
    ]
    nsenter = argv.index("nsenter")
    assert argv[nsenter + 1] == "--net=/run/netns/slipway-1e05-7"
    assert mount < nsenter < argv.index("/usr/bin/bwrap")
    joined = " ".join(argv)
    assert "--bind /w/disk/tmp /tmp" in joined
    assert "--tmpfs /tmp" not in joined
    # The namespace is entered as root, then the app's uid loses every capability.
    assert "--bounding-set=-all" in argv
    assert "--unshare-net" not in argv


def test_the_plan_names_fit_the_kernel_and_stay_apart() -> None:
    plan = NetworkPlan(ipaddress.IPv4Network("172.31.254.0/24"))
    assert plan.tag == "1ffe"
    assert plan.host_address == "172.31.254.1"
    assert plan.address(254) == "172.31.254.254"
    assert (plan.indexes.start, plan.indexes.stop) == (2, 255)
    assert all(len(name) <= 15 for name in (plan.bridge, plan.veth(254)))
    host, inside = attach_commands(plan, 7)
    assert "link set slw1ffev07 type bridge_slave isolated on learning off" in host
    assert "route add unreachable 169.254.0.0/16" in inside
    assert "route add default via 172.31.254.1 dev eth0" in inside
    assert "addr add 172.31.254.7/32 dev eth0" in inside


def test_the_rules_let_the_router_in_and_the_dyno_out_and_nothing_else() -> None:
    plan = NetworkPlan(ipaddress.IPv4Network("172.30.5.0/24"))
    rules = ruleset(plan)
    assert rules.startswith("table inet slipway_1e05\ndelete table inet slipway_1e05\n")
    assert "ip daddr 172.30.5.1 ip saddr . tcp dport @addon_access accept" in rules
    assert "ip daddr . tcp dport @web accept" in rules
    for denied in ("172.30.0.0/15", "169.254.0.0/16", "127.0.0.0/8"):
        assert denied in rules
    assert 'ip saddr 172.30.5.0/24 oifname != "slwbr1e05" masquerade' in rules
    # Each chain that guards the dynos ends by refusing.
    for chain in ("dyno_to_host", "host_to_dyno"):
        body = rules.split(f"chain {chain} {{", 1)[1].split("}", 1)[0]
        assert body.strip().splitlines()[-1].strip() == "goto refuse"
    refuse = rules.split("chain refuse {", 1)[1].split("}", 1)[0]
    assert "meta l4proto tcp counter reject with tcp reset" in refuse
    assert element_lines(plan, "add", "172.30.5.9", 5000, [16380, 15432, 16380]) == [
        "add element inet slipway_1e05 web { 172.30.5.9 . 5000 }",
        "add element inet slipway_1e05 addon_access { 172.30.5.9 . 15432, 172.30.5.9 . 16380 }",
    ]
    assert element_lines(plan, "delete", "172.30.5.9", None, []) == []


def test_a_subnet_is_chosen_where_nothing_else_is() -> None:
    pool = ipaddress.IPv4Network("172.30.0.0/23")
    taken = [ipaddress.IPv4Network("172.30.0.0/24")]
    assert choose_subnet(taken, pool, random.Random(1)) == ipaddress.IPv4Network("172.30.1.0/24")
    with pytest.raises(ValueError, match="in use"):
        choose_subnet([pool], pool)


def test_addon_endpoints_from_urls_and_host_lists() -> None:
    assert addon_endpoints(
        [
            "postgres://u:p@172.30.5.1:15432/db",
            "redis://default:pw@172.30.5.1:16380",
            "mc1.example:11211, mc2.example:11211",
            "no port here",
            "http://[::1]:notaport/",
        ]
    ) == (
        ("172.30.5.1", 15432),
        ("172.30.5.1", 16380),
        ("mc1.example", 11211),
        ("mc2.example", 11211),
    )
