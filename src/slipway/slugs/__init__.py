"""Immutable, content-addressed slug archives on disk."""
