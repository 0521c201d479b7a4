/* conveyor's line chart: a few lines of SVG, no dependency. Apache-2.0, part of conveyor.
 *
 * ConveyorChart.line(container, series, options)
 *   series:  [{name: "tenure_months", points: [[Date | number, value], ...]}, ...]
 *   options: {yLabel: "score", threshold: 0.1}
 */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
  const W = 720, H = 260, M = {left: 56, right: 48, top: 24, bottom: 36};

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function ticks(lo, hi, count) {
    if (hi === lo) return [lo];
    const step = (hi - lo) / (count - 1);
    return Array.from({length: count}, (_, i) => lo + i * step);
  }

  function fmt(v) {
    const a = Math.abs(v);
    return a !== 0 && (a < 0.01 || a >= 10000) ? v.toExponential(1) : String(Math.round(v * 1000) / 1000);
  }

  function line(container, series, options) {
    options = options || {};
    container.textContent = "";
    const data = series.map(s => ({name: s.name, points: s.points.map(([x, y]) => [+x, +y]).filter(p => isFinite(p[1]))}))
      .filter(s => s.points.length);
    if (!data.length) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = options.empty || "nothing recorded yet";
      container.appendChild(p);
      return null;
    }
    const xs = data.flatMap(s => s.points.map(p => p[0]));
    const ys = data.flatMap(s => s.points.map(p => p[1]));
    if (options.threshold !== undefined) ys.push(options.threshold);
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y1 = y0 + 1; }
    const sx = x => M.left + (x - x0) / (x1 - x0) * (W - M.left - M.right);
    const sy = y => H - M.bottom - (y - y0) / (y1 - y0) * (H - M.top - M.bottom);
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", class: "line-chart",
                           "aria-label": options.label || "chart"}, container);
    for (const t of ticks(y0, y1, 5)) {
      el("line", {x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), class: "grid"}, svg);
      el("text", {x: M.left - 6, y: sy(t) + 4, "text-anchor": "end", class: "tick"}, svg).textContent = fmt(t);
    }
    for (const t of ticks(x0, x1, Math.min(5, new Set(xs).size))) {
      const stamp = new Date(t).toISOString().replace("T", " ");
      const label = x1 - x0 < 3600e3 ? stamp.slice(11, 19) : stamp.slice(5, 16);  // within an hour: seconds
      el("text", {x: sx(t), y: H - M.bottom + 16, "text-anchor": "middle", class: "tick"}, svg).textContent = label;
    }
    if (options.threshold !== undefined) {
      el("line", {x1: M.left, x2: W - M.right, y1: sy(options.threshold), y2: sy(options.threshold),
                  class: "threshold"}, svg);
    }
    if (options.yLabel) {
      el("text", {x: 4, y: 12, class: "tick"}, svg).textContent = options.yLabel;
    }
    const legend = document.createElement("ul");
    legend.className = "legend";
    data.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = s.points.slice().sort((a, b) => a[0] - b[0]);
      el("polyline", {points: pts.map(p => `${sx(p[0])},${sy(p[1])}`).join(" "), fill: "none",
                      stroke: color, "stroke-width": 2}, svg);
      for (const p of pts) {
        const dot = el("circle", {cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: color}, svg);
        el("title", {}, dot).textContent = `${s.name}: ${fmt(p[1])} at ${new Date(p[0]).toISOString()}`;
      }
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch swatch-" + (i % COLORS.length);
      item.append(swatch, document.createTextNode(s.name));
      legend.appendChild(item);
    });
    container.appendChild(legend);
    return svg;
  }

  window.ConveyorChart = {line: line, colors: COLORS};
})();
