"""The domain: accounts, apps, config vars, releases, slugs and formation.

Every state change goes through here and is written to the store in one
transaction. Nothing in this package knows about HTTP.
"""
