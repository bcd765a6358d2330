"""Slipway: a self-hosted Heroku."""

__version__ = "0.1.0"
