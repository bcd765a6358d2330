"""The Heroku Platform API v3 over HTTP. Talks to `slipway.platform` only."""
