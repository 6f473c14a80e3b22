// obs preview: draws the generated Grafana dashboards from Prometheus, through the obs
// server that serves this file. Each panel ends in a state the tests read from the DOM:
// data-state = drawn | empty | nan | error | unsupported, with data-series and data-points.
'use strict';

const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#705da0', '#37872d', '#fade2a'];
const COLORS = { green: '#73bf69', red: '#f2495c', orange: '#ff9830', yellow: '#fade2a', blue: '#5794f2', purple: '#b877d9', 'dark-red': '#c4162a', 'dark-green': '#37872d', 'dark-yellow': '#e0b400', 'dark-orange': '#fa6400', text: '#ccccdc' };
const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
const RANGES = ['5m', '15m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];
const REFRESHES = ['off', '5s', '10s', '30s', '1m', '5m'];
const SVG = 'http://www.w3.org/2000/svg';

const state = { config: null, dashboard: null, range: '1h', refresh: 'off', vars: {}, timer: null, generation: 0, drawing: false };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

/** Seconds in a duration such as `5m` or `1h30m`; `fallback` when it is not one. */
function seconds(text, fallback) {
  const parts = /^(\d+(?:\.\d+)?[smhdwy])+$/.test(text || '') ? text.match(/\d+(?:\.\d+)?[smhdwy]/g) : null;
  if (!parts) return fallback;
  return parts.reduce((sum, part) => sum + parseFloat(part) * UNITS[part.slice(-1)], 0);
}

/** The Prometheus API through the obs server; throws with Prometheus's own reason. */
async function api(path, params) {
  const query = new URLSearchParams(params).toString();
  let response;
  try {
    response = await fetch(`api/prometheus/${path}?${query}`);
  } catch (error) {
    throw new Error(`the obs preview server did not answer: ${error.message}`);
  }
  let body = null;
  try { body = await response.json(); } catch (_) { /* handled below */ }
  if (!body) throw new Error(`HTTP ${response.status} with no JSON body`);
  if (body.status !== 'success') throw new Error(`${body.errorType || 'error'}: ${body.error || 'no reason given'}`);
  return body.data;
}

// ---- values and units ---------------------------------------------------------------

function trim(number) {
  if (!isFinite(number)) return String(number);
  const abs = Math.abs(number);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return number.toFixed(digits).replace(/\.0+$|(\.\d*?)0+$/, '$1');
}

function scaled(value, base, suffixes) {
  let i = 0;
  let v = value;
  while (Math.abs(v) >= base && i < suffixes.length - 1) { v /= base; i++; }
  return `${trim(v)}${suffixes[i]}`;
}

/** A value as Grafana would show it in `unit`. */
function format(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'NaN';
  switch (unit) {
    case 's': {
      const abs = Math.abs(value);
      if (abs === 0) return '0 s';
      if (abs < 1e-3) return `${trim(value * 1e6)} µs`;
      if (abs < 1) return `${trim(value * 1e3)} ms`;
      if (abs < 60) return `${trim(value)} s`;
      if (abs < 3600) return `${trim(value / 60)} min`;
      return `${trim(value / 3600)} h`;
    }
    case 'ms': return format(value / 1000, 's');
    case 'bytes': return scaled(value, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB']);
    case 'decbytes': return scaled(value, 1000, [' B', ' kB', ' MB', ' GB', ' TB']);
    case 'percent': return `${trim(value)}%`;
    case 'percentunit': return `${trim(value * 100)}%`;
    case 'reqps': return `${scaled(value, 1000, ['', 'k', 'M', 'G'])} req/s`;
    case 'ops': return `${scaled(value, 1000, ['', 'k', 'M', 'G'])} ops/s`;
    case 'none': return trim(value);
    default: return scaled(value, 1000, ['', ' K', ' Mil', ' Bil', ' Tri']);
  }
}

function color(name) {
  return COLORS[name] || name || COLORS.green;
}

/** The threshold colour a value falls in; `undefined` without thresholds. */
function thresholdColor(panel, value) {
  const steps = (((panel.fieldConfig || {}).defaults || {}).thresholds || {}).steps || [];
  let found;
  for (const step of steps) {
    if (step.value === null || step.value === undefined || value >= step.value) found = step.color;
  }
  return found === undefined ? undefined : color(found);
}

function unitOf(panel) {
  return ((panel.fieldConfig || {}).defaults || {}).unit;
}

// ---- variables and queries ----------------------------------------------------------

function context() {
  const range = seconds(state.range, 3600);
  const end = Date.now() / 1000;
  const start = end - range;
  const step = Math.max(1, Math.ceil(range / 240));
  const scrape = (state.config && state.config.scrape_interval_seconds) || 15;
  const rate = Math.max(step + scrape, 4 * scrape);
  return { start, end, step, rate, range };
}

/** An expression with Grafana's variables replaced. */
function substitute(expr, ctx) {
  let out = expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, `${Math.round(ctx.rate)}s`)
    .replace(/\$__interval|\$\{__interval\}/g, `${ctx.step}s`)
    .replace(/\$__range|\$\{__range\}/g, `${Math.round(ctx.range)}s`);
  for (const [name, value] of Object.entries(state.vars)) {
    const text = value;
    out = out.split(`\${${name}}`).join(text).split(`[[${name}]]`).join(text);
    out = out.replace(new RegExp(`\\$${name}(?![A-Za-z0-9_])`, 'g'), text);
  }
  return out;
}

function legend(format, metric) {
  if (format && format !== '__auto') {
    return format.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name) => metric[name] || '');
  }
  const labels = Object.entries(metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}="${v}"`);
  return labels.length ? `${metric.__name__ || ''}{${labels.join(', ')}}` : (metric.__name__ || 'value');
}

/**
 * A native histogram series as classic buckets are shaped: one cumulative series per upper
 * bound (`le`), so the heatmap draws both alike. Each sample's buckets are
 * [boundary rule, lower, upper, count]; a bound a sample lacks is absent at that time.
 */
function nativeAsBuckets(s) {
  const byBound = new Map();
  for (const [t, h] of s.histograms) {
    const buckets = (h.buckets || []).map(b => [parseFloat(b[2]), parseFloat(b[3])]).sort((a, b) => a[0] - b[0]);
    let running = 0;
    for (const [upper, count] of buckets) {
      running += count;
      if (!byBound.has(upper)) byBound.set(upper, []);
      byBound.get(upper).push([t, running]);
    }
  }
  return [...byBound.entries()].map(([upper, points]) => {
    const le = String(upper);
    return { name: le, metric: { ...(s.metric || {}), le }, points };
  });
}

/** Each target's series over the range: [{name, points: [[t, v]]}]; errors per query. */
async function rangeSeries(panel, ctx) {
  const series = [];
  const errors = [];
  for (const target of (panel.targets || []).filter(t => t.expr && !t.hide)) {
    const query = substitute(target.expr, ctx);
    try {
      const data = await api('query_range', { query, start: ctx.start, end: ctx.end, step: ctx.step });
      for (const s of data.result || []) {
        if (s.histograms) {
          series.push(...nativeAsBuckets(s));
          continue;
        }
        series.push({ name: legend(target.legendFormat, s.metric || {}), metric: s.metric || {}, points: (s.values || []).map(([t, v]) => [t, parseFloat(v)]) });
      }
    } catch (error) {
      errors.push(`${target.refId || 'query'} \`${query}\`: ${error.message}`);
    }
  }
  return { series, errors };
}

