"""Request ids stay unique across the router's forked workers."""

from __future__ import annotations

import os

from slipway.router.forwarding import new_request_id


def test_a_forked_worker_hands_out_ids_of_its_own() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: report its first id, and leave without cleanup
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = new_request_id()
    assert len(child) == len(mine) == 36
    assert child[:24] != mine[:24], (child, mine)
