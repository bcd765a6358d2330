"""haproxy.cfg for the data plane, and the files it reads (maps, error pages, Lua).

Pure: a `Layout` (where the files go), a `Settings` (listeners, timeouts, threads)
and the current backends in; text out. The controller (`dataplane.py`) writes the
text and changes the running HAProxy through its runtime API afterwards; it only
generates a new configuration (and reloads, hitlessly) when it runs out of
pre-allocated app backends.

What HAProxy serves itself is plain forwarding for apps whose web dynos are up
(their hosts are in `hosts.map` / `wildcards.map`, naming the app's backend);
every other request goes to the Python router over loopback with the PROXY
protocol (the `fallback_*` backends), which answers it as it always has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slipway.router import pages

# The Lua actions: strip the headers a Connection header names (hop-by-hop), and
# check Heroku's size limits on heads too big for a cheap test (run only then).
LUA = r"""
local plain = { ["close"] = true, ["keep-alive"] = true, ["upgrade"] = true }

core.register_action("slipway_strip_connection", { "http-req" }, function(txn)
  local values = txn.http:req_get_headers()["connection"]
  if values == nil then return end
  for _, value in pairs(values) do
    for token in string.gmatch(value, "[^,%s]+") do
      local name = string.lower(token)
      if not plain[name] then txn.http:req_del_header(name) end
    end
  end
end)

core.register_action("slipway_check_limits", { "http-req" }, function(txn, line_max, count_max)
  local count = 0
  for name, values in pairs(txn.http:req_get_headers()) do
    for _, value in pairs(values) do
      count = count + 1
      if #name + #value > tonumber(line_max) then
        txn:set_var("txn.limit", "header too long")
        return
      end
    end
  end
  if count > tonumber(count_max) then txn:set_var("txn.limit", "too many headers") end
end, 2)
"""

# One line per forwarded request, over the syslog socket: fields separated by a
# byte no field contains (HAProxy escapes control characters), the URI last.
LOG_FIELDS = (
    "%[var(txn.be)]",
    "%s",
    "%ST",
    "%B",
    "%Tc",
    "%Tr",
    "%Td",
    "%tsc",
    "%[var(txn.rid)]",
    "%ci",
    "%[var(txn.xff)]",
    "%[var(txn.host)]",
    "%HM",
    "%[var(txn.code)]",
    "%f",
    "%Ta",
    "%rc",
    "%[var(txn.ch)]",
    "%[var(txn.cl)]",
    "%HU",
)
LOG_SEPARATOR = "|"
# The pipe HAProxy writes its log lines into, read in batches (haproxy_log.BATCH_WAIT):
# at 60,000 requests/s of ~250-byte lines, 4 MB is a quarter of a second of them (a
# user without CAP_SYS_RESOURCE gets the system's pipe-max-size, 1 MB by default).
PIPE_SIZE = 4 << 20

# HAProxy writes HTTP/1 header names in lower case; clients of Heroku see the case
# the app chose. These are restored (a client that needs case is rare, but exists).
_NAMES = [
    "Accept-Ranges",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Age",
    "Allow",
    "Cache-Control",
    "Connection",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Location",
    "Content-Range",
    "Content-Security-Policy",
    "Content-Type",
    "Date",
    "ETag",
    "Expires",
    "Keep-Alive",
    "Last-Modified",
    "Link",
    "Location",
    "Pragma",
    "Referrer-Policy",
    "Retry-After",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol",
    "Server",
    "Set-Cookie",
    "Strict-Transport-Security",
    "Transfer-Encoding",
    "Upgrade",
    "Vary",
    "Via",
    "WWW-Authenticate",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-Powered-By",
    "X-Request-Id",
    "X-Runtime",
    "X-XSS-Protection",
]
CASE_ADJUST = tuple(f"  h1-case-adjust {name.lower()} {name}" for name in _NAMES)


@dataclass(frozen=True)
class Layout:
    """Where the data plane's files live (one private directory)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def admin_socket(self) -> Path:
        return self.root / "admin.sock"

    @property
    def master_socket(self) -> Path:
        return self.root / "master.sock"

    @property
    def log_socket(self) -> Path:
        return self.root / "log.sock"

    @property
    def hosts_map(self) -> Path:
        return self.root / "hosts.map"

    @property
    def wildcards_map(self) -> Path:
        return self.root / "wildcards.map"

    @property
    def lua(self) -> Path:
        return self.root / "slipway.lua"

    @property
    def pid_file(self) -> Path:
        return self.root / "haproxy.pid"

    @property
    def crt_list(self) -> Path:
        return self.root / "certs.list"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def raw_400(self) -> Path:
        return self.root / "400.http"

    def page(self, name: str) -> Path:
        return self.root / f"{name}.html"


