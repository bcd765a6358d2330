"""The dashboard: the platform in the browser, on `dashboard.<base domain>`.

Server-rendered pages (Jinja2) over the platform's use cases, a small hand-written
script for live regions and log streams (`static/dashboard.js`), and uPlot's
prebuilt file for charts (`static/uPlot.iife.min.js`, checked against the sha256
recorded in `static/VENDORED`). Nothing is fetched from another host.
"""

from slipway.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
