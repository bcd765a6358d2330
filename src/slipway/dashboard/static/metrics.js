// The metrics tab: uPlot charts of /apps/APP/metrics.json, refreshed every 5 seconds.
"use strict";
(function () {
  var root = document.getElementById("metrics");
  if (!root || typeof uPlot === "undefined") return;
  var charts = {};
  var range = document.getElementById("minutes");

  function width() { return Math.max(320, root.clientWidth - 20); }

  function draw(id, data, series) {
    var el = document.getElementById(id);
    if (charts[id]) { charts[id].setData(data); return; }
    el.textContent = "";
    charts[id] = new uPlot({ width: width(), height: 200, series: [{}].concat(series), scales: { x: { time: true } } }, data, el);
  }

  function load() {
    var minutes = range.value;
    var resolution = Number(minutes) > 1440 ? "10m" : "1m";
    fetch("/apps/" + encodeURIComponent(root.dataset.app) + "/metrics.json?minutes=" + minutes + "&resolution=" + resolution,
          { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { location.href = "/signin?next=" + encodeURIComponent(location.pathname); return null; }
        return r.ok ? r.json() : null;
      }).then(function (m) { if (m) show(m); }).catch(function () {});
  }

  function show(m) {
    var web = m.process_types.web || m.process_types[Object.keys(m.process_types)[0]];
    var summary = document.getElementById("metrics-summary");
    if (!web) { summary.textContent = "No measurements yet: send the app some requests."; return; }
    var t = web.totals;
    var byClass = Object.keys(t.counts).sort().map(function (k) { return k + ": " + t.counts[k]; }).join(", ");
    summary.textContent = "Requests: " + t.requests + " (" + byClass + ") · p50 " + t.p50_ms + " ms · p95 " + t.p95_ms + " ms · p99 " + t.p99_ms + " ms";
    summary.dataset.requests = t.requests;
    // One point per interval over the whole range (a quiet minute is a gap or a zero),
    // so the time axis is the range asked for, not just the minutes that had requests.
    var step = m.resolution;
    var byStart = {};
    web.series.forEach(function (p) { byStart[Math.floor(Date.parse(p.start) / 1000)] = p; });
    var end = Math.floor(Date.now() / 1000 / step) * step;
    var x = [];
    for (var at = end - m.minutes * 60 + step; at <= end; at += step) x.push(at);
    var s = x.map(function (at) { return byStart[at] || null; });
    function col(f) { return s.map(function (p) { return p ? f(p) : null; }); }
    draw("chart-latency", [x, col(function (p) { return p.p50_ms; }), col(function (p) { return p.p95_ms; }), col(function (p) { return p.p99_ms; })],
         [{ label: "p50", stroke: "#2b6cb0" }, { label: "p95", stroke: "#dd6b20" }, { label: "p99", stroke: "#c53030" }]);
    var classes = ["2xx", "3xx", "4xx", "5xx"];
    var colors = ["#2f855a", "#3182ce", "#d69e2e", "#c53030"];
    draw("chart-requests", [x].concat(classes.map(function (c) { return s.map(function (p) { return p ? (p.counts[c] || 0) : 0; }); })),
         classes.map(function (c, i) { return { label: c, stroke: colors[i] }; }));
    // R14 (over the quota) and R15 (killed at twice it) marked on the memory chart.
    function marked(kind) {
      return col(function (p) { return p.events[kind] ? Math.max(p.memory_rss_mb + p.memory_swap_mb, p.memory_quota_mb) : null; });
    }
    draw("chart-memory", [x, col(function (p) { return p.memory_rss_mb; }), col(function (p) { return p.memory_swap_mb; }),
                          col(function (p) { return p.memory_quota_mb || null; }), marked("R14"), marked("R15")],
         [{ label: "resident", stroke: "#2b6cb0" }, { label: "swap", stroke: "#805ad5" },
          { label: "quota", stroke: "#c53030", dash: [5, 5], spanGaps: true },
          { label: "R14", stroke: "#dd6b20", width: 0, points: { show: true, size: 10, fill: "#dd6b20" } },
          { label: "R15", stroke: "#9b2c2c", width: 0, points: { show: true, size: 12, fill: "#9b2c2c" } }]);
    draw("chart-cpu", [x, col(function (p) { return p.cpu_percent; })], [{ label: "CPU %", stroke: "#2f855a" }]);
    var dynos = (m.dynos || []).map(function (d) {
      return d.name + ": " + d.memory_rss_mb.toFixed(1) + " MB of " + d.memory_quota_mb + " MB, CPU " + d.cpu_percent + "%";
    }).join(" · ");
    document.getElementById("metrics-dynos").textContent = dynos || "No dyno sampled recently.";
    var ev = Object.keys(t.events).map(function (k) { return k + ": " + t.events[k]; }).join(", ");
    document.getElementById("metrics-events").textContent = (ev || "No R14, R15, restarts or crashes.") +
      (t.eco_seconds ? " · eco hours: " + (t.eco_seconds / 3600).toFixed(2) : "");
  }

  range.addEventListener("change", function () {
    Object.keys(charts).forEach(function (k) { charts[k].destroy(); delete charts[k]; });
    load();
  });
  load();
  setInterval(function () { if (!document.hidden) load(); }, 5000);
})();
