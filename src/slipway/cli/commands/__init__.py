"""The commands, one module per Heroku topic."""
