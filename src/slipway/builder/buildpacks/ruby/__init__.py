"""The built-in heroku/ruby buildpack (Heroku buildpack API v2, standard library only)."""
