"""Built-in buildpacks (Heroku buildpack API v2), in Heroku's detection order: nodejs, python.

Each is a directory with bin/detect, bin/compile and bin/release, which run
`common/launch.py` with the machine's python3 inside the build sandbox, where slipway cannot
be imported: the code is standard library only. A buildpack's modules (one per job) import
each other and the helpers the built-ins share, `common/`, relatively; launch.py makes the
directories a package at run time. So `common/` must sit beside the buildpack's directory:
it does in the source tree, and the build runner stages it beside each staged built-in.
"""
