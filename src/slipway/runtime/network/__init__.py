"""Each dyno in a network namespace of its own, on a bridge the platform owns.

`plan.py` is pure (the subnet, the names, the nftables ruleset); `host.py`
makes it real with iproute2 and nftables, and hands each dyno a `Lease` (its
namespace and address) that it gives back when the dyno is gone. `listening.py`
reads which ports a namespace listens on, and on which addresses.
"""
