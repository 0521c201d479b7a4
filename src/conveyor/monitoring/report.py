"""A self-contained HTML report (inline SVG, no scripts, no CDN) from a monitoring summary."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

from conveyor.core.capture import PREDICTION, SCORE
from conveyor.profiles import (
    CategoricalProfile,
    ColumnSchema,
    DatasetProfile,
    NumericProfile,
    stats,
)

BASELINE_COLOUR = "#8a94a6"
CURRENT_COLOUR = "#e8772e"
PLOT_GROUPS = 20
MAX_CATEGORIES = 15
LABELS = {PREDICTION: "prediction", SCORE: "prediction score"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2433;max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde}
.muted{color:#667} table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border-bottom:1px solid #e4e6eb;padding:.3rem .6rem;text-align:left;vertical-align:top}
.badge{display:inline-block;padding:.15rem .5rem;border-radius:.6rem;font-weight:600;font-size:.85rem}
.drift{background:#fde2e1;color:#b42318}.ok{background:#dcfae6;color:#067647}.none{background:#eef0f3;color:#475467}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:1rem}
.card{border:1px solid #e4e6eb;border-radius:.5rem;padding:.6rem}.card h3{font-size:.95rem;margin:.2rem 0}
ul.msg li{margin:.15rem 0} .legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem}
"""


