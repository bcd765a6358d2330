"""git over smart HTTP: per-app bare repositories served by the real `git http-backend`."""
