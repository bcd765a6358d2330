"""The seccomp filter every sandbox gets (pure): no new user namespaces.

Inside a user namespace of its own an unprivileged process holds every
capability over namespaces it creates there (mounts, network devices, raw
sockets...), which is the door most container escapes go through. Dynos and
builds have no use for one, so `unshare` and `clone` with CLONE_NEWUSER fail
with EPERM, and `clone3` (whose flags a classic BPF filter cannot read) fails
with ENOSYS, on which glibc falls back to `clone`. bubblewrap loads the
program from a file descriptor (`--add-seccomp-fd`), just before it runs the
command; it holds for everything the command starts.
"""

from __future__ import annotations

import os
import platform
import struct

CLONE_NEWUSER = 0x10000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM, _ENOSYS = 1, 38
# BPF opcodes (linux/bpf_common.h)
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06

# machine -> (AUDIT_ARCH_*, clone, unshare, clone3)
_ARCHES = {
    "x86_64": (0xC000003E, 56, 272, 435),
    "aarch64": (0xC00000B7, 220, 97, 435),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def no_user_namespaces(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or None where it is not known."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, nr_clone, nr_unshare, nr_clone3 = arch
    program = [
        _insn(_LD_W_ABS, 0, 0, 4),  # 0: seccomp_data.arch
        _insn(_JEQ_K, 0, 4, audit_arch),  # 1: another ABI (e.g. x32): -> 6 allow
        _insn(_LD_W_ABS, 0, 0, 0),  # 2: seccomp_data.nr
        _insn(_JEQ_K, 7, 0, nr_clone3),  # 3: -> 11 ENOSYS
        _insn(_JEQ_K, 2, 0, nr_unshare),  # 4: -> 7 check the flags
        _insn(_JEQ_K, 1, 0, nr_clone),  # 5: -> 7 check the flags
        _insn(_RET_K, 0, 0, _RET_ALLOW),  # 6
        _insn(_LD_W_ABS, 0, 0, 16),  # 7: the low 32 bits of args[0], the flags
        _insn(_JSET_K, 1, 0, CLONE_NEWUSER),  # 8: -> 10 EPERM
        _insn(_RET_K, 0, 0, _RET_ALLOW),  # 9
        _insn(_RET_K, 0, 0, _RET_ERRNO | _EPERM),  # 10
        _insn(_RET_K, 0, 0, _RET_ERRNO | _ENOSYS),  # 11
    ]
    return b"".join(program)


def filter_fd(program: bytes, name: str = "slipway-seccomp") -> int:
    """A file descriptor bwrap can read from (inheritable; close after the spawn)."""
    fd = os.memfd_create(name, 0)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
