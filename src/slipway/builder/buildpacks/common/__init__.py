"""Helpers every built-in buildpack uses: Heroku-style output, running programs, files.

Standard library only, like the buildpacks: they run inside the build sandbox with the
machine's python3. A built-in finds this package beside its own directory, in the source
tree as in a build (the runner stages `common/` next to each staged built-in); see
`slipway.builder.buildpacks`.
"""
