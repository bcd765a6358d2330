"""One module per group of Platform API resources."""
