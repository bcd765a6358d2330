"""Metrics: what the router and the runtime measure, per app, process type and minute.

`routerline.py` parses Heroku's router line (both data planes send it through
`platform/router_feed.report`), `sketch.py` keeps response times in a DDSketch
(mergeable: across the router's workers, minutes and rollups), `collector.py`
gathers observations in memory and writes them to the `metrics` table (60 s
rows for 24 hours, 600 s rollups for 7 days, older rows pruned), `queries.py`
answers `/apps/{app}/metrics` and the dashboard's charts, `prometheus.py` the
platform's `/metrics` text.
"""
