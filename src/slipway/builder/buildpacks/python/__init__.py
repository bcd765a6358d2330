"""The built-in heroku/python buildpack (Heroku buildpack API v2, standard library only)."""
