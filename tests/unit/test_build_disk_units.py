"""The build disk's pure parts: the sandbox entering a build's mount namespace, leftovers
removed at start, the uncapped fallback, and the cache kept only when asked."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from slipway.builder.disk import BuildDisks, Workspace, differs, out_of_space_message
from slipway.runtime.sandbox import Capabilities, SandboxSpec, build_argv

ROOT = Capabilities(bwrap="/usr/bin/bwrap", setpriv="/usr/bin/setpriv", is_root=True, cgroup="v2")


def test_a_build_sandbox_enters_its_disk_namespace_and_network_before_bwrap() -> None:
    spec = SandboxSpec(
        argv=["/bin/true"],
        env={},
        tmp=Path("/proc/42/root/w/tmp"),
        mountns=Path("/proc/42/ns/mnt"),
        netns=Path("/run/netns/slipway-1e05-7"),
        uid=20001,
    )
    argv = build_argv(spec, ROOT, None)
    nsenter = argv.index("nsenter")
    assert argv[nsenter + 1 : nsenter + 3] == [
        "--mount=/proc/42/ns/mnt",
        "--net=/run/netns/slipway-1e05-7",
    ]
    assert nsenter < argv.index("/usr/bin/bwrap")
    assert "--bind /proc/42/root/w/tmp /tmp" in " ".join(argv)
    alone = build_argv(SandboxSpec(argv=["/bin/true"], env={}, mountns=Path("/m")), ROOT, None)
    assert alone[alone.index("nsenter") + 1] == "--mount=/m"
    assert "--net" not in " ".join(alone)


def test_leftovers_of_a_crashed_server_go_and_no_cap_means_the_host_paths(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    (work / "build-abc-1" / "app").mkdir(parents=True)
    (work / "build-abc-1-0123abcd.img").write_bytes(b"x")
    (work / "build-abc-1-0123abcd.img.d" / "tmp").mkdir(parents=True)
    (work / "tmpsource").mkdir()
    disks = BuildDisks(work, 0)
    assert sorted(p.name for p in work.iterdir()) == ["tmpsource"]
    assert not disks.enabled
    lines: list[str] = []
    with disks.workspace(work / "build-x", tmp_path / "cache", 20001, lines.append) as space:
        assert space == Workspace(work / "build-x", tmp_path / "cache")
    assert lines == []


def test_without_root_builds_run_uncapped_after_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with caplog.at_level(logging.WARNING, "slipway.builder.disk"):
        disks = BuildDisks(tmp_path, 2048)
        disks._disable("again")
    assert not disks.enabled
    (warning,) = caplog.records
    assert "NOT capped (not running as root)" in warning.getMessage()
    with disks.workspace(tmp_path / "b", tmp_path / "c", None, print) as space:
        assert space.mountns is None
        assert space.size_mb == 0


def test_a_kept_cache_replaces_the_apps_after_the_disk_and_links_what_is_unchanged(
    tmp_path: Path,
) -> None:
    host = tmp_path / "cache" / "app"
    host.mkdir(parents=True)
    (host / "old").write_text("old")
    (host / "same").write_text("same")
    built = tmp_path / "disk" / "cache"
    (built / "deps").mkdir(parents=True)
    (built / "deps" / "lib").write_text("new")
    (built / "link").symlink_to("deps/lib")
    shutil.copy2(host / "same", built / "same")
    space = Workspace(tmp_path / "disk", built, size_mb=64, host_cache=host)
    lines: list[str] = []
    space.keep_cache(lines.append)
    assert lines == []
    # Made beside the app's cache, unchanged files as hard links; swapped in by finish.
    fresh = host.with_name("app.new")
    assert (fresh / "same").stat().st_ino == (host / "same").stat().st_ino
    assert (host / "old").exists()
    space.finish()
    assert sorted(p.name for p in host.iterdir()) == ["deps", "link", "same"]
    assert (host / "link").readlink() == Path("deps/lib")
    assert sorted(p.name for p in host.parent.iterdir()) == ["app"]

    # A failed build (no keep_cache) changes nothing; a cache over the cap is not kept.
    (built / "deps" / "lib").write_text("newer")
    Workspace(tmp_path / "disk", built, size_mb=64, host_cache=host).finish()
    assert (host / "deps" / "lib").read_text() == "new"
    (built / "big").write_bytes(b"x" * (2 * 1024 * 1024))
    tiny = Workspace(tmp_path / "disk", built, size_mb=1, host_cache=host)
    tiny.keep_cache(lines.append)
    tiny.finish()
    assert not host.exists()
    assert lines == [
        "       The build cache is over 1 MB, so it is not kept; the next build starts without one."
    ]


def test_the_full_disk_sentence_names_the_cap_and_the_way_out() -> None:
    message = out_of_space_message(2048)
    assert message.startswith("The build ran out of disk space (2048 MB); ")
    assert message.endswith("(slipway server --build-disk).")
    assert message.count(". ") == 0


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync compares the caches")
def test_an_unchanged_cache_is_left_as_it_is(tmp_path: Path) -> None:
    host = tmp_path / "app"
    (host / "deps").mkdir(parents=True)
    (host / "deps" / "lib").write_text("lib")
    built = tmp_path / "disk" / "cache"
    built.parent.mkdir()
    shutil.copytree(host, built, symlinks=True)
    built.chmod(0o700)  # the overlay's own top directory: not a change
    assert not differs(built, host)
    space = Workspace(tmp_path / "disk", built, size_mb=64, host_cache=host)
    space.keep_cache(print)
    space.finish()
    assert not host.with_name("app.new").exists()
    (built / "deps" / "lib").write_text("lib2")
    assert differs(built, host)
    shutil.rmtree(built / "deps")
    assert differs(built, host)
