/**
 * The dashboard page `GET /` serves: one HTML document with inline CSS, JS and SVG charts (no CDN,
 * no build step). It subscribes to `GET /stats/events` with EventSource and plots, per snapshot:
 * write rate, bytes/s, tailers and SSE subscribers, their largest lag, mapped memory, blocking
 * grows and flush latency. Numbers sit in elements with stable `data-testid`s and their raw value
 * in `data-value`, for tests and scrapers; each chart's `<svg>` carries `data-points`.
 *
 * The page passes its own query string to the feed: `/?interval=250` asks for a snapshot every
 * 250 ms.
 */

const STYLE = `
:root { color-scheme: light dark; --bg: #f7f7f9; --fg: #1d1f24; --muted: #687082; --card: #fff; --line: #e2e4ea;
  --c0: #2f6fde; --c1: #e0792b; --c2: #2a9d6f; --bad: #c0392b; }
@media (prefers-color-scheme: dark) { :root { --bg: #15171c; --fg: #e6e8ee; --muted: #9097a6; --card: #1e2129; --line: #2d313b; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: var(--muted); font-size: 12px; }
#status { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--line); }
#status.live { background: #2a9d6f33; color: var(--c2); }
#status.down { background: #c0392b33; color: var(--bad); }
main { padding: 16px 20px; display: grid; gap: 16px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.tile .label { color: var(--muted); font-size: 12px; display: block; }
.tile .value { font-size: 20px; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.chart h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
.chart .legend { font-size: 12px; color: var(--muted); display: flex; gap: 12px; flex-wrap: wrap; min-height: 18px; }
.chart .legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 4px; }
.chart svg { width: 100%; height: 120px; display: block; }
.chart svg .grid { stroke: var(--line); stroke-width: 1; }
.chart svg text { fill: var(--muted); font-size: 10px; }
.chart svg polyline { fill: none; stroke-width: 1.8; vector-effect: non-scaling-stroke; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; font-size: 13px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
th { color: var(--muted); font-weight: 500; }
td.num, th.num { text-align: right; }
h3 { font-size: 13px; margin: 4px 0; color: var(--muted); font-weight: 600; }
.empty { color: var(--muted); }
`;