/** Each target's value now (instant queries): [{name, value}]. */
async function instantValues(panel, ctx) {
  const values = [];
  const errors = [];
  for (const target of (panel.targets || []).filter(t => t.expr && !t.hide)) {
    const query = substitute(target.expr, ctx);
    try {
      const data = await api('query', { query, time: ctx.end });
      if (data.resultType === 'scalar') {
        values.push({ name: target.legendFormat || 'value', metric: {}, value: parseFloat(data.result[1]) });
      } else {
        for (const s of data.result || []) {
          values.push({ name: legend(target.legendFormat, s.metric || {}), metric: s.metric || {}, value: parseFloat(s.value[1]) });
        }
      }
    } catch (error) {
      errors.push(`${target.refId || 'query'} \`${query}\`: ${error.message}`);
    }
  }
  return { values, errors };
}

// ---- drawing --------------------------------------------------------------------------

function settle(node, panelState, message, counts) {
  node.dataset.state = panelState;
  node.dataset.series = String((counts && counts.series) || 0);
  node.dataset.points = String((counts && counts.points) || 0);
  if (message) node.querySelector('.body').append(el('div', { class: 'message' }, message));
}

/** The state a panel ends in from what its queries gave. */
function outcome(node, errors, series, finite) {
  if (errors.length) { settle(node, 'error', errors.join('\n'), { series, points: finite }); return false; }
  if (!series) { settle(node, 'empty', 'No data', {}); return false; }
  if (!finite) { settle(node, 'nan', 'NaN only: no traffic in the window', { series }); return false; }
  return true;
}

