"""jawsdb-maria: one MariaDB database and one user per add-on.

The server is either one the operator names (`--mysql-admin-url`, a user with
CREATE USER and GRANT OPTION) or an embedded MariaDB this provider creates with
`mariadb-install-db` under `<data_dir>/addons/mysql/server` and runs
unprivileged, listening on 127.0.0.1 and the dyno bridge's address (`listen_host`,
which its URLs name) with TLS from the platform's CA.

Each add-on gets a database `d…` (or `--database NAME`) and a user `u…` with
every privilege on that database and none elsewhere, its connections capped by
the plan (changed live by addons:upgrade). The app reads `JAWSDB_MARIA_URL`
(`mysql://USER:PASSWORD@HOST:PORT/DATABASE`, as JawsDB sets it).

The modules, one job each:

- `service.py`: the service, its plans and their connection limits.
- `provider.py`: `MysqlProvider`, the Provider protocol, change_plan.
- `resources.py`: each add-on's state file and the server its database is on.
- `backups.py`: mariadb-dump captures, restores through a scratch database, downloads.
- `embedded.py`: the embedded MariaDB (mariadb-install-db, mariadbd, TLS).
- `connect.py`: admin connections and one sentence for each failure.
"""

from slipway.addons.mysql.provider import MysqlProvider
from slipway.addons.mysql.service import CONNECTION_LIMITS, PLANS, SERVICE, SERVICE_NAME

__all__ = ["CONNECTION_LIMITS", "PLANS", "SERVICE", "SERVICE_NAME", "MysqlProvider"]
