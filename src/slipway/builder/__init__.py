"""Builds: the Heroku buildpack API v2 runner, built-in buildpacks, Procfile and slug packing."""
