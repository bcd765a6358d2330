"""Pure parts of the deploy pipeline: Procfile, sources, .slugignore, slugs, TLS, sandbox."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from cryptography import x509

from slipway.builder.errors import ProcfileError, SourceError
from slipway.builder.procfile import parse_procfile
from slipway.builder.source import apply_slugignore, extract_source
from slipway.runtime.sandbox import Capabilities, Mount, SandboxSpec, build_argv
from slipway.slugs.store import SlugStore, SlugTooLarge
from slipway.tls import ensure_certificates


def test_procfile_rules() -> None:
    text = (
        "# comment\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n"
        "worker:python w.py\nrelease: ./migrate\n"
    )
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "worker": "python w.py",
        "release": "./migrate",
    }
    assert parse_procfile("a-b_c1: x") == {"a-b_c1": "x"}
    # Notepad's UTF-8 byte order mark and CRLF line ends.
    assert parse_procfile("\ufeffweb: node server.js\r\nworker: node w.js\r\n") == {
        "web": "node server.js",
        "worker": "node w.js",
    }
    assert parse_procfile("t" * 128 + ": x")
    for bad in ("web gunicorn", "bad type!: x", "t" * 129 + ": x", "web:", "wéb: x"):
        with pytest.raises(ProcfileError):
            parse_procfile(bad)


def make_tar(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                tar.addfile(info)
            else:
                assert data is not None
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_refuses_what_leaves_the_app(tmp_path: Path) -> None:
    ok = make_tar(tmp_path / "ok.tar", [("a.txt", b"a", None), ("link", None, "a.txt")])
    extract_source(ok, tmp_path / "ok")
    assert (tmp_path / "ok" / "link").read_text() == "a"
    cases: dict[str, list[tuple[str, bytes | None, str | None]]] = {
        "up.tar": [("../evil", b"x", None)],
        "abs.tar": [("link", None, "/etc/passwd")],
        "out.tar": [("link", None, "../../etc/passwd")],
    }
    for name, members in cases.items():
        with pytest.raises(SourceError):
            extract_source(make_tar(tmp_path / name, members), tmp_path / name.removesuffix(".tar"))
    big = make_tar(tmp_path / "big.tar", [("big.bin", b"x" * 2048, None)])
    with pytest.raises(SourceError, match="over the 0 MB limit"):
        extract_source(big, tmp_path / "big", max_file_bytes=1024)
    assert not (tmp_path.parent / "evil").exists()


def test_a_single_top_directory_is_unwrapped(tmp_path: Path) -> None:
    wrapped = make_tar(tmp_path / "w.tar", [("app-main/Procfile", b"web: x", None)])
    extract_source(wrapped, tmp_path / "w")
    assert (tmp_path / "w" / "Procfile").exists()


def test_slugignore(tmp_path: Path) -> None:
    for rel in ("docs/a.md", "src/x.py", "src/test_x.py", "big.psd", "keep.txt", "nested/big.psd"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".slugignore").write_text("# comment\n/docs\n*.psd\nsrc/test_*.py\n")
    removed = apply_slugignore(tmp_path)
    assert sorted(removed) == ["big.psd", "docs", "nested/big.psd", "src/test_x.py"]
    assert (tmp_path / "keep.txt").exists()
    assert (tmp_path / "src" / "x.py").exists()


def test_slug_store_is_content_addressed(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "app.py").write_text("print('hi')")
    store = SlugStore(tmp_path / "slugs")
    first = store.pack(build)
    assert first.path.name == f"{first.sha256}.tgz"
    assert first.checksum == f"SHA256:{first.sha256}"
    with tarfile.open(first.path) as tar:
        member = tar.getmember("app.py")
        assert member.uid == 0
    assert store.collect({first.sha256}) == []
    assert store.collect(set()) == [first.sha256]
    assert not first.path.exists()
    tiny = SlugStore(tmp_path / "tiny", hard_limit=10)
    with pytest.raises(SlugTooLarge, match="over the"):
        tiny.pack(build)
    assert list((tmp_path / "tiny").iterdir()) == []


def test_tls_certificates_cover_local_names(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "tls", "apps.test", ["10.0.0.5"])
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = sans.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    assert {"localhost", "apps.test", "*.apps.test"} <= set(dns)
    assert {"127.0.0.1", "10.0.0.5"} <= set(ips)
    assert oct(files.key.stat().st_mode & 0o777) == "0o600"
    assert files.ca_cert is not None
    ca_before = files.ca_cert.read_bytes()
    cert_before = files.cert.read_bytes()
    again = ensure_certificates(tmp_path / "tls", "apps.test", ["10.0.0.5"])
    assert again.cert.read_bytes() == cert_before  # unchanged names: not re-issued
    other = ensure_certificates(tmp_path / "tls", "other.test", [])
    assert other.cert.read_bytes() != cert_before  # a new domain: a new certificate
    assert files.ca_cert.read_bytes() == ca_before


SPEC = SandboxSpec(
    argv=["/bin/true"],
    env={"A": "1"},
    mounts=[Mount(Path("/srv/app"), "/app", writable=True), Mount(Path("/srv/env"), "/env")],
    workdir="/app",
    hostname="build",
    uid=20001,
)


def test_sandbox_argv_as_root_drops_to_the_app_uid() -> None:
    caps = Capabilities(
        bwrap="/usr/bin/bwrap", setpriv="/usr/bin/setpriv", is_root=True, cgroup="v1"
    )
    argv = build_argv(SPEC, caps, Path("/sys/fs/cgroup/memory/slipway/x/cgroup.procs"))
    assert argv[:4] == [
        "/bin/sh",
        "-c",
        'IFS=:; for f in $0; do echo $$ > "$f" || exit 125; done; unset IFS; exec "$@"',
        "/sys/fs/cgroup/memory/slipway/x/cgroup.procs",
    ]
    joined = " ".join(argv)
    assert "--unshare-pid" in argv
    assert "--unshare-ipc" in argv
    assert "--unshare-uts" in argv
    assert "--hostname build" in joined
    assert "--bind /srv/app /app" in joined
    assert "--ro-bind /srv/env /env" in joined
    assert "--ro-bind /usr /usr" in joined
    assert "--tmpfs /tmp" in joined
    assert "--clearenv" in argv
    assert "--unshare-user" not in argv
    i = argv.index("/usr/bin/setpriv")
    assert argv[i + 1 : i + 3] == ["--reuid=20001", "--regid=20001"]
    assert "--no-new-privs" in argv[i:]
    assert argv[-1] == "/bin/true"
    assert not any(p in joined for p in ("/root", "/home", "/work"))


def test_sandbox_argv_unprivileged_and_plain() -> None:
    user_caps = Capabilities(bwrap="/usr/bin/bwrap", setpriv=None, is_root=False, cgroup=None)
    argv = build_argv(SPEC, user_caps, None)
    assert argv[0] == "/usr/bin/bwrap"
    assert "--unshare-user" in argv
    plain = Capabilities(bwrap=None, setpriv=None, is_root=os.geteuid() == 0, cgroup=None)
    assert build_argv(SPEC, plain, None) == ["/bin/true"]
