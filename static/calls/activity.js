/* cipdash charts: the Activity page and the wallboard's sparkline, drawn with the vendored
 * uPlot from the data the server put beside each chart (a JSON script block, never run).
 * Colours come from CSS custom properties, so light, dark and the wallboard all follow the
 * stylesheet; the same numbers are in each chart's "Show data" table. Times are shown in
 * the viewer's time zone (the page's data-time-zone), as the tables show them.
 */
(function () {
  "use strict";

  var charts = [];
  var WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

  // Labelled bins sit at 0, 1, 2…: half a bin of room at each end keeps the first and last
  // bars, and their labels, whole inside the plot.
  function halfBinMargins(u, min, max) {
    return [min - 0.5, max + 0.5];
  }

  function cssVar(el, name, fallback) {
    var value = window.getComputedStyle(el).getPropertyValue(name).trim();
    return value || fallback;
  }

  function zoneOf(el) {
    var holder = el.closest("[data-time-zone]");
    return holder ? holder.getAttribute("data-time-zone") : null;
  }

  function shadeSpans(spans, colour) {
    return function (u) {
      if (!spans || !spans.length) return;
      var ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = colour;
      spans.forEach(function (span) {
        var left = Math.max(u.bbox.left, u.valToPos(span[0], "x", true));
        var right = Math.min(u.bbox.left + u.bbox.width, u.valToPos(span[1], "x", true));
        if (right > left) ctx.fillRect(left, u.bbox.top, Math.max(2, right - left), u.bbox.height);
      });
      ctx.restore();
    };
  }

  function options(el, data, width) {
    var text = cssVar(el, "--chart-text", "#5a6575");
    var grid = cssVar(el, "--chart-grid", "rgba(128,128,128,0.2)");
    var colours = [cssVar(el, "--chart-1", "#1f5fbf"), cssVar(el, "--chart-2", "#9aa6b6")];
    var spark = data.kind === "spark";
    var bars = data.kind === "bars";
    var zone = zoneOf(el);
    var axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var xAxis = Object.assign({}, axis);
    var labelled = Boolean(data.labels);
    if (labelled) {
      // One tick per bin (or every few on a narrow chart), never between bins.
      xAxis.incrs = WHOLE_STEPS;
      xAxis.values = function (u, values) {
        return values.map(function (v) { return data.labels[v] || ""; });
      };
    }
    // Counts are whole: no tick at 0.5 calls.
    var yAxis = Object.assign({}, axis, { size: 44 }, data.percent ? {} : { incrs: WHOLE_STEPS });
    var series = [{}];
    data.series.forEach(function (s, i) {
      var colour = colours[Math.min(i, colours.length - 1)];
      var entry = { label: s.label, stroke: colour, width: spark ? 4 : (s.faint ? 1.5 : 2), spanGaps: false };
      if (s.faint) entry.dash = [6, 4];
      if (bars) {
        var paired = data.series.length > 1;
        // Two series sit side by side on each tick; one sits centred on it.
        entry.paths = window.uPlot.paths.bars({ size: [paired ? 0.4 : 0.7, 60], align: paired ? (i ? 1 : -1) : 0 });
        entry.fill = colour;
        entry.width = 0;
        entry.points = { show: false };
        if (s.faint) entry.fill = cssVar(el, "--chart-2-fill", colour);
      }
      series.push(entry);
    });
    var opts = {
      width: width,
      height: spark ? 120 : (el.clientHeight || 220),
      legend: { show: false },
      cursor: { show: !spark, points: { show: false } },
      series: series,
      scales: { x: labelled ? { time: false, range: halfBinMargins } : { time: true }, y: { range: function (u, min, max) { return [0, data.percent ? 100 : Math.max(1, max)]; } } },
      axes: spark ? [{ show: false }, { show: false }] : [xAxis, yAxis],
      hooks: { drawClear: [shadeSpans(data.spans, cssVar(el, "--chart-span", "rgba(180,35,24,0.15)"))] },
      padding: spark ? [8, 4, 8, 4] : [12, 12, 0, 0],
    };
    if (zone && window.uPlot.tzDate) {
      opts.tzDate = function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), zone); };
    }
    return opts;
  }

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source || !window.uPlot) return;
    var data = JSON.parse(source.textContent);
    var columns = [data.x].concat(data.series.map(function (s) { return s.values; }));
    var width = Math.max(200, el.clientWidth);
    el.textContent = "";
    var plot = new window.uPlot(options(el, data, width), columns, el);
    charts.push({ el: el, plot: plot });
  }

  function drawAll() {
    charts.forEach(function (chart) { chart.plot.destroy(); });
    charts = [];
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  function resize() {
    charts.forEach(function (chart) {
      var width = Math.max(200, chart.el.clientWidth);
      if (width !== chart.plot.width) chart.plot.setSize({ width: width, height: chart.plot.height });
    });
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
  window.addEventListener("resize", resize);
  var scheme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme && scheme.addEventListener) scheme.addEventListener("change", drawAll);
})();