def render_html(
    summary: dict[str, Any], baseline: DatasetProfile | None, current: DatasetProfile
) -> str:
    """The whole report as one HTML string."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_e(summary.get('model', ''))} monitoring</title><style>{_CSS}</style></head><body>",
        _header(summary),
        _messages(summary.get("messages", [])),
    ]
    drift = summary.get("drift")
    if drift:
        parts.append(_drift_table(drift))
        parts.append(_plots(drift, baseline, current))
    parts.append(_performance(summary.get("performance")))
    parts.append(_fairness(summary.get("fairness")))
    parts.append(_triggers(summary.get("triggers", [])))
    parts.append(
        "<h2>Summary (JSON)</h2><details><summary>show</summary><pre>"
        + _e(json.dumps(summary, indent=2, default=str))
        + "</pre></details></body></html>"
    )
    return "".join(parts)


_STATUS_CLASS = {"drift": "drift", "no drift": "ok", "insufficient data": "none"}


def _header(summary: dict[str, Any]) -> str:
    """The verdict sentence on top, then the signals that make it."""
    verdict = summary.get("verdict") or {}
    status = str(verdict.get("status", "insufficient data"))
    badge = f"<span class='badge {_STATUS_CLASS.get(status, 'none')}'>{_e(status)}</span>"
    window = summary.get("window", {})
    rows = "".join(
        f"<tr><td>{_e(s.get('name'))}</td><td>{'yes' if s.get('counted') else 'no'}</td>"
        f"<td>{_badge(s.get('moved'), 'moved', 'ok', 'not judged')}</td><td>{_e(s.get('detail', ''))}</td></tr>"
        for s in verdict.get("signals", [])
    )
    return (
        f"<h1>{_e(summary.get('model'))} v{_e(summary.get('version'))} — monitoring {badge}</h1>"
        f"<p class='verdict'><strong>{_e(verdict.get('sentence', ''))}</strong></p>"
        f"<p class='muted'>{_e(window.get('source', ''))} · {summary.get('rows', 0)} rows · "
        f"window end {_e(window.get('end', ''))} · method {_e((summary.get('drift') or {}).get('method', '-'))}"
        f" · MLflow run {_e(summary.get('run_id', '-'))}</p>"
        "<table><tr><th>signal</th><th>counts (monitor.fail_on)</th><th>verdict</th><th>details</th></tr>"
        f"{rows}</table>"
    )


def _messages(messages: list[str]) -> str:
    if not messages:
        return ""
    items = "".join(f"<li>{_e(m)}</li>" for m in messages)
    return f"<h2>Notes</h2><ul class='msg'>{items}</ul>"


def _drift_table(drift: dict[str, Any]) -> str:
    share = drift.get("share")
    share_text = "-" if share is None else f"{share:.0%}"
    rows = []
    target = [drift["target"]] if drift.get("target") else []
    for item in [*drift.get("features", []), *drift.get("outputs", []), *target]:
        score = item.get("score")
        rows.append(
            "<tr>"
            f"<td>{_e(_label(item))}</td><td>{_e(item['kind'])}</td>"
            f"<td>{_badge(item.get('drifted'), 'drift', 'ok', 'no verdict')}</td>"
            f"<td>{_e(item.get('test') or '-')}</td>"
            f"<td>{_num(score)}</td><td>{_num(item.get('threshold'))}</td>"
            f"<td>{_e('; '.join(item.get('reasons', []) + item.get('messages', [])))}</td></tr>"
        )
    return (
        f"<h2>Data drift {_badge(drift.get('dataset_drift'), 'dataset drift', 'stable', 'no verdict')}</h2>"
        f"<p>{share_text} of features drifted (dataset drift at ≥ {drift.get('share_threshold', 0.5):.0%}).</p>"
        "<table><tr><th>column</th><th>kind</th><th>verdict</th><th>test</th><th>score</th>"
        "<th>threshold</th><th>details</th></tr>" + "".join(rows) + "</table>"
    )


def _plots(drift: dict[str, Any], baseline: DatasetProfile | None, current: DatasetProfile) -> str:
    if baseline is None:
        return ""
    cards = []
    target = [drift["target"]] if drift.get("target") else []
    for item in [*drift.get("features", []), *drift.get("outputs", []), *target]:
        name = item["column"]
        schema = baseline.schema.get(name)
        ref, cur = baseline.columns.get(name), current.columns.get(name)
        if schema is None or ref is None or cur is None:
            continue
        svg = _svg_for(schema, ref, cur)
        cards.append(
            f"<div class='card'><h3>{_e(_label(item))} "
            f"{_badge(item.get('drifted'), 'drift', 'ok', 'no verdict')}</h3>{svg}</div>"
        )
    legend = (
        f"<p class='legend'><span style='background:{BASELINE_COLOUR}'></span>baseline"
        f"<span style='background:{CURRENT_COLOUR}'></span>current</p>"
    )
    return "<h2>Baseline vs current</h2>" + legend + "<div class='grid'>" + "".join(cards) + "</div>"


def _svg_for(schema: ColumnSchema, ref: Any, cur: Any) -> str:
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
        return _numeric_svg(schema, ref, cur)
    if isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
        keys = sorted(ref.counts, key=lambda k: -ref.counts[k])[:MAX_CATEGORIES]
        new = sorted(cur.new, key=lambda k: -cur.new[k])[:5]
        ref_total, cur_total = max(ref.count, 1), max(cur.count, 1)
        ref_shares = [ref.counts[k] / ref_total for k in keys] + [0.0 for _ in new]
        cur_shares = [cur.counts.get(k, 0) / cur_total for k in keys] + [cur.new[k] / cur_total for k in new]
        return _bars(ref_shares, cur_shares, [*keys, *[f"{k} (new)" for k in new]], "", "")
    return ""


def _numeric_svg(schema: ColumnSchema, ref: NumericProfile, cur: NumericProfile) -> str:
    """Both histograms on one value axis spanning both distributions: the baseline's bins
    grouped into ~``PLOT_GROUPS`` groups of equal baseline mass, and the outer bins drawn out
    to the smallest and largest value seen, so a current distribution beyond the baseline's
    range shows how far it went."""
    edges = schema.edges
    if not edges:
        return ""
    seen = [v for v in (ref.minimum, cur.minimum, ref.maximum, cur.maximum, edges[0], edges[-1]) if v is not None]
    lo, hi = min(seen), max(seen)
    inner = stats.decile_groups(ref.counts[1:-1], PLOT_GROUPS) if len(edges) > 1 else []
    spans = [(lo, edges[0], np.array([0]))]
    spans += [(edges[int(g[0])], edges[int(g[-1]) + 1], g + 1) for g in inner if len(g)]
    spans.append((edges[-1], hi, np.array([len(edges)])))
    p, q = stats.proportions(ref.counts), stats.proportions(cur.counts)
    width, height, bottom = 340, 150, 130
    scale = (width - 20) / (hi - lo) if hi > lo else 0.0
    top = max(max(float(p[g].sum()), float(q[g].sum())) for _, _, g in spans) or 1e-9
    shapes = []
    for left, right, group in spans:
        for share, colour in ((float(p[group].sum()), BASELINE_COLOUR), (float(q[group].sum()), CURRENT_COLOUR)):
            if share <= 0:
                continue
            x = 10 + (left - lo) * scale
            w = max((right - left) * scale, 3.0)
            h = (bottom - 10) * share / top
            shapes.append(
                f"<rect x='{x:.1f}' y='{bottom - h:.1f}' width='{w:.1f}' height='{h:.1f}' fill='{colour}' "
                f"fill-opacity='0.6'><title>{left:.4g} … {right:.4g}: {share:.1%}</title></rect>"
            )
    labels = (f"<text x='10' y='{bottom + 12}' font-size='9'>{lo:.4g}</text>"
              f"<text x='{width - 10}' y='{bottom + 12}' font-size='9' text-anchor='end'>{hi:.4g}</text>")
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'><line x1='10' y1='{bottom}' x2='{width - 10}' y2='{bottom}' "
        f"stroke='#99a'/>{''.join(shapes)}{labels}</svg>"
    )


def _bars(p: list[float], q: list[float], labels: list[str], low: str, high: str) -> str:
    width, height, bottom = 340, 150, 130
    n = max(len(p), 1)
    top = max([*p, *q, 1e-9])
    slot = (width - 20) / n
    bar = max(slot / 2 - 1, 1)
    shapes = []
    for i, (a, b) in enumerate(zip(p, q)):
        x = 10 + i * slot
        for offset, value, colour in ((0, a, BASELINE_COLOUR), (bar, b, CURRENT_COLOUR)):
            h = (bottom - 10) * value / top
            shapes.append(
                f"<rect x='{x + offset:.1f}' y='{bottom - h:.1f}' width='{bar:.1f}' height='{h:.1f}' "
                f"fill='{colour}'><title>{_e(labels[i] if i < len(labels) else f'bin {i + 1}')}: "
                f"{value:.1%}</title></rect>"
            )
        if labels and i < len(labels):
            shapes.append(
                f"<text x='{x + bar:.1f}' y='{bottom + 12}' font-size='9' text-anchor='middle'>"
                f"{_e(labels[i][:10])}</text>"
            )
    if low or high:
        shapes.append(f"<text x='10' y='{bottom + 12}' font-size='9'>{_e(low)}</text>")
        shapes.append(
            f"<text x='{width - 10}' y='{bottom + 12}' font-size='9' text-anchor='end'>{_e(high)}</text>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'><line x1='10' y1='{bottom}' x2='{width - 10}' y2='{bottom}' "
        f"stroke='#99a'/>{''.join(shapes)}</svg>"
    )


def _performance(performance: dict[str, Any] | None) -> str:
    if not performance:
        return "<h2>Performance</h2><p class='muted'>No labels in the current data: performance not measured.</p>"
    current, baseline = performance.get("current"), performance.get("baseline")
    detector = performance.get("detector") or {}
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td>{v:.4f}</td></tr>" for k, v in performance.get("metrics", {}).items()
    )
    notes = "".join(f"<li>{_e(m)}</li>" for m in performance.get("messages", []))
    checks = "".join(
        f"<tr><td>{_e(c.get('detail'))}</td><td>{_badge(c.get('failed'), 'failed', 'ok', '-')}</td>"
        f"<td>{_fmt(c.get('standard_error'))}</td><td>{c.get('p_value', 1.0):.3g}</td>"
        f"<td>{c.get('alpha', 0.0):.3g}</td></tr>"
        for c in performance.get("checks", [])
    )
    if checks:
        checks = ("<table><tr><th>check</th><th>verdict</th><th>std. error (bootstrap)</th><th>p</th>"
                  f"<th>α</th></tr>{checks}</table>")
    return (
        f"<h2>Performance {_badge(performance.get('degraded'), 'degraded', 'ok', 'no verdict')}</h2>"
        f"<p>{_e(performance['metric'])}: current {_fmt(current)} vs baseline {_fmt(baseline)} "
        f"(tolerance {performance.get('tolerance')}) on {performance.get('rows')} labelled rows.</p>"
        f"<p>Page-Hinkley on per-row errors: {'alarm at row ' + str(detector.get('at_row')) if detector.get('alarm') else 'no alarm'}"
        f" (error rate {_fmt(detector.get('error'))}, reference {_fmt(detector.get('reference_error'))}).</p>"
        f"{checks}<table>{rows}</table><ul class='msg'>{notes}</ul>"
    )


def _fairness(fairness: dict[str, Any] | None) -> str:
    if not fairness or not fairness.get("columns"):
        notes = "" if not fairness else "; ".join(fairness.get("messages", []))
        return f"<h2>Fairness</h2><p class='muted'>Not measured. {_e(notes)}</p>"
    rows = []
    for column, values in fairness["columns"].items():
        rates = ", ".join(f"{g}: {r:.1%}" for g, r in values.get("selection_rate", {}).items())
        rows.append(
            f"<tr><td>{_e(column)}</td><td>{_e(rates)}</td>"
            f"<td>{_fmt(values.get('demographic_parity_difference'))}</td>"
            f"<td>{_fmt(values.get('demographic_parity_ratio'))}</td>"
            f"<td>{_fmt(values.get('equalized_odds_difference'))}</td></tr>"
        )
    violations = "".join(f"<li>{_e(v)}</li>" for v in fairness.get("violations", []))
    return (
        f"<h2>Fairness {_badge(fairness.get('violated'), 'violated', 'ok', 'no verdict')}</h2>"
        "<table><tr><th>attribute</th><th>selection rate</th><th>DP difference</th>"
        "<th>DP ratio</th><th>EO difference</th></tr>" + "".join(rows) + "</table>"
        f"<ul class='msg'>{violations}</ul>"
    )


def _triggers(triggers: list[dict[str, Any]]) -> str:
    if not triggers:
        return ""
    items = "".join(f"<li>{_e(t.get('action'))}: {_e(t.get('detail', ''))}</li>" for t in triggers)
    return f"<h2>Triggers</h2><ul class='msg'>{items}</ul>"


def _label(item: dict[str, Any]) -> str:
    name = str(item["column"])
    return f"{name} (target)" if item.get("role") == "target" else LABELS.get(name, name)


def _badge(value: bool | None, yes: str, no: str, unknown: str) -> str:
    if value is None:
        return f"<span class='badge none'>{unknown}</span>"
    return f"<span class='badge {'drift' if value else 'ok'}'>{yes if value else no}</span>"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}"
    return _e(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
