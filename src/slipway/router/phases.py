"""The phases of an exchange, as plain ints (compared on every request).

`exchange.py`'s docstring draws how an exchange moves through them; `routing.py`
and `failures.py` read and set them too, so they live apart from all three.
"""

NEW, HELD, QUEUED, CONNECTING, SENT, STREAMING, TUNNEL, ANSWERED, DONE = range(9)
