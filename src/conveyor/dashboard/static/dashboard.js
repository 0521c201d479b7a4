/* conveyor dashboard: fills each panel from its JSON endpoint (one request per panel),
 * draws the charts, sends the actions after a confirmation. Apache-2.0, part of conveyor.
 * Every value from the server goes into the page as text, never as markup. */
(function () {
  "use strict";
  const body = document.body;
  const model = body.dataset.model;
  const api = path => `/ui/api/models/${encodeURIComponent(model)}${path}`;

  async function call(url, options) {
    const response = await fetch(url, Object.assign({credentials: "same-origin"}, options || {}));
    let data = null;
    try { data = await response.json(); } catch (e) { data = {message: response.statusText}; }
    if (!response.ok) {
      const err = new Error((data && data.message) || response.statusText);
      err.status = response.status;
      err.hint = data && data.hint;
      throw err;
    }
    return data;
  }

  function send(method, url, payload) {
    return call(url, {method: method, headers: {"Content-Type": "application/json"},
                      body: JSON.stringify(payload || {})});
  }

  function node(tag, text, cls) {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  }

  function link(href, text) {
    const a = node("a", text);
    a.href = href;
    return a;
  }

  function when(iso) {
    if (!iso) return "-";
    const d = typeof iso === "number" ? new Date(iso) : new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().slice(0, 19).replace("T", " ");
  }

  function num(v, digits) {
    return v === null || v === undefined ? "-" : Number(v).toFixed(digits === undefined ? 3 : digits);
  }

  /* A table: columns [[header, row => text | Node]]; rows appended by `add`. */
  function table(columns) {
    const t = node("table");
    const head = t.createTHead().insertRow();
    for (const [name] of columns) head.appendChild(node("th", name));
    const tbody = t.createTBody();
    return {
      element: t,
      add(rows) {
        for (const row of rows) {
          const tr = tbody.insertRow();
          for (const [, cell] of columns) {
            const td = tr.insertCell();
            const value = cell(row);
            if (value instanceof Node) td.appendChild(value); else td.textContent = value === undefined || value === null ? "-" : String(value);
          }
        }
      },
    };
  }

  function showError(container, err) {
    container.textContent = "";
    container.appendChild(node("p", err.message + (err.hint ? ` (${err.hint})` : ""), "error"));
  }

  const vName = v => v ? `v${v}` : "-";

  /* The gate's checks: metric, threshold, value, passed (a version gated before the checks
   * were stored structured has only their texts: one cell each). */
  function checksTable(checks) {
    if (!checks.length) return "-";
    const view = table([
      ["", c => node("span", c.passed ? "✓" : "✗", c.passed ? "ok" : "bad")],
      ["check", c => c.metric === null ? c.detail : c.check],
      ["threshold", c => c.threshold], ["value", c => num(c.value, 4)],
    ]);
    view.element.className = "checks";
    view.add(checks);
    return view.element;
  }

  const RENDER = {
    stages: () => table([
      ["stage", r => r.stage], ["stand", r => r.stand],
      ["version", r => r.error ? node("span", r.error, "error") : vName(r.version)],
      ["since", r => when(r.since)], ["by", r => r.by], ["why", r => r.reason],
      ["held before", r => (r.previous || []).map(vName).join(" ← ") || "-"],
    ]),
    versions: () => table([
      ["version", r => vName(r.version)], ["aliases", r => r.aliases.join(", ") || "-"],
      ["gate", r => node("span", r.gate, "gate gate-" + r.gate)],
      ["checks", r => checksTable(r.checks)],
      ["metrics", r => Object.entries(r.metrics).map(([k, v]) => `${k} ${num(v)}`).join(", ") || "-"],
      ["created", r => when(r.created)],
      ["origin", r => r.copied_from ? `copy of ${r.copied_from}` : (r.trigger ? `retrained on ${r.trigger}` : "-")],
    ]),
    moves: () => table([
      ["at", r => when(r.at)], ["who", r => r.who], ["action", r => r.action], ["stage", r => r.stage],
      ["from", r => vName(r.from_version)], ["to", r => vName(r.to_version)],
      ["forced", r => r.forced ? "yes" : ""], ["why", r => r.reason],
    ]),
    live: () => table([
      ["at", r => when(r.at)], ["who", r => r.who], ["action", r => r.action],
      ["deployments", r => r.stage], ["what", r => r.reason],
    ]),
    lineage: () => table([
      ["drift found", r => r.drift ? `${when(r.drift.at)}: ${r.drift.note}` : (r.reason || "-")],
      ["retrained", r => `${vName(r.version)} (gate ${r.gate})`],
      ["promotions", r => r.promotions.map(p => `${p.stage} ${when(p.at)} by ${p.who}`).join("; ") || "none yet"],
    ]),
    runs: () => table([
      ["pipeline", r => r.pipeline], ["trigger", r => r.trigger],
      ["status", r => node("span", r.status, "status status-" + r.status)], ["slot", r => r.slot],
      ["start", r => when(r.start)], ["duration", r => r.duration_s === null ? "running" : `${num(r.duration_s, 1)} s`],
      ["attempts", r => r.attempts],
      ["MLflow run", r => r.mlflow_url ? link(r.mlflow_url, r.job_run_id || r.run_id) : (r.job_run_id || r.run_id)],
      ["log", r => r.log_url ? link(r.log_url, "log") : "-"], ["detail", r => r.detail],
    ]),
  };

  /* A paged panel: the first page, then "More" appends the next. */
  async function loadPaged(panel) {
    const container = panel.querySelector(".body");
    const more = panel.querySelector(".more");
    const view = RENDER[panel.dataset.panel]();
    let started = false;
    async function fetchPage(next) {
      const url = next ? `${panel.dataset.src}&next=${encodeURIComponent(next)}` : panel.dataset.src;
      const data = await call(url);
      if (!started) {
        container.textContent = "";
        container.appendChild(data.items.length ? view.element : node("p", "nothing recorded yet", "empty"));
        started = true;
      }
      view.add(data.items);
      if (data.items.length && !view.element.isConnected) { container.textContent = ""; container.appendChild(view.element); }
      if (more) {
        more.hidden = !data.next;
        more.onclick = () => fetchPage(data.next).catch(err => showError(container, err));
      }
      panel.dataset.loaded = "yes";
    }
    await fetchPage(null);
  }

  /* The endpoint panel: deployments and their rates between two readings. */
  let lastReading = null;
  async function loadEndpoint(panel) {
    const container = panel.querySelector(".body");
    const data = await call(panel.dataset.src);
    const before = lastReading;
    lastReading = data;
    const total = Object.values(data.weights || {}).reduce((a, b) => a + b, 0) || 1;
    const rate = (dep, key) => {
      if (!before || dep[key] === undefined) return "-";
      const old = (before.deployments || []).find(d => d.deployment === dep.deployment);
      const dt = data.at - before.at;
      return old && dt > 0 ? `${num((dep[key] - (old[key] || 0)) / dt, 2)}/s` : "-";
    };
    const view = table([
      ["deployment", d => d.deployment], ["target", d => d.target], ["version", d => vName(d.version)],
      ["state", d => d.state], ["weight", d => `${d.weight} (${Math.round(d.weight / total * 100)}%)`],
      ["requests", d => d.requests === undefined ? "-" : d.requests], ["request rate", d => rate(d, "requests")],
      ["error rate", d => d.requests ? `${num(100 * d.errors / d.requests, 1)}%` : "-"],
      ["p95", d => d.p95_s === null || d.p95_s === undefined ? "-" : `≤ ${num(d.p95_s * 1000, 1)} ms`],
    ]);
    view.add(data.deployments || []);
    container.textContent = "";
    container.appendChild(view.element);
    const shadow = data.shadow ? `shadow: ${data.shadow.deployment} gets a copy of ${Math.round(100 * data.shadow.share)}% of requests` : "no shadow";
    container.appendChild(node("p", shadow, "hint"));
    const canary = data.canary;
    container.appendChild(node("p", canary ? `canary of ${canary.candidate}: ${canary.state}${canary.reason ? " — " + canary.reason : ""} (started by ${canary.started_by})` : "no canary", "canary"));
    const resume = document.getElementById("canary-resume");
    if (resume) resume.hidden = !(canary && canary.state === "interrupted");  // only an interrupted one goes on
    panel.dataset.loaded = "yes";
    fillWeights(data);
  }

  function fillWeights(data) {
    const box = document.getElementById("weights");
    if (!box || box.dataset.filled) return;
    box.textContent = "";
    for (const dep of data.deployments || []) {
      const label = node("label", dep.deployment + " ");
      const input = node("input");
      input.type = "number"; input.min = "0"; input.step = "any";
      input.name = dep.deployment; input.value = String(dep.weight);
      input.id = "weight-" + dep.deployment;
      label.appendChild(input);
      box.appendChild(label);
    }
    box.dataset.filled = "yes";
  }

  /* The monitoring page: one request feeds the charts, the alerts and the report link. */
  async function loadMonitoring(holder) {
    const data = await call(holder.dataset.src);
    const runs = data.items.slice().reverse();  // oldest first
    const series = (pick) => {
      const named = {};
      for (const run of runs) {
        for (const [name, value] of Object.entries(pick(run))) {
          (named[name] = named[name] || []).push([Date.parse(run.at), value]);
        }
      }
      return Object.entries(named).map(([name, points]) => ({name, points}));
    };
    ConveyorChart.line(document.getElementById("drift-chart"),
      series(r => Object.fromEntries(Object.entries(r.features).map(([k, f]) => [`${k} (${f.test})`, f.score]))),
      {label: "drift per feature", yLabel: "score"});
    ConveyorChart.line(document.getElementById("performance-chart"), series(r => r.performance), {label: "performance"});
    ConveyorChart.line(document.getElementById("fairness-chart"), series(r => r.fairness), {label: "fairness"});
    const latest = document.getElementById("latest-report");
    latest.textContent = "";
    const newest = data.items[0];
    latest.appendChild(newest ? link(newest.report, `report of ${when(newest.at)} (v${newest.version}, ${newest.verdict})`)
                              : node("p", "no monitoring run yet", "empty"));
    const alerts = document.getElementById("alerts");
    const drifted = data.items.filter(r => r.verdict === "drift");
    alerts.textContent = "";
    if (!drifted.length) { alerts.appendChild(node("p", "no drift found", "empty")); }
    else {
      const view = table([
        ["at", r => when(r.at)], ["version", r => vName(r.version)], ["verdict", r => r.note],
        ["share drifted", r => r.drift_share === null ? "-" : `${num(100 * r.drift_share, 0)}%`],
        ["retrained", r => vName(r.retrain_version)], ["report", r => link(r.report, "report")],
      ]);
      view.add(drifted);
      alerts.appendChild(view.element);
    }
    holder.dataset.loaded = "yes";
  }

  function load(panel) {
    const kind = panel.dataset.panel;
    const job = kind === "endpoint" ? loadEndpoint(panel) : kind === "monitoring" ? loadMonitoring(panel) : loadPaged(panel);
    return job.catch(err => {
      const container = panel.querySelector(".body") || panel;
      showError(container, err);
      panel.dataset.loaded = "error";
    });
  }

  /* Actions: each asks for a confirmation, then says what happened. */
  function result(text, ok) {
    const out = document.getElementById("action-result");
    out.textContent = text;
    out.className = "result " + (ok ? "ok" : "error");
  }

  function act(form, describe, run) {
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const what = describe();
      if (!window.confirm(what + "?")) { result("cancelled", false); return; }
      try {
        result(await run(), true);
      } catch (err) {
        result(err.message + (err.hint ? ` (${err.hint})` : ""), false);
      }
      refresh();
    });
  }

  function refresh() {
    document.querySelectorAll("[data-panel=endpoint], [data-panel=live]").forEach(load);
  }

  function wireActions() {
    const weights = () => Object.fromEntries(
      Array.from(document.querySelectorAll("#weights input")).map(i => [i.name, Number(i.value)]));
    act(document.getElementById("traffic-form"),
      () => "Set traffic " + Object.entries(weights()).map(([k, v]) => `${k}=${v}`).join(" "),
      async () => {
        const status = await send("PUT", api("/traffic"), {weights: weights()});
        return "traffic set: " + Object.entries(status.weights).map(([k, v]) => `${k}=${v}`).join(" ") + (status.notice ? ` (${status.notice})` : "");
      });
    act(document.getElementById("canary-form"),
      () => `Start a canary of ${document.getElementById("canary-to").value}`,
      async () => {
        const state = await send("POST", api("/canary"), {
          to: document.getElementById("canary-to").value, steps: document.getElementById("canary-steps").value,
          interval: document.getElementById("canary-interval").value});
        return `canary of ${state.candidate} started`;
      });
    const stop = document.getElementById("canary-stop");
    if (stop) stop.addEventListener("click", async () => {
      if (!window.confirm("Stop the canary and restore the traffic?")) { result("cancelled", false); return; }
      try {
        const state = await send("DELETE", api("/canary"));
        result(state.state === "stopped" ? state.reason : "stop asked: traffic is restored at the end of the step", true);
      } catch (err) { result(err.message, false); }
      refresh();
    });
    const resume = document.getElementById("canary-resume");
    if (resume) resume.addEventListener("click", async () => {
      if (!window.confirm("Resume the interrupted canary from the step it was at?")) { result("cancelled", false); return; }
      try { const state = await send("POST", api("/canary/resume")); result(state.reason, true); }
      catch (err) { result(err.message, false); }
      refresh();
    });
    act(document.getElementById("rollback-form"),
      () => `Roll back ${document.getElementById("rollback-stage").value}`,
      async () => {
        const move = await send("POST", api("/rollback"), {
          stage: document.getElementById("rollback-stage").value, reason: document.getElementById("rollback-reason").value});
        return `${move.stage}: v${move.from_version} → v${move.to_version}`;
      });
  }

  function wireSession() {
    const form = document.getElementById("sign-in");
    if (form) form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("sign-in-error");
      try {
        await send("PUT", "/ui/api/session", {token: document.getElementById("token").value});
        window.location.assign(`/ui/models/${encodeURIComponent(model)}`);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
    const out = document.getElementById("sign-out");
    if (out) out.addEventListener("click", async () => {
      await call("/ui/api/session", {method: "DELETE"});
      window.location.assign("/ui/login");
    });
  }

  wireSession();
  wireActions();
  document.querySelectorAll("[data-panel]").forEach(panel => {
    load(panel);
    const every = Number(panel.dataset.refresh || 0);
    if (every > 0) setInterval(() => load(panel), every * 1000);
  });
})();
