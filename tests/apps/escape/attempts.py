"""Escape attempts, run from inside a dyno. Each returns what happened; none trusts the caller.

Run by web.py's endpoints, or directly in a one-off dyno:
`python3 attempts.py forkbomb` prints one JSON line.
Standard library only: it runs on the system python3 in the sandbox.
"""

import contextlib
import ctypes
import errno
import json
import os
import signal
import socket
import sys
import time

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
PTRACE_ATTACH = 16


def _err(code):
    return errno.errorcode.get(code, str(code))


def read(path):
    """Read a file, or list a directory, on a path of the host."""
    try:
        if os.path.isdir(path):
            return {"denied": False, "detail": ",".join(sorted(os.listdir(path))[:20])}
        with open(path, "rb") as fh:
            return {"denied": False, "detail": fh.read(64).decode("latin-1")}
    except OSError as exc:
        return {"denied": True, "detail": _err(exc.errno)}


def processes():
    """Every process this dyno can see, with its command line."""
    seen = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode("latin-1").strip()
            except OSError:
                cmd = "?"
            seen.append({"pid": int(entry), "cmdline": cmd})
    return {"denied": True, "detail": "", "processes": seen}


def ptrace(pid):
    result = LIBC.ptrace(PTRACE_ATTACH, int(pid), None, None)
    if result == 0:
        os.kill(int(pid), signal.SIGCONT)
        return {"denied": False, "detail": "attached"}
    return {"denied": True, "detail": _err(ctypes.get_errno())}


def mount():
    result = LIBC.mount(b"none", b"/tmp", b"tmpfs", 0, None)
    return {"denied": result != 0, "detail": _err(ctypes.get_errno()) if result else "mounted"}


def unshare(kind):
    flags = {"user": CLONE_NEWUSER, "mount": CLONE_NEWNS, "net": CLONE_NEWNET}[kind]
    pid = os.fork()
    if pid == 0:  # in a child, so the dyno itself stays as it was
        os._exit(0 if LIBC.unshare(flags) == 0 else 10 + ctypes.get_errno())
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return {"denied": code != 0, "detail": "unshared" if code == 0 else _err(code - 10)}


def raw_socket():
    details = []
    for family, kind, proto in (
        (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        (socket.AF_PACKET, socket.SOCK_RAW, 0x0300),
    ):
        try:
            socket.socket(family, kind, proto).close()
            details.append("opened")
        except OSError as exc:
            details.append(_err(exc.errno))
    return {"denied": "opened" not in details, "detail": ",".join(details)}


def connect(host, port, timeout=2.0):
    timeout = float(timeout)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return {"denied": False, "detail": "connected"}
    except TimeoutError:
        return {"denied": True, "detail": "timeout"}
    except OSError as exc:
        return {"denied": True, "detail": _err(exc.errno)}


def scan(hosts, ports):
    """Every (host, port) this dyno can open a TCP connection to."""
    opened = []
    for host in hosts:
        for port in ports:
            if not connect(host, port, timeout=1.0)["denied"]:
                opened.append(f"{host}:{port}")
    return {"denied": not opened, "detail": ",".join(opened)}


def forkbomb(seconds=3.0):
    seconds = float(seconds)
    """Fork until the kernel says no (or `seconds` pass); report how many got through."""
    os.setpgid(0, 0)
    children = []
    refused = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(children) < 100000:
        try:
            pid = os.fork()
        except OSError as exc:
            refused = _err(exc.errno)
            break
        if pid == 0:
            time.sleep(seconds + 5)
            os._exit(0)
        children.append(pid)
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
    return {"denied": bool(refused), "detail": refused, "forked": len(children)}


def fill_disk(path, limit_mb=100000):
    limit_mb = int(limit_mb)
    """Write 1 MB blocks until the disk is full; report how much fitted, then clean up."""
    written = 0
    error = ""
    block = b"x" * (1024 * 1024)
    try:
        with open(path, "wb") as fh:
            while written < limit_mb:
                fh.write(block)
                fh.flush()
                written += 1
            os.fsync(fh.fileno())
    except OSError as exc:
        error = _err(exc.errno)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return {"denied": error == "ENOSPC", "detail": error, "written_mb": written}


def fill_memory(mb):
    """Allocate and touch `mb` MB, 16 MB at a time (the cgroup stops it well before)."""
    chunks = []
    for _ in range(int(mb) // 16):
        chunks.append(bytearray(16 * 1024 * 1024))
        print(f"holding {16 * len(chunks)} MB", flush=True)
    return {"denied": False, "detail": f"held {16 * len(chunks)} MB"}


def burn_cpu(seconds=3.0, workers=4):
    """Busy loops in `workers` processes; report CPU seconds per wall second (the quota)."""
    start_wall = time.monotonic()
    start_cpu = os.times()
    pids = []
    for _ in range(int(workers)):
        pid = os.fork()
        if pid == 0:
            end = time.monotonic() + float(seconds)
            while time.monotonic() < end:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    end_cpu = os.times()
    wall = time.monotonic() - start_wall
    used = (end_cpu.children_user + end_cpu.children_system) - (
        start_cpu.children_user + start_cpu.children_system
    )
    return {"denied": False, "detail": "", "cpus": round(used / wall, 2)}


ATTEMPTS = {
    "read": read,
    "processes": processes,
    "ptrace": ptrace,
    "mount": mount,
    "unshare": unshare,
    "raw": raw_socket,
    "connect": connect,
    "forkbomb": forkbomb,
    "disk": fill_disk,
    "memory": fill_memory,
    "cpu": burn_cpu,
}

if __name__ == "__main__":
    outcome = ATTEMPTS[sys.argv[1]](*sys.argv[2:])
    print("RESULT " + json.dumps({"attempt": sys.argv[1], **outcome}), flush=True)
