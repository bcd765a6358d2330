"""The router's own responses: Heroku-like HTML error pages, prebuilt.

Each page is split around the request id once, at import, so an error response is
two joins and a length, never a template render. Pages are self-contained (no CDN
iframe as on Heroku): a self-hosted platform may have no internet access.
"""

from __future__ import annotations

from enum import Enum
from http import HTTPStatus

_STYLE = (
    "body{margin:0;font-family:-apple-system,'Helvetica Neue',Helvetica,Arial,sans-serif;"
    "background:#f5f5f7;color:#3f3f44}"
    "main{max-width:36em;margin:12vh auto;padding:0 1.5em}"
    "h1{font-size:1.6em;font-weight:400}p{line-height:1.5}"
    "code{font-size:.85em;color:#79589f}"
)

_TEMPLATE = (
    "<!DOCTYPE html>\n<html>\n<head>\n"
    '<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>{title}</title>\n<style>{style}</style>\n</head>\n<body>\n<main>\n"
    "<h1>{heading}</h1>\n<p>{text}</p>\n"
    "<p><code>Request ID: \x00</code></p>\n"
    "</main>\n</body>\n</html>\n"
)


class Page(Enum):
    """The pages Heroku serves (application-error, no-such-app, maintenance-mode ...)."""

    APPLICATION_ERROR = (
        "Application Error",
        "Application error",
        "An error occurred in the application and your page could not be served. "
        "If you are the application owner, check your logs for details: "
        "<code>slipway logs --tail</code>",
    )
    NO_SUCH_APP = (
        "No such app",
        "There's nothing here, yet.",
        "No app is served at this address. Check the address, or create an app "
        "or a custom domain for it.",
    )
    MAINTENANCE = (
        "Offline for Maintenance",
        "Offline for maintenance",
        "This app is undergoing maintenance right now. Please check back later.",
    )
    BLANK_APP = (
        "Welcome to your new app!",
        "Welcome to your new app!",
        "Nothing has been deployed to this app yet. Push code with "
        "<code>git push slipway main</code>.",
    )
    BAD_REQUEST = (
        "Bad Request",
        "Bad request",
        "The router could not understand the request.",
    )


def _split(page: Page) -> tuple[bytes, bytes]:
    title, heading, text = page.value
    html = _TEMPLATE.format(title=title, style=_STYLE, heading=heading, text=text)
    before, after = html.encode().split(b"\x00")
    return before, after


_PARTS = {page: _split(page) for page in Page}
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_REASONS[499] = b"Client Closed Request"


def reason(status: int) -> bytes:
    return _REASONS.get(status, b"Unknown")


def error_response(
    status: int, page: Page, request_id: str, *, close: bool, head_only: bool = False
) -> bytes:
    """A whole response (head and page) to write to the client as it is."""
    before, after = _PARTS[page]
    rid = request_id.encode()
    length = len(before) + len(rid) + len(after)
    head = (
        b"HTTP/1.1 %d %s\r\n"
        b"Connection: %s\r\n"
        b"Cache-Control: no-cache, no-store\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: %d\r\n"
        b"X-Request-Id: %s\r\n"
        b"Via: 1.1 vegur\r\n\r\n"
    ) % (status, reason(status), b"close" if close else b"keep-alive", length, rid)
    if head_only:
        return head
    return b"".join((head, before, rid, after))


def page_for(code: str | None) -> Page:
    if code == "H80":
        return Page.MAINTENANCE
    if code == "H81":
        return Page.BLANK_APP
    if code == "H26":
        return Page.BAD_REQUEST
    return Page.APPLICATION_ERROR
