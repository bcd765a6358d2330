"""heroku-redis: one supervised redis-server per add-on.

Each add-on gets its own `redis-server` on 127.0.0.1, on a port chosen at
provision (the first free one in `settings.redis_ports`) and kept for its
lifetime, with its files in `<data_dir>/addons/redis/<resource_id>/`:

    state.json    port, passwords, plan (0600)
    redis.conf    rendered from state.json at every start and rotation (0600)
    redis.pid     written by redis-server
    redis.log     its log
    dump.rdb, appendonlydir/

The server runs in the foreground (`daemonize no`) as a child of the platform,
in its own session; a thread per add-on restarts it (with back-off) when it
exits unexpectedly. A `kill -9` of the platform leaves the servers running:
the next `start()` finds each one by its pidfile (or by answering on the kept
port with the provider's own password), shuts it down with SHUTDOWN SAVE, and
starts it again as a child, on the same port and with the same data.

Access: the app's user is redis' `default` user (so `redis://default:PASSWORD@...`
and `AUTH PASSWORD` work) with every command except the @admin category
(CONFIG, SHUTDOWN, SAVE, DEBUG, MODULE, ACL, REPLICAOF, MONITOR...), since the
server may run as root. The provider manages the server as its own ACL user
`slipway`. Rotation changes the `default` user's password live (ACL SETUSER),
disconnects its clients and rewrites the config file.

Plans (Heroku's memory and connection limits):

- mini (default): 25 MB, 20 clients, no AOF and no periodic snapshots; the data
  is saved (SHUTDOWN SAVE / shutdown-on-sigterm save) when Slipway stops the
  server, so it survives clean platform restarts, but not a crash of redis.
- premium-0: 50 MB, 40 clients, AOF with fsync every second (at most a second
  of writes lost on a crash), plus the same snapshot at shutdown.

Requires Redis 6.0 or newer (ACL users).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slipway.addons._resp import RespClient, RespError, parse_info
from slipway.addons._system import (
    OsUser,
    base_env,
    blocking_ancestor,
    check_resource_id,
    is_root,
    make_searchable,
    new_password,
    pick_port,
    port_is_free,
    private_dir,
    random_name,
    read_json,
    which,
    write_json,
    write_private,
)
from slipway.addons.errors import (
    AddonError,
    InvalidOptions,
    PortInUse,
    ProviderUnavailable,
    ResourceNotFound,
    UnknownPlan,
    sentence,
)
from slipway.addons.provider import AddonSettings, Plan, Provisioned, Service

log = logging.getLogger("slipway.addons.redis")

SERVICE_NAME = "heroku-redis"
ADMIN_USER = "slipway"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class PlanLimits:
    maxmemory_mb: int
    maxclients: int
    aof: bool
    persistence: str


PLAN_LIMITS = {
    f"{SERVICE_NAME}:mini": PlanLimits(25, 20, False, "snapshot at clean shutdown"),
    f"{SERVICE_NAME}:premium-0": PlanLimits(
        50, 40, True, "AOF (fsync every second) + snapshot at clean shutdown"
    ),
}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:mini",
        "Mini",
        description="25 MB, 20 clients; data is kept across clean restarts, not across crashes.",
        default=True,
    ),
    Plan(
        f"{SERVICE_NAME}:premium-0",
        "Premium 0",
        description="50 MB, 40 clients; AOF persistence with fsync every second.",
    ),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Heroku Key-Value Store (Redis)",
    aliases=("redis",),
    plans=PLANS,
    config_var_suffix="REDIS",
)

MAXMEMORY_POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)

_READY_TIMEOUT = 30.0
# "12345:M 27 Nov 2026 21:44:01.123 # " before each line redis itself logs.
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [#*.\-] ")
_STOP_TIMEOUT = 15.0
_MAX_BACKOFF = 30.0


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pid_alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie may never be reaped in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _thread_alive(thread: threading.Thread | None) -> bool:
    return thread is not None and thread.is_alive()


class _Instance:
    """A redis-server this provider started and supervises."""

    def __init__(self, resource_id: str, proc: subprocess.Popen[bytes]) -> None:
        self.resource_id = resource_id
        self.proc = proc
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # held while (re)starting
        self.thread: threading.Thread | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None


class RedisProvider:
    """The heroku-redis provider. Construction does no I/O; `start()` brings servers back."""

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "redis"
        self._instances: dict[str, _Instance] = {}
        self._lock = threading.RLock()
        self._version: tuple[int, int, int] | None = None
        self.initial_backoff = 1.0

    # -- state

    def _dir(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.root / resource_id

    def _load(self, resource_id: str) -> dict[str, Any]:
        path = self._dir(resource_id) / "state.json"
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} instance {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def _save(self, state: Mapping[str, Any]) -> None:
        write_json(self._dir(state["resource_id"]) / "state.json", dict(state))

    def _states(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        states = []
        for path in sorted(self.root.glob("*/state.json")):
            with contextlib.suppress(OSError, ValueError):
                states.append(read_json(path))
        return states

    def resource_ids(self) -> list[str]:
        """Every provisioned resource (for reconciling with the platform's records)."""
        return [s["resource_id"] for s in self._states() if s.get("status") == "provisioned"]

    # -- the binary and its user

    def _binary(self) -> str:
        binary = which(self.settings.redis_server_bin)
        if binary is None:
            raise ProviderUnavailable(
                f"The program {self.settings.redis_server_bin} was not found; install the "
                "redis-server package."
            )
        return binary

    def _server_version(self) -> tuple[int, int, int]:
        if self._version is None:
            binary = self._binary()
            out = subprocess.run(
                [binary, "--version"], capture_output=True, text=True, check=False
            ).stdout
            match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
            if not match:
                raise ProviderUnavailable(
                    f"The program {binary} did not print a Redis version; install the "
                    "redis-server package."
                )
            version = (int(match[1]), int(match[2]), int(match[3]))
            if version < (6, 0, 0):
                raise ProviderUnavailable(
                    f"Redis {'.'.join(map(str, version))} is too old (Slipway needs 6.0 or newer "
                    "for ACL users); upgrade the redis-server package."
                )
            self._version = version
        return self._version

    def _user(self) -> OsUser | None:
        name = self.settings.redis_os_user
        if not name or not is_root():
            return None
        user = OsUser.lookup(name)
        if user is None:
            raise ProviderUnavailable(
                f"The OS user {name} that redis-servers should run as does not exist; create it "
                "or leave the redis user setting empty."
            )
        return user

    def _prepare_dir(self, directory: Path, user: OsUser | None) -> None:
        private_dir(self.root)
        private_dir(directory)
        if user is not None:
            make_searchable(self.root.parent, self.root)
            user.chown(directory)
            if not user.can_reach(directory):
                blocked = blocking_ancestor(directory, user)
                raise ProviderUnavailable(
                    f"Redis servers run as the OS user {user.name}, which cannot reach "
                    f"{blocked}; make it searchable (chmod o+x {blocked}) or use a data dir "
                    "outside it."
                )

    # -- config and connections

    def _render_conf(self, state: Mapping[str, Any]) -> str:
        version = self._server_version()
        directory = self._dir(state["resource_id"])
        limits = PLAN_LIMITS[state["plan"]]
        channels = " &*" if version >= (6, 2, 0) else ""
        lines = [
            f"# Written by Slipway for {state['resource_name']} ({state['resource_id']}).",
            "# Rendered again from state.json at every start and rotation: do not edit.",
            f"bind {HOST}",
            f"port {state['port']}",
            "protected-mode yes",
            "daemonize no",
            f"pidfile {_quoted(str(directory / 'redis.pid'))}",
            f"logfile {_quoted(str(directory / 'redis.log'))}",
            "loglevel notice",
            f"dir {_quoted(str(directory))}",
            'dbfilename "dump.rdb"',
            'save ""',
            f"appendonly {'yes' if limits.aof else 'no'}",
            "appendfsync everysec",
            f"maxmemory {limits.maxmemory_mb}mb",
            f"maxmemory-policy {state['maxmemory_policy']}",
            f"maxclients {limits.maxclients}",
            f"user default reset on #{_sha256(state['password'])} ~*{channels} +@all -@admin",
            f"user {ADMIN_USER} reset on #{_sha256(state['admin_password'])} ~*{channels} +@all",
        ]
        if version >= (7, 0, 0):
            lines += [
                "enable-protected-configs no",
                "enable-debug-command no",
                "enable-module-command no",
                "shutdown-on-sigterm save",
                "shutdown-on-sigint save",
            ]
        return "\n".join(lines) + "\n"

    def _write_conf(self, state: Mapping[str, Any]) -> Path:
        path = self._dir(state["resource_id"]) / "redis.conf"
        write_private(path, self._render_conf(state), owner=self._user())
        return path

    @contextlib.contextmanager
    def _admin(self, state: Mapping[str, Any], timeout: float = 5.0) -> Iterator[RespClient]:
        client = RespClient(HOST, int(state["port"]), timeout=timeout)
        try:
            client.auth(state["admin_password"], username=ADMIN_USER)
            yield client
        finally:
            client.close()

    def _url(self, state: Mapping[str, Any]) -> str:
        # The explicit `default` user: redis-cli 7 misreads an empty one (redis://:pw@).
        return f"redis://default:{state['password']}@{HOST}:{state['port']}"

    # -- processes

    def _launch(self, state: Mapping[str, Any]) -> tuple[subprocess.Popen[bytes], int]:
        """Start redis-server for `state`; returns the process and the log offset it starts at."""
        binary = self._binary()
        directory = self._dir(state["resource_id"])
        user = self._user()
        self._prepare_dir(directory, user)
        conf = self._write_conf(state)
        log_path = directory / "redis.log"
        with log_path.open("ab") as log_file:
            offset = log_file.tell()
            if user is not None:
                user.chown(log_path)
            proc = subprocess.Popen(
                [*(user.argv() if user else []), binary, str(conf)],
                cwd=directory,
                env=base_env() | (user.env() if user else {}),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                umask=0o077,
            )
        return proc, offset

    def _log_reason(self, state: Mapping[str, Any], offset: int) -> str:
        path = self._dir(state["resource_id"]) / "redis.log"
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                lines = fh.read().decode(errors="replace").splitlines()
        except OSError:
            return "no log"
        meaningful = []
        for line in lines:
            text = _LOG_PREFIX.sub("", line).strip()
            if text and not text.startswith(("*", ">>>", "---")):
                meaningful.append(text)
        for text in reversed(meaningful):
            if any(w in text.lower() for w in ("error", "fatal", "can't", "could not", "bad")):
                return sentence(text)
        return sentence(meaningful[-1]) if meaningful else "no log"

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], state: Mapping[str, Any], offset: int
    ) -> None:
        port = int(state["port"])
        name = state["resource_name"]
        log_path = self._dir(state["resource_id"]) / "redis.log"
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                reason = self._log_reason(state, offset)
                if "address already in use" in reason.lower():
                    raise PortInUse(
                        f"Port {port}, kept for the redis add-on {name}, is in use by another "
                        "program; stop that program and start Slipway again.",
                        port,
                    )
                raise ProviderUnavailable(
                    f"The redis-server for {name} exited at start: {reason}; see {log_path}."
                )
            with contextlib.suppress(OSError, RespError), self._admin(state, timeout=1) as client:
                if client.call("PING") == "PONG":
                    return
            if time.monotonic() > deadline:
                self._kill(proc)
                raise ProviderUnavailable(
                    f"The redis-server for {name} did not answer on port {port} within "
                    f"{_READY_TIMEOUT:.0f} s; see {log_path}."
                )
            time.sleep(0.05)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)

    def _shutdown(self, state: Mapping[str, Any], save: bool) -> bool:
        """Ask the server to exit (saving first); False when it could not be asked."""
        try:
            with self._admin(state) as client:
                client.call("SHUTDOWN", "SAVE" if save else "NOSAVE")
        except RespError as exc:
            log.warning("redis %s refused SHUTDOWN: %s", state["resource_id"], exc)
            return False
        except OSError:
            # ConnectionError after SHUTDOWN is the server going away: that is success.
            return True
        return True

    def _supervise(self, inst: _Instance) -> None:
        backoff = self.initial_backoff
        while True:
            started = time.monotonic()
            code = inst.proc.wait()
            if inst.stopping.is_set():
                return
            if time.monotonic() - started > 60:
                backoff = self.initial_backoff
            log.warning(
                "redis-server for %s exited unexpectedly (%s); restarting in %.0f s",
                inst.resource_id,
                code,
                backoff,
            )
            if inst.stopping.wait(backoff):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF)
            with inst.lock:
                if inst.stopping.is_set():
                    return
                try:
                    state = self._load(inst.resource_id)
                    if not port_is_free(int(state["port"])):
                        raise PortInUse(f"port {state['port']} is in use", int(state["port"]))
                    proc, offset = self._launch(state)
                    inst.proc = proc
                    self._wait_ready(proc, state, offset)
                    log.info("restarted redis-server for %s", inst.resource_id)
                except AddonError as exc:
                    log.error("could not restart redis-server for %s: %s", inst.resource_id, exc)
                except OSError as exc:
                    log.error("could not restart redis-server for %s: %s", inst.resource_id, exc)

    def _stop_instance(self, inst: _Instance, state: Mapping[str, Any] | None, save: bool) -> None:
        inst.stopping.set()
        with inst.lock:  # waits for a restart in progress
            proc = inst.proc
        if proc.poll() is None:
            if state is None or not self._shutdown(state, save):
                proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("redis-server for %s did not stop; killing it", inst.resource_id)
                self._kill(proc)
        if inst.thread is not None and inst.thread is not threading.current_thread():
            inst.thread.join(5)

    def _ours(self, pid: int, directory: Path) -> bool:
        """Whether `pid` is a redis-server running in `directory` (a previous run's child)."""
        if not _pid_alive(pid):
            return False
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return cwd == str(directory) and b"redis" in cmdline

    def _reclaim(self, directory: Path, state: Mapping[str, Any] | None, save: bool) -> None:
        """Stop a redis-server a previous run of the platform left behind (kill -9, crash)."""
        rid = directory.name
        inst = self._instances.get(rid)
        pidfile = directory / "redis.pid"
        pid = None
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().strip())
        if inst is not None and inst.alive() and pid == inst.proc.pid:
            return
        if pid is not None and self._ours(pid, directory):
            log.info("stopping redis-server %d for %s left by a previous run", pid, rid)
            if state is None or not self._shutdown(state, save):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, _STOP_TIMEOUT):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        elif state is not None and not port_is_free(int(state["port"])):
            # No usable pidfile, but something holds the port: if it takes our own
            # password, it is our server.
            answered = False
            with contextlib.suppress(OSError, RespError), self._admin(state, timeout=2) as client:
                answered = client.call("PING") == "PONG"
            if answered:
                log.info("stopping redis-server for %s left by a previous run", rid)
                self._shutdown(state, save)
                deadline = time.monotonic() + _STOP_TIMEOUT
                while not port_is_free(int(state["port"])) and time.monotonic() < deadline:
                    time.sleep(0.05)
        pidfile.unlink(missing_ok=True)

    def _start_instance(self, state: Mapping[str, Any]) -> None:
        rid = state["resource_id"]
        inst = self._instances.get(rid)
        supervised = inst is not None and not inst.stopping.is_set()
        if supervised and inst is not None and (inst.alive() or _thread_alive(inst.thread)):
            return  # running, or its supervisor is about to restart it
        self._reclaim(self._dir(rid), state, save=True)
        port = int(state["port"])
        if not port_is_free(port):
            raise PortInUse(
                f"Port {port}, kept for the redis add-on {state['resource_name']}, is in use by "
                "another program; stop that program and start Slipway again.",
                port,
            )
        proc, offset = self._launch(state)
        try:
            self._wait_ready(proc, state, offset)
        except BaseException:
            self._kill(proc)
            raise
        inst = _Instance(rid, proc)
        inst.thread = threading.Thread(
            target=self._supervise, args=(inst,), name=f"redis-{rid}", daemon=True
        )
        self._instances[rid] = inst
        inst.thread.start()

    def _discard(self, directory: Path) -> None:
        """Stop whatever runs for `directory` and remove it."""
        rid = directory.name
        state = None
        with contextlib.suppress(OSError, ValueError):
            state = read_json(directory / "state.json")
        inst = self._instances.pop(rid, None)
        if inst is not None:
            self._stop_instance(inst, state, save=False)
        self._reclaim(directory, state, save=False)
        shutil.rmtree(directory, ignore_errors=True)

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        if plan.name not in PLAN_LIMITS:
            raise UnknownPlan(
                f"The {SERVICE_NAME} service has no plan {plan.name}; available plans: "
                + ", ".join(p.short_name for p in PLANS)
                + "."
            )
        policy = self._policy(options)
        self._server_version()
        with self._lock:
            taken = {int(s["port"]) for s in self._states() if s.get("port")}
            rid = random_name("r")
            directory = self._dir(rid)
            state: dict[str, Any] = {
                "resource_id": rid,
                "resource_name": resource_name,
                "plan": plan.name,
                "port": 0,
                "password": new_password(),
                "admin_password": new_password(),
                "maxmemory_policy": policy,
                "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "status": "provisioning",
            }
            try:
                self._prepare_dir(directory, self._user())
                for _ in range(5):
                    state["port"] = pick_port(self.settings.redis_ports, taken, "a redis add-on")
                    taken.add(state["port"])
                    self._save(state)
                    try:
                        self._start_instance(state)
                        break
                    except PortInUse:
                        continue  # taken between the check and redis' bind: the next one
                else:
                    raise ProviderUnavailable(
                        "Five ports in a row were taken while redis-server started; "
                        "try again or widen the redis port range."
                    )
                state["status"] = "provisioned"
                self._save(state)
            except BaseException:
                self._discard(directory)
                raise
        log.info("provisioned %s for %s on port %d", rid, resource_name, state["port"])
        return Provisioned(resource_id=rid, config={"URL": self._url(state)})

    @staticmethod
    def _policy(options: Mapping[str, str]) -> str:
        opts = {key.replace("-", "_"): value for key, value in options.items()}
        unknown = sorted(set(opts) - {"maxmemory_policy"})
        if unknown:
            raise InvalidOptions(
                f"The {SERVICE_NAME} service does not take --{', --'.join(unknown)}; "
                "the only option is --maxmemory_policy."
            )
        policy = opts.get("maxmemory_policy", "noeviction")
        if policy not in MAXMEMORY_POLICIES:
            raise InvalidOptions(
                f"The maxmemory policy {policy!r} does not exist; use one of "
                + ", ".join(MAXMEMORY_POLICIES)
                + "."
            )
        return policy

    def deprovision(self, resource_id: str) -> None:
        directory = self._dir(resource_id)
        with self._lock:
            if directory.exists() or resource_id in self._instances:
                self._discard(directory)
                log.info("deprovisioned %s", resource_id)

    def config(self, resource_id: str) -> dict[str, str]:
        return {"URL": self._url(self._load(resource_id))}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self._load(resource_id)
        plan = next(p for p in PLANS if p.name == state["plan"])
        limits = PLAN_LIMITS[plan.name]
        status, version, memory, clients = "Available", "?", "?", "?"
        try:
            with self._admin(state) as client:
                info = parse_info(client.call("INFO"))
            version = info.get("redis_version", "?")
            memory = f"{info.get('used_memory_human', '?')} of {limits.maxmemory_mb} MB"
            clients = str(max(0, int(info.get("connected_clients", "1")) - 1))
        except (OSError, RespError) as exc:
            status = f"Unavailable: redis-server is not answering on port {state['port']} ({exc})."
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        return [
            ("Plan", plan.human_name),
            ("Status", status),
            ("Version", version),
            ("Port", str(state["port"])),
            ("Memory", memory),
            ("Clients", f"{clients}/{limits.maxclients}"),
            ("Persistence", limits.persistence),
            ("Maxmemory Policy", state["maxmemory_policy"]),
            ("Created", created),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        with self._lock:
            state = self._load(resource_id)
            password = new_password()
            inst = self._instances.get(resource_id)
            if inst is not None and inst.alive():
                try:
                    with self._admin(state) as client:
                        client.call(
                            "ACL", "SETUSER", "default", "resetpass", f"#{_sha256(password)}"
                        )
                        client.call("CLIENT", "KILL", "USER", "default")
                except (OSError, RespError) as exc:
                    raise ProviderUnavailable(
                        f"Could not set a new password on the redis-server for "
                        f"{state['resource_name']} (port {state['port']}): {exc}; try again."
                    ) from None
            state["password"] = password
            self._save(state)
            self._write_conf(state)
        log.info("rotated the credentials of %s", resource_id)
        return {"URL": self._url(state)}

    def start(self) -> None:
        """Start every add-on's redis-server; raises the failures after trying them all."""
        failures: list[AddonError] = []
        with self._lock:
            if not self.root.exists():
                return
            for directory in sorted(p for p in self.root.iterdir() if p.is_dir()):
                state = None
                with contextlib.suppress(OSError, ValueError):
                    state = read_json(directory / "state.json")
                if state is None or state.get("status") != "provisioned":
                    log.info("removing %s, left by an interrupted provision", directory.name)
                    self._discard(directory)
                    continue
                try:
                    self._start_instance(state)
                except AddonError as exc:
                    failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ProviderUnavailable(" ".join(f.message for f in failures))

    def stop(self) -> None:
        with self._lock:
            instances, self._instances = self._instances, {}
            for rid, inst in instances.items():
                state = None
                with contextlib.suppress(OSError, ValueError, AddonError):
                    state = self._load(rid)
                self._stop_instance(inst, state, save=True)

    # -- beyond the protocol

    def cli_command(self, resource_id: str) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment for `redis:cli` (the password in REDISCLI_AUTH)."""
        state = self._load(resource_id)
        cli = which(self.settings.redis_cli_bin)
        if cli is None:
            raise ProviderUnavailable(
                f"The program {self.settings.redis_cli_bin} was not found; install the "
                "redis-tools package."
            )
        return [cli, "-h", HOST, "-p", str(state["port"])], {"REDISCLI_AUTH": state["password"]}
