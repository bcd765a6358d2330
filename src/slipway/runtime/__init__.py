"""The dyno manager and the sandbox that builds and dynos run in."""
