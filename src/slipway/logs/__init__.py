"""Logplex: one merged, time-stamped stream per app, its history, live tails and drains."""