const SCRIPT = `
'use strict';
const HISTORY = 120;
const COLORS = ['var(--c0)', 'var(--c1)', 'var(--c2)'];
const $ = (id) => document.querySelector('[data-testid="' + id + '"]');

function si(n, digits) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + ' G';
  if (a >= 1e6) return (n / 1e6).toFixed(2) + ' M';
  if (a >= 1e4) return (n / 1e3).toFixed(1) + ' k';
  return n.toFixed(digits === undefined ? (Number.isInteger(n) || a >= 100 ? 0 : 1) : digits);
}
function bytes(n) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (Math.abs(n) >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return (u === 0 ? n.toFixed(0) : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + units[u];
}
function ms(n) { return n === null || n === undefined || !isFinite(n) ? '–' : n < 1 ? (n * 1000).toFixed(0) + ' µs' : n.toFixed(2) + ' ms'; }

function setTile(id, value, text) {
  const el = $(id);
  if (!el) return;
  el.dataset.value = String(value);
  el.textContent = text;
}

class Chart {
  constructor(id, title, series, format) {
    this.id = id; this.series = series; this.format = format; this.points = [];
    const box = document.createElement('section');
    box.className = 'chart';
    box.innerHTML = '<h2></h2><div class="legend"></div>' +
      '<svg viewBox="0 0 400 120" preserveAspectRatio="none" data-points="0"></svg>';
    box.querySelector('h2').textContent = title;
    box.querySelector('svg').setAttribute('data-testid', 'chart-' + id);
    document.getElementById('charts').appendChild(box);
    this.svg = box.querySelector('svg');
    this.legend = box.querySelector('.legend');
  }
  push(values) {
    this.points.push(values);
    if (this.points.length > HISTORY) this.points.shift();
    this.render();
  }
  render() {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = this.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    let max = 0;
    for (const p of this.points) for (const v of p) if (v !== null && isFinite(v) && v > max) max = v;
    max = max > 0 ? max * 1.1 : 1;
    for (const f of [0.25, 0.5, 0.75]) {
      const line = document.createElementNS(ns, 'line');
      line.setAttribute('class', 'grid');
      line.setAttribute('x1', '0'); line.setAttribute('x2', '400');
      line.setAttribute('y1', String(120 * f)); line.setAttribute('y2', String(120 * f));
      svg.appendChild(line);
    }
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', '2'); label.setAttribute('y', '10');
    label.textContent = this.format(max);
    svg.appendChild(label);
    const step = 400 / (HISTORY - 1);
    const offset = HISTORY - this.points.length;
    this.series.forEach((name, s) => {
      const pts = [];
      this.points.forEach((p, i) => {
        const v = p[s];
        if (v === null || v === undefined || !isFinite(v)) return;
        pts.push(((offset + i) * step).toFixed(1) + ',' + (118 - (v / max) * 110).toFixed(1));
      });
      const poly = document.createElementNS(ns, 'polyline');
      poly.setAttribute('points', pts.join(' '));
      poly.setAttribute('stroke', COLORS[s % COLORS.length]);
      poly.setAttribute('data-series', name);
      svg.appendChild(poly);
    });
    svg.setAttribute('data-points', String(this.points.length));
    const last = this.points[this.points.length - 1] || [];
    this.legend.innerHTML = '';
    this.series.forEach((name, s) => {
      const span = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = COLORS[s % COLORS.length];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(name + ': ' + this.format(last[s])));
      this.legend.appendChild(span);
    });
  }
}

const charts = {
  writes: new Chart('writes', 'Write rate (per second)', ['AOF writes', 'records'], (v) => si(v)),
  bytes: new Chart('bytes', 'Bytes written (per second)', ['AOF bytes', 'record bytes'], (v) => bytes(v) + '/s'),
  tailers: new Chart('tailers', 'Tailers and SSE subscribers', ['tailers', 'SSE subscribers'], (v) => si(v, 0)),
  lag: new Chart('lag', 'Largest subscriber lag', ['raw (bytes)', 'records'], (v) => si(v, 0)),
  memory: new Chart('memory', 'Mapped memory', ['file-backed', 'anonymous'], (v) => bytes(v)),
  grows: new Chart('grows', 'Blocking grows (per interval)', ['blocking grows'], (v) => si(v, 0)),
  flush: new Chart('flush', 'Flush latency (mean of the latest flushes)', ['flush'], (v) => ms(v)),
};

const state = { updates: 0, last: null, lastFlushMs: null };
window.__aofDashboard = state;

function fillTable(id, rows, columns) {
  const body = document.querySelector('#' + id + ' tbody');
  body.innerHTML = '';
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = columns.length; td.className = 'empty'; td.textContent = 'none';
    tr.appendChild(td); body.appendChild(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement('tr');
    for (const [key, fmt, num] of columns) {
      const td = document.createElement('td');
      if (num) td.className = 'num';
      td.textContent = fmt ? fmt(row[key], row) : String(row[key]);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function update(snap) {
  const st = snap.stats, sv = snap.service, r = snap.rates;
  state.updates++;
  state.last = snap;
  setTile('writes-total', st.writes, si(st.writes));
  setTile('bytes-total', st.bytesWritten, bytes(st.bytesWritten));
  setTile('records-total', sv.records, si(sv.records));
  setTile('write-rate', r ? r.writes + r.records : 0, r ? si(r.writes + r.records) + '/s' : '–');
  setTile('byte-rate', r ? r.bytes + r.recordBytes : 0, r ? bytes(r.bytes + r.recordBytes) + '/s' : '–');
  setTile('tailers', st.tailers, String(st.tailers));
  setTile('subscribers', sv.sseSubscribers, String(sv.sseSubscribers));
  let lagRaw = 0, lagRecords = 0;
  for (const s of snap.subscribers) {
    if (s.kind === 'raw') lagRaw = Math.max(lagRaw, s.lag); else lagRecords = Math.max(lagRecords, s.lag);
  }
  setTile('max-lag', Math.max(lagRaw, lagRecords), lagRaw >= lagRecords ? bytes(lagRaw) : si(lagRecords) + ' rec');
  setTile('mapped-memory', st.activeMappedMemory, bytes(st.activeMappedMemory));
  setTile('blocking-grows', st.blockingGrows.count, si(st.blockingGrows.count));
  const flushMean = st.flushes.count > 0 ? st.flushes.totalNs / st.flushes.count / 1e6 : null;
  setTile('flush-latency', flushMean === null ? '' : flushMean, ms(flushMean));
  setTile('flush-max', st.flushes.maxNs / 1e6, st.flushes.count ? ms(st.flushes.maxNs / 1e6) : '–');
  setTile('flushes', st.flushes.count, si(st.flushes.count));
  setTile('requests', sv.requests, si(sv.requests));
  setTile('uptime', snap.uptimeSeconds, Math.floor(snap.uptimeSeconds) + ' s');
  setTile('updates', state.updates, String(state.updates));
  if (r) {
    charts.writes.push([r.writes, r.records]);
    charts.bytes.push([r.bytes, r.recordBytes]);
    charts.grows.push([r.blockingGrows]);
    // An interval without a flush keeps the last mean (flushes come every second or so).
    if (r.flushMeanMs !== null) state.lastFlushMs = r.flushMeanMs;
    charts.flush.push([state.lastFlushMs]);
  }
  charts.tailers.push([st.tailers, sv.sseSubscribers]);
  charts.lag.push([lagRaw, lagRecords]);
  charts.memory.push([st.activeMappedMemory, st.activeAnonymousMemory]);
  fillTable('streams', snap.streams, [['name'], ['kind'], ['size', (v, row) => row.kind === 'raw' ? bytes(v) : si(v) + ' rec', true],
    ['subscribers', null, true]]);
  fillTable('shipping', snap.shipping || [], [['name'], ['subject'], ['state', (v, row) => row.error ? v + ': ' + row.error : v],
    ['shipped', (v) => si(v), true], ['lastId', null, true], ['lagRecords', (v) => si(v) + ' rec', true], ['lagSeconds', (v) => v.toFixed(1) + ' s', true]]);
  fillTable('subscribers', snap.subscribers, [['id', null, true], ['stream'], ['kind'], ['position', null, true], ['end', null, true],
    ['lag', (v, row) => row.kind === 'raw' ? bytes(v) : si(v) + ' rec', true], ['events', null, true], ['remote']]);
}

function connect() {
  const status = document.getElementById('status');
  const source = new EventSource('stats/events' + location.search);
  source.addEventListener('open', () => { status.textContent = 'live'; status.className = 'live'; });
  source.addEventListener('error', () => { status.textContent = 'reconnecting'; status.className = 'down'; });
  source.addEventListener('stats', (ev) => update(JSON.parse(ev.data)));
}
connect();
`;

