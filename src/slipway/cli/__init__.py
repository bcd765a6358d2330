"""The `slipway` command. It talks to the Platform API over HTTP, never to the store."""