@dataclass(frozen=True)
class Settings:
    listen: tuple[str, int]
    tls_listen: tuple[str, int] | None
    default_cert: Path | None  # cert + key in one PEM (HAProxy's form)
    # The platform's CA (local mode): the controller mints a certificate per routed
    # host (browsers and OpenSSL refuse a *.localhost wildcard).
    ca: tuple[Path, Path] | None
    fallback_http: int  # the Python router's PROXY-protocol listeners
    fallback_https: int
    threads: int
    log_fd: int  # the write end of the controller's log pipe, as HAProxy inherits it
    connect_timeout: float
    request_timeout: float
    idle_timeout: float
    boot_timeout: float
    shutdown_timeout: float
    max_connections: int
    global_maxconn: int  # what the open-files limit allows (two sockets per connection)
    max_in_flight_per_dyno: int
    backlog_per_dyno: int
    max_request_line: int
    max_header_line: int
    max_headers: int


@dataclass(frozen=True)
class Server:
    name: str  # HAProxy's server name: `<dyno>-<serial>`, unique in its backend
    host: str
    port: int


def ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def raw_bad_request() -> bytes:
    """The whole 400 response HAProxy sends for a request it cannot parse."""
    head, body = pages.error_response(400, pages.Page.BAD_REQUEST, "-", close=True).split(
        b"\r\n\r\n", 1
    )
    body = body.replace(b"Request ID: -", b"")
    lines = [
        b"Content-Length: %d" % len(body) if line.startswith(b"Content-Length:") else line
        for line in head.split(b"\r\n")
        if not line.startswith(b"X-Request-Id:")
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def page_text(page: pages.Page) -> str:
    """An error page as an lf-file: the request id comes from the transaction."""
    response = pages.error_response(200, page, "\x00", close=False)
    body = response.split(b"\r\n\r\n", 1)[1].decode()
    before, after = body.replace("%", "%%").split("\x00")
    return before + "%[var(txn.rid)]" + after


PAGES = {
    "app_error": pages.Page.APPLICATION_ERROR,
    "bad_request": pages.Page.BAD_REQUEST,
}


def _defaults(name: str, layout: Layout, s: Settings) -> list[str]:
    return [
        f"defaults {name}".rstrip(),
        "  mode http",
        "  log global",
        "  option dontlognull",
        "  option abortonclose",
        "  option redispatch 1",
        "  retries 3",
        "  retry-on conn-failure empty-response",
        "  http-reuse safe",
        f"  timeout connect {ms(s.connect_timeout)}",
        f"  timeout client {ms(s.idle_timeout)}",
        f"  timeout server {ms(s.request_timeout)}",
        f"  timeout http-request {ms(s.idle_timeout)}",
        f"  timeout http-keep-alive {ms(s.idle_timeout)}",
        f"  timeout tunnel {ms(s.idle_timeout)}",
        f"  timeout queue {ms(s.request_timeout)}",
        f'  log-format "{LOG_SEPARATOR.join(LOG_FIELDS)}"',
        # Requests HAProxy's parser refuses (before any rule runs): Heroku's page.
        f"  errorfile 400 {layout.raw_400}",
    ]


def _frontend(name: str, bind: str, proto: str, layout: Layout, s: Settings) -> list[str]:
    """Routing only: the request id, Heroku's size limits, and the backend (an app's, or
    the Python router's). What a forwarded request has done to it is in `_app_rules`."""
    fallback = f"fallback_{proto}"
    return [
        f"frontend {name}",
        f"  bind {bind}",
        # Each listener gets its share of what the process may hold (client and dyno
        # sockets), with room left for the runtime API: idle floods on one listener
        # never starve the other, nor the controller.
        f"  maxconn {min(s.max_connections, max(64, (s.global_maxconn - 100) // 2))}",
        "  option http-ignore-probes",
        "  option h1-case-adjust-bogus-client",
        # Request id: the client's when Heroku would keep it, else a fresh UUID v4.
        "  http-request set-var(txn.rid) req.fhdr(x-request-id)"
        r" if { req.fhdr(x-request-id) -m reg ^[A-Za-z0-9+/=-]{20,200}$ }",
        "  http-request set-var(txn.rid) uuid unless { var(txn.rid) -m found }",
        # Heroku's limits (behavior.md §2.3), before anything is routed.
        f"  http-request deny status 414 {_bad(layout)} if {{ url_len gt {s.max_request_line} }}",
        f"  http-request deny status 400 {_bad(layout)} if {{ req.hdr_cnt(host) gt 1 }}",
        f"  http-request lua.slipway_check_limits {s.max_header_line} {s.max_headers}"
        f" if {{ req.hdrs,length gt {min(s.max_header_line, 8000)} }}",
        f"  http-request deny status 431 {_bad(layout)} if {{ var(txn.limit) -m found }}",
        # Host -> the app's backend, for apps HAProxy serves itself.
        r"  http-request set-var(txn.host) req.hdr(host),lower,field(1,:),regsub(\.$,)",
        f"  http-request set-var(txn.be) var(txn.host),map_str({layout.hosts_map})",
        f"  http-request set-var(txn.be) var(txn.host),regsub(^[^.]*\\.,),"
        f"map_str({layout.wildcards_map}) if !{{ var(txn.be) -m found }}",
        # What the Python router must answer (it logs those lines itself): an odd
        # Expect; ACME HTTP-01 challenges, for any host (it passes them on); HTTP/1.0
        # clients, whose close-delimited bodies it re-frames; chunked uploads, which it
        # streams, answering bad framing (H26).
        "  acl expect req.hdr(expect) -m found",
        "  acl continue req.hdr(expect) -i 100-continue",
        "  acl to_fallback path_beg /.well-known/acme-challenge/",
        "  acl to_fallback req.ver 1.0",
        "  acl to_fallback req.hdr(transfer-encoding) -m found",
        *_error_pages(layout),
        f"  use_backend {fallback} if expect !continue or to_fallback",
        "  use_backend %[var(txn.be)] if { var(txn.be) -m found }",
        f"  default_backend {fallback}",
        "",
    ]


def _bad(layout: Layout) -> str:
    return (
        f'content-type "text/html; charset=utf-8" lf-file {layout.page("bad_request")}'
        ' hdr X-Request-Id %[var(txn.rid)] hdr Via "1.1 vegur"'
    )


def _error_pages(layout: Layout) -> list[str]:
    return [
        f'  http-error status {status} content-type "text/html; charset=utf-8"'
        f" lf-file {layout.page('app_error')} hdr X-Request-Id %[var(txn.rid)]"
        ' hdr Via "1.1 vegur"'
        for status in (502, 503, 504)
    ]


def _app_rules(layout: Layout, s: Settings) -> list[str]:
    """What every request HAProxy forwards to a dyno has done to it, in the named
    defaults section the app backends inherit: rules there run only for those
    requests, with no per-rule test of which kind of request this is."""
    return [
        "  acl has_body req.hdr_val(content-length) gt 0",
        "  acl continue req.hdr(expect) -i 100-continue",
        "  http-request set-var(txn.xff) req.fhdr(x-forwarded-for)",
        # The head the dyno sees (forwarding.py has the same rules for the fallback).
        # set-header replaces every earlier header of that name.
        "  http-request set-header X-Request-Id %[var(txn.rid)]",
        '  http-request set-header X-Forwarded-For "%[req.fhdr(x-forwarded-for)], %[src]"'
        " if { req.fhdr(x-forwarded-for) -m found }",
        "  http-request set-header X-Forwarded-For %[src]"
        " unless { req.fhdr(x-forwarded-for) -m found }",
        "  http-request set-header X-Forwarded-Proto %[fe_name]",  # the frontend: http(s)
        "  http-request set-header X-Forwarded-Port %[dst_port]",
        "  http-request set-header X-Request-Start %[date(0,ms)]",
        '  http-request set-header Via "%[req.fhdr(via)], 1.1 vegur" if { req.fhdr(via) -m found }',
        '  http-request set-header Via "1.1 vegur" unless { req.fhdr(via) -m found }',
        "  http-request lua.slipway_strip_connection if { req.hdr(connection) -m found }",
        "  http-request del-header connection unless { req.hdr(upgrade) -m found }",
        "  http-request del-header keep-alive",
        "  http-request del-header te",
        "  http-request del-header trailer",
        "  http-request del-header proxy-authorization",
        "  http-request del-header proxy-connection",
        # A body is read before the dyno is asked (up to a buffer's worth, as nginx
        # does): a client that stalls mid-body is the client's timeout (H28), and an
        # Expect: 100-continue is answered here.
        f"  http-request wait-for-body time {ms(s.idle_timeout + 1)} if has_body",
        f"  http-request wait-for-body time {ms(s.idle_timeout + 1)} if continue",
        "  http-request del-header expect",
        # The response: hop-by-hop headers out, Via in.
        "  http-response del-header keep-alive",
        '  http-response set-header Via "%[res.fhdr(via)], 1.1 vegur"'
        " if { res.fhdr(via) -m found }",
        '  http-response set-header Via "1.1 vegur" unless { res.fhdr(via) -m found }',
        # HAProxy's own errors for forwarded requests: Heroku's page and status.
        "  http-after-response set-status 503 if { status 502 }",
        "  http-after-response set-status 503 if { status 504 }",
        "  http-after-response set-header Cache-Control no-cache,\\ no-store"
        " if { status 503 } !{ res.hdr(cache-control) -m found }",
        # What bytes= counts (haproxy_log.py): the head the client got.
        "  http-after-response set-var(txn.ch) res.hdrs,length",
        "  http-after-response set-var(txn.cl) res.hdr(content-length)",
        *_error_pages(layout),
    ]


def render(layout: Layout, s: Settings, backends: dict[str, list[Server | None]]) -> str:
    """The whole configuration, with the backends (and servers) that exist now."""
    lines = [
        "global",
        "  master-worker",
        f"  nbthread {s.threads}",
        f"  maxconn {s.global_maxconn}",
        f"  stats socket {layout.admin_socket} mode 600 level admin expose-fd listeners",
        # Each thread writes its lines into the controller's pipe (haproxy_log.py).
        f"  log fd@{s.log_fd} len 16384 format raw local0 info",
        f"  tune.http.maxhdr {min(32767, s.max_headers + 10)}",
        *CASE_ADJUST,
        "  tune.ssl.default-dh-param 2048",
        "  ssl-default-bind-options ssl-min-ver TLSv1.2",
        f"  lua-load {layout.lua}",
        f"  hard-stop-after {ms(s.shutdown_timeout)}",
        "",
        *_defaults("", layout, s),
        "",
    ]
    host, port = s.listen
    lines += _frontend("http", f"{host}:{port}", "http", layout, s)
    if s.tls_listen is not None and s.default_cert is not None:
        host, port = s.tls_listen
        bind = f"{host}:{port} ssl crt {s.default_cert} crt-list {layout.crt_list}"
        bind += " alpn h2,http/1.1"
        lines += _frontend("https", bind, "https", layout, s)
    # The Python router answers whatever is not plain forwarding; it may hold a
    # request for a booting app (boot timeout) and then wait for the dyno.
    held = s.boot_timeout + s.request_timeout + s.idle_timeout + 5
    for proto, fport in (("http", s.fallback_http), ("https", s.fallback_https)):
        lines += [
            f"backend fallback_{proto}",
            f"  timeout server {ms(held)}",
            f"  timeout tunnel {ms(held)}",
            "  retries 0",
            "  http-request set-log-level silent",  # it logs these requests itself
            f"  server python 127.0.0.1:{fport} send-proxy maxconn {s.max_connections}",
            "",
        ]
    # The app backends, after the defaults section with the forwarding rules: a proxy
    # takes the last defaults section above it.
    lines += [*_defaults("apps", layout, s), *_app_rules(layout, s), ""]
    for name, servers in sorted(backends.items()):
        lines += backend_lines(name, servers, s, layout.page("app_error"))
    return "\n".join(lines) + "\n"


def backend_lines(name: str, slots: list[Server | None], s: Settings, page: Path) -> list[str]:
    lines = [
        f"backend {name}",
        "  balance leastconn",
        # Heroku's backlog (H11): beyond this many queued per dyno, refuse.
        f"  http-request set-var(txn.code) str(H11) if {{ avg_queue ge {s.backlog_per_dyno} }}",
        '  http-request return status 503 content-type "text/html; charset=utf-8"'
        f' lf-file {page} hdr X-Request-Id %[var(txn.rid)] hdr Via "1.1 vegur"'
        ' hdr Cache-Control "no-cache, no-store" if { var(txn.code) -m found }',
    ]
    for i, server in enumerate(slots, 1):
        if server is None:  # a free slot, pointed at a dyno at run time
            lines.append(f"  server s{i} 127.0.0.1:1 maxconn {s.max_in_flight_per_dyno} disabled")
        else:
            lines.append(
                f"  server s{i} {server.host}:{server.port} maxconn {s.max_in_flight_per_dyno}"
            )
    lines.append("")
    return lines
