"""heroku-postgresql: one database and one unprivileged role per add-on.

The server is either one the operator names (`postgres_admin_url`, a superuser
or a role with CREATEROLE and CREATEDB) or an embedded cluster this provider
creates under `<data_dir>/addons/postgres/cluster` with the installed
binaries, listening on 127.0.0.1 only on a port chosen once and kept.

Each add-on gets a role `u<12>` and a database `d<12>` owned by it, which no
other add-on's role can connect to; the database name is the add-on's resource
id. Passwords reach the server only as SCRAM verifiers computed here.

Layout under `<data_dir>/addons/postgres/` (all 0700/0600 unless noted):

    resources/<resource_id>.json      role, password, database, host, port, plan
    backups/<resource_id>/b001.dump   pg_dump -Fc, with b001.json beside it
    cluster/                          the embedded cluster's PGDATA
    cluster.json                      its port (kept across restarts)
    superuser-password                its superuser password
    run/                              its unix socket directory
    log/postgresql.log                its server log

The modules, one job each:

- `service.py`: the service and its plans (a plan sets the connection limit).
- `provider.py`: `PostgresProvider`, the Provider protocol, pg:reset, pg:psql.
- `resources.py`: each add-on's state file and the server its database is on.
- `databases.py`: the SQL for an add-on's role and database.
- `backups.py`: pg:backups (capture, list, restore via a scratch database, download).
- `embedded.py`: the embedded cluster (initdb, pg_ctl, its port, running as `postgres`).
- `connect.py`: admin connections, and one sentence for each failure.
- `binaries.py`: where initdb, pg_ctl, pg_dump, pg_restore and psql are.
"""

from slipway.addons.postgres.backups import PgBackups
from slipway.addons.postgres.databases import scram_verifier
from slipway.addons.postgres.embedded import EmbeddedCluster
from slipway.addons.postgres.provider import PostgresProvider
from slipway.addons.postgres.service import CONNECTION_LIMITS, PLANS, SERVICE, SERVICE_NAME

__all__ = [
    "CONNECTION_LIMITS",
    "PLANS",
    "SERVICE",
    "SERVICE_NAME",
    "EmbeddedCluster",
    "PgBackups",
    "PostgresProvider",
    "scram_verifier",
]
