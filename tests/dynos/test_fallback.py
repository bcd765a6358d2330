"""Without bubblewrap or cgroups, dynos still run, as plain processes, after a loud warning."""

from __future__ import annotations

import hashlib
import logging
import os
import select
import tarfile
from pathlib import Path

import pytest

from slipway.runtime.local import LaunchRequest, LocalDriver
from slipway.runtime.sandbox import Capabilities, detect_capabilities

APP = Path(__file__).parent.parent / "apps" / "dynos"


def test_plain_processes_when_nothing_can_isolate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with caplog.at_level(logging.WARNING):
        caps = detect_capabilities()
    assert caps.bwrap is None
    assert any("PLAIN PROCESSES" in r.message for r in caplog.records)

    archive = tmp_path / "slug.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for entry in APP.iterdir():
            tar.add(entry, arcname=entry.name)
    checksum = "SHA256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
    plain = Capabilities(bwrap=None, setpriv=None, is_root=False, cgroup=None)
    driver = LocalDriver(tmp_path / "runtime", caps=plain)
    lower = driver.prepare_slug("app-1", os.getuid(), archive, checksum)
    proc = driver.launch(
        LaunchRequest(
            dyno_id="d1",
            hostname="worker.1",
            app_id="app-1",
            uid=os.getuid(),
            slug_archive=archive,
            slug_checksum=checksum,
            command='echo "$DYNO $FROM_PROFILE_D" && test -f web.py && echo in-app-dir',
            env={"PATH": os.environ["PATH"], "DYNO": "worker.1"},
            memory_mb=512,
        ),
        lower,
    )
    output = b""
    while True:
        select.select([proc.output_fd], [], [], 5)
        try:
            chunk = os.read(proc.output_fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            break
        output += chunk
    assert proc.popen.wait(10) == 0
    assert output.decode().splitlines() == ["worker.1 yes", "in-app-dir"]
    proc.release()
    assert not proc.workdir.exists(), "the dyno's copy of the slug is gone with it"
