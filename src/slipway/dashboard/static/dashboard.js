// Slipway's dashboard: live regions, the build output and log streams, config reveal,
// and the formation sliders. Hand-written, no dependencies, nothing from another host.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function toSignIn() {
    // The session ended: sign in again and come back to this very page.
    location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
  }

  function partUrl(name) {
    var q = new URLSearchParams(location.search);
    q.set("part", name);
    return location.pathname + "?" + q.toString();
  }

  // Live regions: <div data-live="NAME"> is re-rendered by the server every second.
  function refresh(region) {
    return fetch(partUrl(region.dataset.live), {
      headers: { "X-Requested-With": "fetch" }, credentials: "same-origin"
    }).then(function (r) {
      if (r.status === 401) { toSignIn(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && html !== region.dataset.last) {
        region.dataset.last = html;
        region.innerHTML = html;
        region.dispatchEvent(new CustomEvent("live-updated", { bubbles: true }));
      }
    }).catch(function () {});
  }
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  if (regions.length) {
    setInterval(function () {
      if (document.hidden) return;
      regions.forEach(refresh);
    }, 1000);
  }

  // A form sent after the session ended: what was typed comes back once the person has
  // signed in again and is returned here (kept in this tab's sessionStorage only).
  var KEPT = "slipway-kept-form";
  try {
    var kept = location.pathname === "/signin" ? null : JSON.parse(sessionStorage.getItem(KEPT) || "null");
    if (location.pathname !== "/signin") sessionStorage.removeItem(KEPT);
    if (kept && kept.path === location.pathname && document.referrer.indexOf("/signin") >= 0) {
      var form = kept.id && document.getElementById(kept.id);
      if (form) {
        Object.keys(kept.values).forEach(function (name) {
          var field = form.elements.namedItem(name);
          if (field && field.type !== "hidden") field.value = kept.values[name];
        });
      }
    }
  } catch (e) { /* storage refused: nothing to restore */ }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.id || (form.getAttribute("action") || "").indexOf("/signin") >= 0) return;
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.type !== "hidden" && el.type !== "password" && el.type !== "submit") values[el.name] = el.value;
    });
    try { sessionStorage.setItem(KEPT, JSON.stringify({ path: location.pathname, id: form.id, values: values })); } catch (err) {}
  });

  // Sliders show their value next to them.
  document.querySelectorAll('input[type="range"][data-shows]').forEach(function (input) {
    var out = document.getElementById(input.dataset.shows);
    input.addEventListener("input", function () { if (out) out.textContent = input.value; });
  });

  // The build output: streamed while the build runs; a newer build replaces it.
  var output = document.getElementById("build-output");
  var streaming = null;
  function streamBuild(id) {
    if (!output || !id || streaming === id) return;
    streaming = id;
    output.dataset.build = id;
    output.textContent = "";
    fetch("/apps/" + encodeURIComponent(output.dataset.app) + "/builds/" + encodeURIComponent(id) + "/output",
          { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { toSignIn(); return; }
      if (!r.body) return r.text().then(function (t) { output.textContent = t; });
      var reader = r.body.getReader();
      var decoder = new TextDecoder();
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done || streaming !== id) return;
          output.textContent += decoder.decode(chunk.value, { stream: true });
          output.scrollTop = output.scrollHeight;
          return pump();
        });
      }
      return pump();
    }).catch(function () {});
  }
  if (output) {
    streamBuild(output.dataset.build);
    document.addEventListener("live-updated", function () {
      // A build that just started is the one to watch, unless one was picked.
      if (new URLSearchParams(location.search).get("build")) return;
      var newest = document.querySelector("#builds [data-build-id]");
      if (newest && newest.dataset.buildId !== streaming) streamBuild(newest.dataset.buildId);
    });
    document.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest("[data-show-build]");
      if (!link) return;
      e.preventDefault();
      history.replaceState(null, "", link.href);
      streaming = null;
      streamBuild(link.dataset.showBuild);
    });
  }

  // Config vars: values only on request.
  var reveal = document.getElementById("reveal");
  if (reveal) {
    reveal.addEventListener("click", function () {
      fetch("/apps/" + encodeURIComponent(reveal.dataset.app) + "/config.json", {
        headers: { "X-Requested-With": "fetch" }, credentials: "same-origin"
      }).then(function (r) {
        if (r.status === 401) { toSignIn(); return null; }
        return r.ok ? r.json() : null;
      }).then(function (values) {
        if (!values) return;
        document.querySelectorAll("[data-value-of]").forEach(function (el) {
          el.textContent = values[el.dataset.valueOf];
        });
        reveal.hidden = true;
      });
    });
  }

  // Config vars: Edit fills the form below with the variable's current value.
  document.querySelectorAll("[data-edit]").forEach(function (button) {
    button.addEventListener("click", function () {
      var app = reveal && reveal.dataset.app;
      if (!app) return;
      fetch("/apps/" + encodeURIComponent(app) + "/config.json", {
        headers: { "X-Requested-With": "fetch" }, credentials: "same-origin"
      }).then(function (r) {
        if (r.status === 401) { toSignIn(); return null; }
        return r.ok ? r.json() : null;
      }).then(function (values) {
        if (!values) return;
        document.getElementById("config-key").value = button.dataset.edit;
        var value = document.getElementById("config-value");
        value.value = values[button.dataset.edit] || "";
        value.focus();
      });
    });
  });

  // Logs: the app's live stream (server-sent events), with filters.
  var filters = document.getElementById("log-filters");
  if (filters) {
    var lines = document.getElementById("log-lines");
    var state = document.getElementById("log-state");
    var source = null;
    var kept = 2000;
    function open() {
      if (source) source.close();
      lines.textContent = "";
      state.textContent = "connecting…";
      var q = new URLSearchParams(new FormData(filters));
      Array.from(q.keys()).forEach(function (k) { if (!q.get(k)) q.delete(k); });
      source = new EventSource("/apps/" + encodeURIComponent(filters.dataset.app) + "/logs/stream?" + q.toString());
      source.onopen = function () { state.textContent = "streaming"; };
      source.onmessage = function (e) {
        lines.appendChild(document.createTextNode(e.data + "\n"));
        while (lines.childNodes.length > kept) lines.removeChild(lines.firstChild);
        lines.scrollTop = lines.scrollHeight;
      };
      source.addEventListener("notice", function (e) { state.textContent = JSON.parse(e.data); source.close(); });
      source.onerror = function () {
        state.textContent = "reconnecting…";
        fetch(partUrl("none"), { headers: { "X-Requested-With": "fetch" } }).then(function (r) {
          if (r.status === 401) { source.close(); toSignIn(); }
        });
      };
    }
    filters.addEventListener("change", open);
    open();
  }
})();
