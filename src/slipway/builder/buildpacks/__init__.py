"""Built-in buildpacks. Each is a directory with bin/detect, bin/compile, bin/release and one
stdlib-only module, so it runs inside the build sandbox with the system's python3."""
