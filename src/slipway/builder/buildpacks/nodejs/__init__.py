"""The built-in heroku/nodejs buildpack (Heroku buildpack API v2)."""
