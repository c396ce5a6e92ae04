/* Rebound's analysts' page: hand-written, no libraries, nothing loaded from
 * elsewhere.  Every number comes from the JSON API on the same listener;
 * charts are SVG drawn here.  Views are chosen by the URL fragment:
 * #/overview, #/domains, #/complaints, #/events?domain=D, #/address/ADDR. */
"use strict";
(function () {
  var CLASSES = ["hard", "soft", "block", "complaint", "autoreply", "delivered", "unknown"];
  var COLORS = { hard: "#c0392b", soft: "#e67e22", block: "#8e44ad", complaint: "#d81b60",
    autoreply: "#16a085", delivered: "#27ae60", unknown: "#7f8c8d", "": "#2d6cdf" };
  var SVGNS = "http://www.w3.org/2000/svg";
  var view = document.getElementById("view");
  var status = document.getElementById("status");
  var token = sessionStorage.getItem("rebound-token") || "";
  var generation = 0;

  function el(tag, attrs) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined) return;
      if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    });
  }
  function add(e, kid) {
    if (kid === null || kid === undefined) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(e, k); }); return; }
    e.appendChild(typeof kid === "object" ? kid : document.createTextNode(String(kid)));
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function enc(s) { return encodeURIComponent(s); }

  function api(path, opts) {
    opts = opts || {};
    var headers = {};
    if (token) headers["Authorization"] = "Bearer " + token;
    if (opts.body) headers["Content-Type"] = "application/json";
    return fetch(path, { method: opts.method || "GET", headers: headers,
      body: opts.body ? JSON.stringify(opts.body) : undefined }).then(function (r) {
      if (opts.raw && r.ok) return r.text();
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) throw new Error((j && j.error) || ("HTTP " + r.status));
        return j;
      });
    });
  }

  function period() { return document.getElementById("period").value; }

  /* Horizontal bars: rows [{key, count}]. */
  function barChart(id, rows, color) {
    var max = 1, h = 22, lw = 170, w = 560;
    rows.forEach(function (r) { if (r.count > max) max = r.count; });
    if (!rows.length) return el("p", { "class": "muted", id: id, text: "nothing in this period" });
    var s = svg("svg", { id: id, viewBox: "0 0 " + w + " " + (rows.length * h + 4), role: "img" });
    rows.forEach(function (r, i) {
      var y = i * h + 2, bw = Math.max(1, Math.round((w - lw - 60) * r.count / max));
      var label = r.key === "" || r.key === null ? "(none)" : String(r.key);
      s.appendChild(svg("text", { x: lw - 6, y: y + 15, "text-anchor": "end", "font-size": "12",
        fill: "#1d2430", text: label.length > 26 ? label.slice(0, 25) + "…" : label }));
      s.appendChild(svg("rect", { x: lw, y: y + 3, width: bw, height: h - 6, rx: 2,
        fill: typeof color === "function" ? color(r.key) : color, "data-key": label,
        "data-count": r.count }, svg("title", { text: label + ": " + r.count })));
      s.appendChild(svg("text", { x: lw + bw + 6, y: y + 15, "font-size": "12", fill: "#1d2430",
        text: fmt(r.count) }));
    });
    return el("div", { "class": "chart" }, s);
  }

  /* Stacked columns per time bucket: series [{t, key, count}]. */
  function timeChart(id, series) {
    if (!series.length) return el("p", { "class": "muted", id: id, text: "nothing in this period" });
    var buckets = [], byT = {}, keys = {};
    series.forEach(function (r) {
      if (!byT[r.t]) { byT[r.t] = {}; buckets.push(r.t); }
      byT[r.t][r.key] = (byT[r.t][r.key] || 0) + r.count;
      keys[r.key] = true;
    });
    var max = 1;
    buckets.forEach(function (t) {
      var sum = 0;
      Object.keys(byT[t]).forEach(function (k) { sum += byT[t][k]; });
      if (sum > max) max = sum;
    });
    var w = 1000, h = 240, pad = 40, bw = Math.min(60, Math.max(2, Math.floor((w - pad) / buckets.length) - 2));
    var s = svg("svg", { id: id, viewBox: "0 0 " + w + " " + (h + 40), role: "img" });
    s.appendChild(svg("line", { x1: pad, y1: h, x2: w, y2: h, stroke: "#99a" }));
    s.appendChild(svg("text", { x: pad - 4, y: 12, "text-anchor": "end", "font-size": "11",
      fill: "#556", text: fmt(max) }));
    s.appendChild(svg("text", { x: pad - 4, y: h, "text-anchor": "end", "font-size": "11",
      fill: "#556", text: "0" }));
    buckets.forEach(function (t, i) {
      var x = pad + i * (bw + 2), y = h;
      CLASSES.concat([""]).forEach(function (k) {
        var n = byT[t][k];
        if (!n) return;
        var bh = Math.max(1, Math.round((h - 10) * n / max));
        y -= bh;
        s.appendChild(svg("rect", { x: x, y: y, width: bw, height: bh, fill: COLORS[k] || "#2d6cdf" },
          svg("title", { text: t + " " + (k || "events") + ": " + n })));
      });
      if (i === 0 || i === buckets.length - 1 || buckets.length < 10)
        s.appendChild(svg("text", { x: x, y: h + 16, "font-size": "11", fill: "#556",
          text: t.replace("T", " ").replace(":00:00Z", "h").replace(" 00h", "") }));
    });
    var legend = el("div", { "class": "legend" }, Object.keys(keys).map(function (k) {
      return el("span", null, el("i", { "class": "sw-" + (k || "unknown") }), k || "events");
    }));
    return el("div", { "class": "chart" }, s, legend);
  }

  function table(id, headers, rows, numeric) {
    numeric = numeric || [];
    return el("table", { id: id },
      el("thead", null, el("tr", null, headers.map(function (h, i) {
        return el("th", { "class": numeric.indexOf(i) >= 0 ? "num" : null, text: h });
      }))),
      el("tbody", null, rows.map(function (r) {
        return el("tr", r.attrs || null, r.cells.map(function (c, i) {
          var cls = numeric.indexOf(i) >= 0 ? "num" : (r.classes && r.classes[i]) || null;
          return el("td", { "class": cls }, c === null || c === undefined ? "" : c);
        }));
      })));
  }

  function addrLink(a) { return el("a", { href: "#/address/" + enc(a), "class": "addr", text: a }); }
  function card(title) {
    var c = el("section", { "class": "card" }, el("h3", { text: title }));
    for (var i = 1; i < arguments.length; i++) add(c, arguments[i]);
    return c;
  }
  function kpi(id, label, n) {
    return el("div", { "class": "kpi" }, el("div", { "class": "n", id: id, text: fmt(n) }),
      el("div", { "class": "l", text: label }));
  }
  function rowsOf(list) { return (list || []).map(function (r) { return { key: r.key, count: r.count }; }); }

  /* --- views ----------------------------------------------------------- */

  function overview() {
    var p = period(), interval = p === "24h" ? "hour" : "day";
    return Promise.all([
      api("/v1/stats?since=" + p + "&by=class&interval=" + interval),
      api("/v1/stats?since=" + p + "&by=reason&class=hard,soft,block"),
      api("/v1/stats?since=" + p + "&by=provider&class=complaint"),
      api("/v1/stats?since=" + p + "&by=campaign&class=complaint"),
    ]).then(function (a) {
      var byClass = {}, total = 0;
      a[0].by_class.forEach(function (r) { byClass[r.key] = r.count; total += r.count; });
      var sup = a[0].suppressions;
      return [
        el("h2", { text: "Overview" }),
        el("div", { "class": "kpis" },
          kpi("kpi-total", "events", total),
          ["hard", "soft", "block", "complaint", "autoreply"].map(function (c) {
            return kpi("kpi-" + c, c, byClass[c] || 0);
          }),
          kpi("kpi-suppressed", "suppressed now", sup.total)),
        el("div", { "class": "grid" },
          card("Events by class", barChart("chart-class", rowsOf(a[0].by_class), function (k) { return COLORS[k]; })),
          card("Bounces by reason", barChart("chart-reason", rowsOf(a[1].by_reason).slice(0, 15), "#c0392b")),
          card("Complaints by provider", barChart("chart-provider", rowsOf(a[2].by_provider).slice(0, 15), "#d81b60")),
          card("Complaints by campaign", barChart("chart-campaign", rowsOf(a[3].by_campaign).slice(0, 15), "#8e44ad"))),
        el("div", { "class": "grid" },
          card("Over time (per " + interval + ")", timeChart("chart-time", a[0].series)))
      ];
    });
  }

  function domains(params) {
    var p = period(), chosen = (params.get("class") || "hard,soft").split(",");
    var cols = ["hard", "soft", "block", "complaint"];
    return Promise.all([api("/v1/stats?since=" + p + "&by=domain&class=" + enc(chosen.join(",")))]
      .concat(cols.map(function (c) { return api("/v1/stats?since=" + p + "&by=domain&class=" + c); })))
      .then(function (a) {
        var per = {};
        cols.forEach(function (c, i) {
          a[i + 1].by_domain.forEach(function (r) { (per[r.key] = per[r.key] || {})[c] = r.count; });
        });
        var boxes = el("div", { "class": "filters" }, "Count:", CLASSES.slice(0, 5).map(function (c) {
          var box = el("input", { type: "checkbox", id: "dom-class-" + c, value: c });
          box.checked = chosen.indexOf(c) >= 0;
          return el("label", null, box, " " + c);
        }), el("button", { id: "dom-apply", text: "Apply", onclick: function () {
          var sel = CLASSES.slice(0, 5).filter(function (c) { return document.getElementById("dom-class-" + c).checked; });
          location.hash = "#/domains?class=" + enc((sel.length ? sel : ["hard"]).join(","));
        } }));
        var rows = a[0].by_domain.slice(0, 100).map(function (r) {
          var d = per[r.key] || {};
          return { attrs: { "data-domain": r.key },
            cells: [el("a", { href: "#/events?domain=" + enc(r.key), text: r.key }),
              fmt(r.count), fmt(d.hard || 0), fmt(d.soft || 0), fmt(d.block || 0), fmt(d.complaint || 0)] };
        });
        return [el("h2", { text: "Top domains (" + chosen.join(", ") + ")" }), boxes,
          card("Domains by " + chosen.join(" + "), barChart("chart-domains", rowsOf(a[0].by_domain).slice(0, 15), "#2d6cdf")),
          el("div", { "class": "card" }, table("domains-table",
            ["domain", "selected", "hard", "soft", "block", "complaint"], rows, [1, 2, 3, 4, 5]))];
      });
  }

  function eventRows(items) {
    return items.map(function (e) {
      return { attrs: { "data-id": e.id, "data-class": e["class"] }, classes: { 6: "diag" },
        cells: [e.occurred_at, addrLink(e.recipient), e["class"], e.reason, e.status,
          e.provider || e.reporting_mta || e.remote_mta, e.diagnostic, e.campaign] };
    });
  }

  function complaints(params) {
    var p = period(), q = "since=" + p + "&limit=500";
    ["provider", "campaign", "feedback_type"].forEach(function (k) {
      if (params.get(k)) q += "&" + k + "=" + enc(params.get(k));
    });
    return api("/v1/complaints?" + q).then(function (j) {
      var inputs = {};
      var f = el("form", { "class": "filters", id: "complaint-filters" },
        ["provider", "campaign", "feedback_type"].map(function (k) {
          inputs[k] = el("input", { id: "cf-" + k, placeholder: k, value: params.get(k) || "" });
          return inputs[k];
        }), el("button", { type: "submit", text: "Filter" }));
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var parts = [];
        Object.keys(inputs).forEach(function (k) { if (inputs[k].value) parts.push(k + "=" + enc(inputs[k].value)); });
        location.hash = "#/complaints" + (parts.length ? "?" + parts.join("&") : "");
      });
      var rows = j.items.map(function (e) {
        return { attrs: { "data-id": e.id },
          cells: [e.occurred_at, addrLink(e.recipient), e.feedback_type, e.provider, e.campaign,
            e.orig_subject, e.suppressible === false ? "no" : "yes"] };
      });
      return [el("h2", { text: "Complaints" }), f,
        el("p", null, el("span", { id: "complaint-count", text: String(j.items.length) }),
          " complaint" + (j.items.length === 1 ? "" : "s") + (j.next_cursor ? " (first 500)" : "")),
        el("div", { "class": "card" }, table("complaints-table",
          ["occurred_at", "recipient", "type", "provider", "campaign", "subject", "counts"], rows))];
    });
  }

  function events(params) {
    var p = period(), q = "since=" + p + "&limit=500";
    ["domain", "class", "campaign", "provider", "recipient"].forEach(function (k) {
      if (params.get(k)) q += "&" + k + "=" + enc(params.get(k));
    });
    return api("/v1/events?" + q).then(function (j) {
      return [el("h2", { text: "Events " + q.replace(/^since=[^&]*&limit=500&?/, "").replace(/&/g, ", ") }),
        el("p", null, el("span", { id: "event-count", text: String(j.items.length) }), " events"),
        el("div", { "class": "card" }, table("events-table",
          ["occurred_at", "recipient", "class", "reason", "status", "provider / MTA", "diagnostic", "campaign"],
          eventRows(j.items)))];
    });
  }

  function showRaw(id, target) {
    api("/v1/events/" + id + "/raw", { raw: true }).then(function (t) {
      clear(target);
      target.appendChild(el("pre", { "class": "raw", id: "raw-" + id, text: t }));
    }, function (e) {
      clear(target);
      target.appendChild(el("p", { "class": "error", text: e.message }));
    });
  }

  function address(addr) {
    return api("/v1/addresses/" + enc(addr)).then(function (j) {
      var s = j.suppression, rawBox = el("div", { id: "raw-box" }), msg = el("p", { id: "action-msg" });
      var state = el("p", null, el("span", { id: "addr-state", "class": "badge " + (j.suppressed ? "suppressed" : "clear"),
        text: j.suppressed ? "suppressed" : "not suppressed" }));
      var details = s ? table("addr-suppression", ["class", "reason", "since", "last seen", "expires", "origin", "note"],
        [{ cells: [s["class"], s.reason, s.first_seen, s.last_seen, s.expires_at || "never", s.origin, s.note] }]) : null;
      var actions;
      if (j.suppressed) {
        actions = el("button", { "class": "danger", id: "btn-unsuppress", text: "Unsuppress", onclick: function () {
          api("/v1/suppressions/" + enc(j.address) + "?tenant=" + enc(j.tenant), { method: "DELETE" }).then(function () {
            render();
          }, function (e) { msg.className = "error"; msg.textContent = e.message; });
        } });
      } else {
        var reason = el("input", { id: "suppress-reason", placeholder: "reason", value: "manual" });
        actions = el("span", null, reason, " ", el("button", { "class": "primary", id: "btn-suppress", text: "Suppress",
          onclick: function () {
            api("/v1/suppressions", { method: "POST", body: { address: j.address, tenant: j.tenant,
              reason: reason.value || "manual" } }).then(function () { render(); },
              function (e) { msg.className = "error"; msg.textContent = e.message; });
          } }));
      }
      var evRows = j.events.map(function (e) {
        var raw = token ? el("button", { "class": "raw-btn", "data-id": e.id, text: "raw",
          onclick: function () { showRaw(e.id, rawBox); } }) : el("span", { "class": "muted", text: "token needed" });
        return { attrs: { "data-id": e.id, "data-class": e["class"] }, classes: { 5: "diag" },
          cells: [e.occurred_at, e["class"], e.reason, e.status, e.rule, e.diagnostic,
            e.provider || e.remote_mta || e.reporting_mta, e.campaign, e.suppressible === false ? "no" : "yes", raw] };
      });
      var auRows = j.audit.map(function (a) {
        var v = a["new"] || a.old || {};
        return { attrs: { "data-op": a.op }, cells: [a.at, a.op, a.origin, a.actor, v["class"], v.reason, v.note] };
      });
      return [el("h2", null, "Address ", el("span", { id: "addr-name", text: j.address }),
          el("span", { "class": "muted", text: " (tenant " + j.tenant + ")" })),
        el("div", { "class": "card" }, state, details, el("p", null, actions), msg),
        el("div", { "class": "card" }, el("h3", { text: "Events (" + j.events.length + ")" }),
          table("addr-events", ["occurred_at", "class", "reason", "status", "rule", "diagnostic", "provider / MTA",
            "campaign", "counts", "message"], evRows), rawBox),
        el("div", { "class": "card" }, el("h3", { text: "Audit trail" }),
          table("addr-audit", ["at", "op", "origin", "actor", "class", "reason", "note"], auRows))];
    });
  }

  function webhooks(params) {
    var state = params.get("state") || "dead";
    return api("/v1/webhooks?limit=200&state=" + enc(state)).then(function (j) {
      var msg = el("p", { id: "webhook-msg" });
      var rows = j.items.map(function (w) {
        var retry = w.state === "delivered" ? "" : el("button", { "class": "retry-btn", "data-id": w.id,
          text: "retry now", onclick: function () {
            api("/v1/webhooks/" + w.id + "/retry", { method: "POST" }).then(function () { render(); },
              function (e) { msg.className = "error"; msg.textContent = e.message; });
          } });
        return { attrs: { "data-id": w.id, "data-state": w.state }, classes: { 8: "diag" },
          cells: [String(w.id), el("a", { href: "#/address/" + enc(w.recipient), text: w.recipient }),
            w["class"], w.url, w.state, String(w.attempts), w.created_at, w.next_at, w.last_error, retry] };
      });
      return [el("h2", { text: "Webhook deliveries" }),
        el("div", { "class": "kpis" }, ["pending", "delivered", "dead"].map(function (s) {
          return el("a", { href: "#/webhooks?state=" + s }, kpi("wh-" + s, s, j.counts[s] || 0));
        })),
        msg,
        el("div", { "class": "card" }, el("h3", { text: state + " (newest first)" }),
          table("webhooks-table", ["id", "recipient", "class", "endpoint", "state", "attempts", "queued",
            "next try", "last error", ""], rows))];
    });
  }

  /* --- routing ----------------------------------------------------------- */

  function route() {
    var h = location.hash.replace(/^#\/?/, "") || "overview";
    var qi = h.indexOf("?");
    var path = qi >= 0 ? h.slice(0, qi) : h, params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : "");
    if (path.indexOf("address/") === 0) return { name: "address", arg: decodeURIComponent(path.slice(8)), params: params };
    return { name: path, params: params };
  }

  function render() {
    var r = route(), my = ++generation, p;
    view.setAttribute("data-ready", "0");
    view.setAttribute("data-view", r.name);
    ["overview", "domains", "complaints", "webhooks"].forEach(function (n) {
      document.getElementById("nav-" + n).className = n === r.name ? "active" : "";
    });
    if (r.name === "overview") p = overview();
    else if (r.name === "domains") p = domains(r.params);
    else if (r.name === "complaints") p = complaints(r.params);
    else if (r.name === "events") p = events(r.params);
    else if (r.name === "webhooks") p = webhooks(r.params);
    else if (r.name === "address") p = address(r.arg);
    else p = Promise.reject(new Error("no such view: " + r.name));
    p.then(function (nodes) {
      if (my !== generation) return;
      clear(view);
      add(view, nodes);
    }, function (e) {
      if (my !== generation) return;
      clear(view);
      view.appendChild(el("p", { "class": "error", id: "view-error", text: e.message }));
    }).then(function () {
      if (my !== generation) return;
      view.setAttribute("data-ready", "1");
      status.textContent = "updated " + new Date().toISOString().replace(/\.\d+Z$/, "Z");
    });
  }

  document.getElementById("search-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = document.getElementById("search").value.trim();
    if (!v) return;
    location.hash = v.indexOf("@") >= 0 ? "#/address/" + enc(v) : "#/events?domain=" + enc(v.toLowerCase());
  });
  function showToken() { document.getElementById("token-state").textContent = token ? "token set" : ""; }
  document.getElementById("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    token = document.getElementById("token").value.trim();
    if (token) sessionStorage.setItem("rebound-token", token); else sessionStorage.removeItem("rebound-token");
    document.getElementById("token").value = "";
    showToken();
    render();
  });
  document.getElementById("period").addEventListener("change", render);
  window.addEventListener("hashchange", render);
  showToken();
  render();
})();