const TILES: Array<[string, string]> = [
  ['writes-total', 'AOF writes'],
  ['bytes-total', 'AOF bytes written'],
  ['records-total', 'records appended'],
  ['write-rate', 'writes + records /s'],
  ['byte-rate', 'bytes /s'],
  ['tailers', 'tailers'],
  ['subscribers', 'SSE subscribers'],
  ['max-lag', 'largest lag'],
  ['mapped-memory', 'mapped memory'],
  ['blocking-grows', 'blocking grows'],
  ['flush-latency', 'flush latency (mean)'],
  ['flush-max', 'flush latency (max)'],
  ['flushes', 'flushes'],
  ['requests', 'HTTP requests'],
  ['uptime', 'uptime'],
  ['updates', 'updates received'],
];

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mmap-aof service</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>mmap-aof</h1><span class="meta">live stats from <code>/stats/events</code> · metrics at <a href="metrics">/metrics</a> · streams at <a href="streams">/streams</a></span><span id="status" data-testid="status">connecting</span></header>
<main>
<section class="tiles">
${TILES.map(([id, label]) => `<div class="tile"><span class="label">${label}</span><span class="value" data-testid="${id}" data-value="">–</span></div>`).join('\n')}
</section>
<section class="charts" id="charts"></section>
<section><h3>Streams open</h3><table id="streams"><thead><tr><th>name</th><th>kind</th><th class="num">size</th><th class="num">subscribers</th></tr></thead><tbody></tbody></table></section>
<section><h3>Shipping to NATS JetStream</h3><table id="shipping" data-testid="shipping"><thead><tr><th>stream</th><th>subject</th><th>state</th><th class="num">shipped</th><th class="num">last id</th><th class="num">lag</th><th class="num">behind for</th></tr></thead><tbody></tbody></table></section>
<section><h3>SSE subscribers</h3><table id="subscribers"><thead><tr><th class="num">id</th><th>stream</th><th>kind</th><th class="num">position</th><th class="num">end</th><th class="num">lag</th><th class="num">events</th><th>client</th></tr></thead><tbody></tbody></table></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