function drawTimeseries(node, panel, series, ctx) {
  const body = node.querySelector('.body');
  const unit = unitOf(panel);
  const width = Math.max(120, body.clientWidth || 400);
  const height = Math.max(60, (body.clientHeight || 200) - 24);
  const margin = { left: 56, right: 8, top: 6, bottom: 18 };
  const finite = series.flatMap(s => s.points.filter(([, v]) => isFinite(v)));
  const times = finite.map(([t]) => t);
  const values = finite.map(([, v]) => v);
  const thresholds = ((((panel.fieldConfig || {}).defaults || {}).thresholds || {}).steps || []).filter(s => typeof s.value === 'number');
  let lo = Math.min(0, ...values);
  let hi = Math.max(...values, ...thresholds.map(s => s.value));
  if (hi === lo) hi = lo + 1;
  // The dashboard's whole range, as Grafana draws it: recent data sits at the right.
  const t0 = Math.min(ctx.start, ...times);
  const t1 = Math.max(ctx.end, ...times, t0 + 1);
  const x = t => margin.left + (t - t0) / (t1 - t0) * (width - margin.left - margin.right);
  const y = v => height - margin.bottom - (v - lo) / (hi - lo) * (height - margin.top - margin.bottom);
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': panel.title || 'chart' });
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4;
    svg.append(svgEl('line', { x1: margin.left, x2: width - margin.right, y1: y(v), y2: y(v), stroke: '#2c3235' }));
    const label = svgEl('text', { x: margin.left - 4, y: y(v) + 3, 'text-anchor': 'end' });
    label.textContent = format(v, unit);
    svg.append(label);
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (t1 - t0) * i / 4;
    const label = svgEl('text', { x: x(t), y: height - 4, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' });
    label.textContent = new Date(t * 1000).toISOString().slice(ctx.range > 2 * 86400 ? 5 : 11, 16).replace('T', ' ');
    svg.append(label);
  }
  for (const step of thresholds) {
    svg.append(svgEl('line', { x1: margin.left, x2: width - margin.right, y1: y(step.value), y2: y(step.value), stroke: color(step.color), 'stroke-dasharray': '4 3', class: 'threshold' }));
  }
  const legendNode = el('div', { class: 'legend' });
  series.forEach((s, i) => {
    const stroke = PALETTE[i % PALETTE.length];
    let d = '';
    let pen = false;
    for (const [t, v] of s.points) {
      if (!isFinite(v)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    if (s.points.filter(([, v]) => isFinite(v)).length === 1) {
      const [t, v] = s.points.find(([, v]) => isFinite(v));
      svg.append(svgEl('circle', { cx: x(t), cy: y(v), r: 2.5, fill: stroke, class: 'series' }));
    }
    svg.append(svgEl('path', { d, fill: 'none', stroke, 'stroke-width': 1.5, class: 'series' }));
    const item = el('span', { style: `--swatch: ${stroke}` }, s.name);
    legendNode.append(item);
  });
  body.append(svg, legendNode);
}

function drawHeatmap(node, panel, series, ctx) {
  const body = node.querySelector('.body');
  const width = Math.max(120, body.clientWidth || 400);
  const height = Math.max(60, body.clientHeight || 200);
  const bound = s => (s.metric.le === '+Inf' ? Infinity : parseFloat(s.metric.le));
  // Prometheus buckets are cumulative: each row shows its own bucket, the one below taken off.
  const sorted = [...series].sort((a, b) => bound(a) - bound(b));
  const rows = sorted.map((s, i) => {
    if (i === 0) return s;
    const below = new Map(sorted[i - 1].points);
    return { ...s, points: s.points.map(([t, v]) => [t, v - (below.get(t) || 0)]) };
  });
  const max = Math.max(...rows.flatMap(s => s.points.map(([, v]) => v).filter(isFinite)), 1e-12);
  // Cells at their time in the dashboard's range, one step wide.
  const span = Math.max(ctx.end - ctx.start, 1);
  const cellW = Math.max(1, width * ctx.step / span);
  const cellH = height / rows.length;
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': panel.title || 'heatmap' });
  rows.forEach((s, r) => {
    s.points.forEach(([t, v]) => {
      if (!isFinite(v) || v <= 0) return;
      const opacity = Math.max(0.08, v / max);
      svg.append(svgEl('rect', { x: width * (t - ctx.start) / span - cellW, y: height - (r + 1) * cellH, width: cellW + 0.5, height: cellH + 0.5, fill: '#ff780a', 'fill-opacity': opacity.toFixed(3), class: 'series' }));
    });
  });
  body.append(svg, el('div', { class: 'legend' }, `${rows.length} buckets, le ${rows.map(s => s.metric.le).join(' · ')}`));
}

function drawValues(node, panel, values) {
  const body = node.querySelector('.body');
  const unit = unitOf(panel);
  const box = el('div', { class: 'values' });
  const defaults = (panel.fieldConfig || {}).defaults || {};
  for (const v of values.slice(0, 24)) {
    const shade = thresholdColor(panel, v.value) || COLORS.green;
    const item = el('div', { class: 'value' });
    if (panel.type === 'gauge') {
      const min = typeof defaults.min === 'number' ? defaults.min : 0;
      const max = typeof defaults.max === 'number' ? defaults.max : (unit === 'percentunit' ? 1 : unit === 'percent' ? 100 : Math.max(v.value, 1) * 1.25);
      const share = Math.min(1, Math.max(0, (v.value - min) / ((max - min) || 1)));
      const svg = svgEl('svg', { viewBox: '0 0 100 56', style: 'height: 70px; width: 120px' });
      const arc = a => `${50 - 40 * Math.cos(Math.PI * a)},${50 - 40 * Math.sin(Math.PI * a)}`;
      svg.append(svgEl('path', { d: `M${arc(0)} A40,40 0 0 1 ${arc(1)}`, fill: 'none', stroke: '#2c3235', 'stroke-width': 8 }));
      if (share > 0) svg.append(svgEl('path', { d: `M${arc(0)} A40,40 0 0 1 ${arc(share)}`, fill: 'none', stroke: shade, 'stroke-width': 8, class: 'series' }));
      item.append(svg);
    }
    if (panel.type === 'bargauge') {
      const max = Math.max(...values.map(x => x.value).filter(isFinite), 1e-12);
      item.append(el('div', { style: `height: 8px; width: ${Math.max(4, 120 * v.value / max)}px; background: ${shade}`, class: 'series' }));
    }
    const number = el('b', { style: `color: ${shade}` }, format(v.value, unit));
    item.append(number);
    if (values.length > 1 || (v.name && v.name !== 'value')) item.append(el('small', {}, v.name));
    box.append(item);
  }
  body.append(box);
}

function drawTable(node, values) {
  const labels = [...new Set(values.flatMap(v => Object.keys(v.metric)))].filter(k => k !== '__name__');
  const table = el('table', {}, el('tr', {}, ...labels.map(l => el('th', {}, l)), el('th', {}, 'value')));
  for (const v of values.slice(0, 200)) {
    table.append(el('tr', {}, ...labels.map(l => el('td', {}, v.metric[l] || '')), el('td', {}, trim(v.value))));
  }
  node.querySelector('.body').append(table);
}

async function drawPanel(node, panel, ctx) {
  const type = panel.type;
  if (type === 'logs') {
    settle(node, 'unsupported', 'Loki log panel: the preview reads Prometheus only; open it in Grafana.', {});
    return;
  }
  if (type === 'text') {
    node.querySelector('.body').append(el('div', { class: 'message' }, ((panel.options || {}).content) || ''));
    settle(node, 'static', '', {});
    return;
  }
  if (!(panel.targets || []).some(t => t.expr)) {
    settle(node, 'unsupported', `a ${type} panel without a Prometheus query`, {});
    return;
  }
  const instant = ['stat', 'gauge', 'bargauge', 'table'].includes(type);
  if (instant) {
    const { values, errors } = await instantValues(panel, ctx);
    const finite = values.filter(v => isFinite(v.value)).length;
    if (!outcome(node, errors, values.length, finite)) return;
    if (type === 'table') drawTable(node, values); else drawValues(node, panel, values);
    settle(node, 'drawn', '', { series: values.length, points: finite });
    return;
  }
  const { series, errors } = await rangeSeries(panel, ctx);
  const finite = series.reduce((n, s) => n + s.points.filter(([, v]) => isFinite(v)).length, 0);
  if (!outcome(node, errors, series.length, finite)) return;
  if (type === 'heatmap') drawHeatmap(node, panel, series, ctx); else drawTimeseries(node, panel, series, ctx);
  settle(node, 'drawn', '', { series: series.length, points: finite });
}

/** Panels in drawing order: a collapsed row's own panels follow it. */
function flatten(panels) {
  const out = [];
  for (const panel of panels || []) {
    out.push(panel);
    if (panel.type === 'row' && panel.collapsed) out.push(...(panel.panels || []));
  }
  return out;
}

/** A refresh tick while a draw is still waiting for Prometheus is skipped, so a slow
 * Prometheus ends in each panel's error instead of an endless redraw. */
function tick() {
  if (!state.drawing) drawDashboard();
}

async function drawDashboard() {
  const generation = ++state.generation;
  state.drawing = true;
  const dashboard = state.dashboard;
  const main = document.getElementById('dashboard');
  const ctx = context();
  const grid = el('div', { class: 'grid' });
  main.replaceChildren(el('h1', {}, dashboard.title || dashboard.uid), grid);
  document.body.dataset.state = 'drawing';
  const jobs = [];
  for (const panel of flatten(dashboard.panels)) {
    const pos = panel.gridPos || { x: 0, y: 0, w: 12, h: 8 };
    const node = el('div', {
      class: `panel ${panel.type === 'row' ? 'row' : ''}`,
      'data-type': panel.type || 'unknown',
      'data-title': panel.title || '',
      style: `grid-column: ${pos.x + 1} / span ${pos.w}; grid-row: ${pos.y + 1} / span ${pos.h};`,
    }, el('h2', {}, panel.title || ''), el('div', { class: 'body' }));
    grid.append(node);
    if (panel.type === 'row') { node.dataset.state = 'row'; continue; }
    node.dataset.state = 'loading';
    jobs.push(drawPanel(node, panel, ctx).catch(error => settle(node, 'error', `drawing failed: ${error.message}`, {})));
  }
  await Promise.all(jobs);
  if (generation !== state.generation) return;
  state.drawing = false;
  const panels = [...grid.querySelectorAll('.panel:not(.row)')];
  const count = s => panels.filter(p => p.dataset.state === s).length;
  document.body.dataset.drawn = String(count('drawn'));
  document.body.dataset.failed = String(count('error'));
  document.body.dataset.panels = String(panels.length);
  document.body.dataset.state = 'done';
}

// ---- toolbar, variables, navigation ----------------------------------------------------

function select(label, options, current, onChange, disabled) {
  const node = el('select', disabled ? { disabled: 'disabled' } : {});
  for (const [value, text] of options) {
    const option = el('option', { value }, text);
    if (value === current) option.selected = true;
    node.append(option);
  }
  node.addEventListener('change', () => onChange(node.value));
  return el('label', {}, label, node);
}

async function variableOptions(variable) {
  const query = typeof variable.query === 'string' ? variable.query : ((variable.query || {}).query || '');
  const match = /^label_values\(\s*(?:([^,]+),\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)$/.exec(query.trim());
  if (variable.type === 'custom') return query.split(',').map(v => v.trim()).filter(Boolean);
  if (!match) throw new Error(`the preview reads only label_values(…) variables, not \`${query}\``);
  const params = match[1] ? { 'match[]': match[1].trim() } : {};
  return api(`label/${match[2]}/values`, params);
}

async function toolbar() {
  const bar = document.getElementById('toolbar');
  const dashboard = state.dashboard;
  const redraw = () => { schedule(); drawDashboard(); };
  const ranges = [...new Set([state.range, ...RANGES])].map(r => [r, `Last ${r}`]);
  const refreshes = [...new Set([state.refresh, ...REFRESHES])].map(r => [r, r === 'off' ? 'Refresh off' : `Every ${r}`]);
  const items = [
    select('Range', ranges, state.range, v => { state.range = v; redraw(); }),
    select('Refresh', refreshes, state.refresh, v => { state.refresh = v; schedule(); }),
  ];
  for (const variable of ((dashboard.templating || {}).list || [])) {
    const name = variable.name;
    const label = variable.label || name;
    if (variable.type === 'datasource') {
      const text = variable.query === 'loki' ? 'Loki: not available in the preview' : `Prometheus: ${state.config.prometheus}`;
      items.push(select(label, [['', text]], '', () => {}, true));
    } else if (variable.type === 'textbox' || variable.type === 'constant') {
      state.vars[name] = (variable.current || {}).value || variable.query || '';
      const input = el('input', { value: state.vars[name] });
      input.addEventListener('change', () => { state.vars[name] = input.value; redraw(); });
      items.push(el('label', {}, label, input));
    } else {
      let options = [];
      try { options = await variableOptions(variable); } catch (error) { options = []; items.push(el('span', { class: 'note' }, `${label}: ${error.message}`)); }
      // `All` is the variable's allValue, else every option as a regex alternation, as Grafana does.
      const escape = v => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const all = variable.allValue || `(${options.map(escape).join('|')})`;
      const choices = (variable.includeAll ? [[all, 'All']] : []).concat(options.map(o => [o, o]));
      const current = ((variable.current || {}).value);
      state.vars[name] = choices.some(([v]) => v === current) ? current : (choices[0] || [''])[0];
      items.push(select(label, choices, state.vars[name], v => { state.vars[name] = v; redraw(); }));
    }
  }
  bar.replaceChildren(...items);
}

function schedule() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  const every = seconds(state.refresh, 0);
  if (every > 0) state.timer = setInterval(tick, every * 1000);
}

async function open(uid) {
  let dashboard;
  try {
    const response = await fetch(`api/dashboards/${encodeURIComponent(uid)}`);
    if (!response.ok) throw new Error(await response.text());
    dashboard = await response.json();
  } catch (error) {
    document.getElementById('dashboard').replaceChildren(el('p', { class: 'note' }, `Cannot load dashboard ${uid}: ${error.message}`));
    document.body.dataset.state = 'done';
    return;
  }
  state.dashboard = dashboard;
  state.vars = {};
  const asked = new URLSearchParams(location.hash.split('&').slice(1).join('&'));
  state.range = asked.get('range') || ((dashboard.time || {}).from || 'now-1h').replace(/^now-/, '');
  state.refresh = asked.get('refresh') || dashboard.refresh || 'off';
  for (const link of document.querySelectorAll('#dashboards a')) link.classList.toggle('current', link.dataset.uid === uid);
  await toolbar();
  schedule();
  await drawDashboard();
}

async function start() {
  try {
    const response = await fetch('api/dashboards');
    state.config = await response.json();
  } catch (error) {
    document.getElementById('dashboard').replaceChildren(el('p', { class: 'note' }, `The obs preview server did not answer: ${error.message}`));
    document.body.dataset.state = 'done';
    return;
  }
  document.getElementById('source').textContent = `data: ${state.config.prometheus}`;
  const nav = document.getElementById('dashboards');
  for (const d of state.config.dashboards) nav.append(el('a', { href: `#${d.uid}`, 'data-uid': d.uid }, d.title));
  if (!state.config.dashboards.length) {
    document.getElementById('dashboard').replaceChildren(el('p', { class: 'note' }, 'The spec has no dashboard.'));
    document.body.dataset.state = 'done';
    return;
  }
  // `#uid`, optionally `#uid&range=15m&refresh=off`.
  const pick = () => decodeURIComponent(location.hash.slice(1).split('&')[0]) || state.config.dashboards[0].uid;
  window.addEventListener('hashchange', () => open(pick()));
  await open(pick());
}

start();
