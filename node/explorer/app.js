// quern explorer: a single page that reads the node it is served by over
// JSON-RPC (POST to this origin). No framework, no build step: the DOM is
// built with the h() helper below (text goes in as text, never as HTML) and
// the charts are inline SVG.
'use strict';

const RECENT = 40;        // blocks in the overview's window
const REFRESH_MS = 3000;  // the overview polls the head this often
const ZERO_HASH = /^0x0*$/;

// ---- JSON-RPC ------------------------------------------------------------

let rpcId = 0;

async function post(body) {
  const res = await fetch('/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).trim()}`);
  return res.json();
}

async function rpc(method, ...params) {
  const r = await post({ jsonrpc: '2.0', id: ++rpcId, method, params });
  if (r.error) throw new Error(`${method}: ${r.error.message}`);
  return r.result;
}

// batch runs calls ([method, ...params]) in one request (in pieces of 100,
// the node's batch limit) and returns their results in order; a failed call
// gives an Error in its place.
async function batch(calls) {
  const out = [];
  for (let i = 0; i < calls.length; i += 100) {
    const part = calls.slice(i, i + 100);
    const base = rpcId;
    rpcId += part.length;
    const res = await post(part.map(([method, ...params], j) => ({ jsonrpc: '2.0', id: base + j + 1, method, params })));
    const byId = new Map((Array.isArray(res) ? res : [res]).map((r) => [r.id, r]));
    part.forEach(([method], j) => {
      const r = byId.get(base + j + 1);
      out.push(!r ? new Error(`${method}: no answer`) : r.error ? new Error(`${method}: ${r.error.message}`) : r.result);
    });
  }
  return out;
}

// ---- DOM helpers -----------------------------------------------------------

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return append(el, kids);
}

function s(tag, attrs, ...kids) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  return append(el, kids);
}

const link = (href, ...kids) => h('a', { href }, ...kids);
const badge = (text) => h('span', { class: `badge ${text}` }, text);

function table(headers, rows) {
  return h('table', null,
    h('thead', null, h('tr', null, headers.map((c) => h('th', { class: c.num ? 'num' : null }, c.label || c)))),
    h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: headers.length, class: 'muted' }, 'none'))));
}

function dl(pairs) {
  return h('dl', null, pairs.filter(Boolean).map(([k, v, mono]) => [h('dt', null, k), h('dd', { class: mono ? 'mono' : null }, v)]));
}

// ---- formatting ------------------------------------------------------------

const isZero = (hash) => !hash || ZERO_HASH.test(hash);
const short = (x) => (x && x.length > 18 ? `${x.slice(0, 10)}…${x.slice(-6)}` : x || '');
const blockLink = (n) => link(`#/block/${n}`, `#${n}`);
const addrLink = (a) => link(`#/address/${a}`, h('span', { class: 'mono', title: a }, short(a)));
const jobLink = (id, text) => link(`#/job/${id}`, h('span', { class: 'mono', title: id }, text || short(id)));
const txLink = (hash, text) => link(`#/tx/${hash}`, h('span', { class: 'mono', title: hash }, text || short(hash)));

// si formats n with an SI prefix: si(2.5e9, 'MAC') = "2.50 GMAC".
function si(n, unit) {
  const prefixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < prefixes.length - 1) { n /= 1000; i++; }
  const digits = i === 0 ? 0 : n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${n.toFixed(digits)} ${prefixes[i]}${unit}`;
}

// qrn formats a wei amount (a decimal string) as QRN with up to 6 decimals.
function qrn(wei) {
  if (wei === undefined || wei === null || wei === '') return '—';
  let v;
  try { v = BigInt(wei); } catch { return String(wei); }
  const neg = v < 0n;
  if (neg) v = -v;
  const unit = 10n ** 18n;
  if (v > 0n && v < 10n ** 12n) return `${neg ? '-' : ''}< 0.000001 QRN`;
  const whole = (v / unit).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (v % unit).toString().padStart(18, '0').slice(0, 6).replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''} QRN`;
}

function when(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const workKind = (b) => (isZero(b.seal.jobId) ? 'synthetic' : 'job');

function progress(job) {
  let done = 0, text;
  if (job.kind === 'train') {
    done = job.steps ? job.stepsDone / job.steps : 0;
    text = `${job.stepsDone}/${job.steps} steps (${Math.floor(done * 100)}%)`;
  } else {
    done = job.status === 'done' ? 1 : 0;
    text = job.status === 'done' ? 'product on chain (100%)' : job.status === 'expired' ? 'expired' : 'waiting for a miner (0%)';
  }
  return [s('svg', { class: 'progress', viewBox: '0 0 100 8', preserveAspectRatio: 'none' },
    s('rect', { class: 'track', x: 0, y: 0, width: 100, height: 8, rx: 4 }),
    s('rect', { class: 'fill', x: 0, y: 0, width: Math.round(done * 100), height: 8, rx: 4 })), text];
}

// ---- charts ----------------------------------------------------------------

const CW = 600, CH = 170, PAD = { l: 52, r: 10, t: 12, b: 26 };

function axes(g, max, unitFmt, first, last) {
  const y0 = CH - PAD.b;
  g.append(
    s('line', { class: 'axis', x1: PAD.l, y1: y0, x2: CW - PAD.r, y2: y0 }),
    s('line', { class: 'axis', x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: y0 }),
    s('line', { class: 'axis', x1: PAD.l, y1: PAD.t, x2: CW - PAD.r, y2: PAD.t, 'stroke-dasharray': '3 4' }),
    s('text', { x: PAD.l - 6, y: y0, 'text-anchor': 'end' }, '0'),
    s('text', { x: PAD.l - 6, y: PAD.t + 8, 'text-anchor': 'end' }, unitFmt(max)),
    s('text', { x: PAD.l, y: CH - 8 }, `#${first}`),
    s('text', { x: CW - PAD.r, y: CH - 8, 'text-anchor': 'end' }, `#${last}`));
}

// lineChart: points [{n, v}] as a line over block numbers.
function lineChart(title, points, unitFmt) {
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${CW} ${CH}`, role: 'img', 'aria-label': title });
  if (points.length < 2) return [svg, h('p', { class: 'muted' }, 'not enough blocks yet')];
  const max = Math.max(...points.map((p) => p.v)) * 1.1 || 1;
  const x = (i) => PAD.l + (i * (CW - PAD.l - PAD.r)) / (points.length - 1);
  const y = (v) => CH - PAD.b - (v / max) * (CH - PAD.t - PAD.b);
  axes(svg, max, unitFmt, points[0].n, points[points.length - 1].n);
  svg.append(s('polyline', { class: 'line', points: points.map((p, i) => `${x(i).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') }));
  points.forEach((p, i) => svg.append(s('circle', { class: 'dot', cx: x(i).toFixed(1), cy: y(p.v).toFixed(1), r: 2 },
    s('title', null, `#${p.n}: ${unitFmt(p.v)}`))));
  return svg;
}

// barChart: points [{n, v, kind}] as bars coloured by work kind.
function barChart(title, points, unitFmt) {
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${CW} ${CH}`, role: 'img', 'aria-label': title });
  if (points.length < 1) return [svg, h('p', { class: 'muted' }, 'not enough blocks yet')];
  const max = Math.max(...points.map((p) => p.v)) * 1.1 || 1;
  const step = (CW - PAD.l - PAD.r) / points.length;
  axes(svg, max, unitFmt, points[0].n, points[points.length - 1].n);
  points.forEach((p, i) => {
    const hgt = (p.v / max) * (CH - PAD.t - PAD.b);
    svg.append(s('rect', { class: `bar ${p.kind}`, x: (PAD.l + i * step + 1).toFixed(1), y: (CH - PAD.b - hgt).toFixed(1),
      width: Math.max(1, step - 2).toFixed(1), height: hgt.toFixed(1) }, s('title', null, `#${p.n}: ${unitFmt(p.v)} (${p.kind})`)));
  });
  return svg;
}

// smoothed is the hash-rate estimate at each block over the SMOOTH block
// intervals up to it (single intervals of fast blocks, milliseconds apart,
// swing by orders of magnitude).
const SMOOTH = 5;
function smoothed(rates) {
  return rates.map((r, i) => {
    const w = rates.slice(Math.max(0, i - SMOOTH + 1), i + 1);
    return { n: r.n, v: w.reduce((a, x) => a + x.diff, 0) / w.reduce((a, x) => a + x.dt, 0) / 1e9 };
  });
}

function meter(share) {
  return s('svg', { class: 'meter', viewBox: '0 0 100 14', preserveAspectRatio: 'none' },
    s('rect', { class: 'track', x: 0, y: 0, width: 100, height: 14, rx: 3 }),
    s('rect', { class: 'fill', x: 0, y: 0, width: (share * 100).toFixed(2), height: 14, rx: 3 }));
}

// ---- views -----------------------------------------------------------------

const view = () => document.getElementById('view');
let renderSeq = 0; // a newer render makes an older one's result stale
let shownHead = -1;

function show(seq, ...kids) {
  if (seq !== renderSeq) return;
  const v = view();
  v.replaceChildren();
  append(v, kids);
}

function showError(err) {
  const el = document.getElementById('error');
  if (!err) { el.hidden = true; el.textContent = ''; return; }
  el.hidden = false;
  el.textContent = `Could not read the node: ${err.message || err}`;
}

function networkLine(info) {
  document.getElementById('network').textContent =
    `${info.network} · chain ${info.chainId} · ${info.peers} peer${info.peers === 1 ? '' : 's'}${info.mining ? ' · mining (' + info.backend + ')' : ''}`;
}

async function home(seq) {
  const head = await rpc('quern_blockNumber');
  const from = Math.max(0, head - RECENT); // one more than the window: the first interval's parent
  const nums = [];
  for (let n = head; n >= from; n--) nums.push(n);
  const [blocksRaw, jobs, info] = await Promise.all([
    batch(nums.map((n) => ['quern_getBlockByNumber', n])),
    rpc('quern_listJobs', { limit: 15 }),
    rpc('quern_nodeInfo'),
  ]);
  const all = blocksRaw.filter((b) => b && !(b instanceof Error)); // newest first
  const byNum = new Map(all.map((b) => [b.number, b]));
  const recent = all.filter((b) => b.number > from || from === 0).filter((b) => b.number > 0);
  const chrono = [...recent].reverse();

  // Rates: only intervals whose parent is a mined block (genesis' time is
  // the network's launch, not a block time).
  const rates = [];
  for (const b of chrono) {
    const p = byNum.get(b.number - 1);
    if (!p || p.number === 0) continue;
    const dt = Math.max(1, b.time - p.time) / 1000;
    rates.push({ n: b.number, dt, kind: workKind(b), diff: b.difficulty });
  }
  const span = rates.reduce((a, r) => a + r.dt, 0);
  const netGMACs = span > 0 ? rates.reduce((a, r) => a + r.diff, 0) / span / 1e9 : 0;
  const avgBlock = rates.length ? span / rates.length : 0;
  const jobBlocks = recent.filter((b) => workKind(b) === 'job').length;
  const share = recent.length ? jobBlocks / recent.length : 0;

  // Miners of the window, with what each has earned on chain.
  const miners = new Map();
  for (const b of recent) miners.set(b.coinbase, (miners.get(b.coinbase) || 0) + 1);
  const minerList = [...miners.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
  // Jobs whose results the window carries: the paid work it delivered
  // (a job's tiles seal a block only when one of them wins the lottery, so
  // a block that carries a result may still be sealed on a synthetic puzzle).
  const resultIds = [...new Set(recent.flatMap((b) => b.results.map((r) => r.jobId)))].slice(0, 80);
  const results = recent.reduce((a, b) => a + b.results.length, 0);
  const answers = await batch([...minerList.map(([a]) => ['quern_minerRewards', a]), ...resultIds.map((id) => ['quern_getJob', id])]);
  const rewards = answers.slice(0, minerList.length);
  const jobWork = answers.slice(minerList.length).reduce((a, j) => a + (j && !(j instanceof Error) ? j.work : 0), 0);

  networkLine(info);
  shownHead = head;
  const hb = byNum.get(head);
  show(seq,
    h('div', { class: 'grid' },
      h('section', { id: 'head' },
        h('h2', null, 'Head'),
        hb ? [
          h('div', { class: 'stat' }, blockLink(hb.number)),
          dl([
            ['hash', h('span', { class: 'mono' }, hb.hash)],
            ['difficulty', `${si(hb.difficulty, 'MAC')} (${hb.difficulty.toLocaleString('en')} MACs)`],
            ['time', `${when(hb.time)} · ${ago(hb.time)}`],
            ['work', badge(workKind(hb))],
          ]),
        ] : h('p', { class: 'muted' }, `block ${head} not readable`)),
      h('section', { id: 'stats' },
        h('h2', null, `Network (last ${rates.length} block times)`),
        dl([
          ['work rate', h('span', { class: 'stat' }, rates.length ? `${netGMACs.toFixed(3)} GMAC/s` : '—')],
          ['', h('span', { class: 'muted' }, 'estimate: difficulty / block time, summed over the window')],
          ['block time', rates.length ? `${avgBlock.toFixed(2)} s on average` : '—'],
          ['useful work', [`${(share * 100).toFixed(1)}% of the last ${recent.length} blocks sealed on a paid job (${jobBlocks} job, ${recent.length - jobBlocks} synthetic)`, meter(share)]],
          ['paid jobs', `${results} result${results === 1 ? '' : 's'} of ${resultIds.length} job${resultIds.length === 1 ? '' : 's'} in these blocks: ${si(jobWork, 'MAC')} of paid work`],
        ]))),
    h('div', { class: 'grid' },
      h('section', { id: 'chart-rate' },
        h('h2', null, `Network GMAC/s (difficulty / block time, over ${SMOOTH} blocks)`),
        lineChart('network GMAC/s', smoothed(rates), (v) => `${v.toFixed(v < 10 ? 2 : 0)}`)),
      h('section', { id: 'chart-time' },
        h('h2', null, 'Block time (s)'),
        barChart('block time per block', rates.map((r) => ({ n: r.n, v: r.dt, kind: r.kind })), (v) => `${v.toFixed(1)} s`),
        h('div', { class: 'legend' }, h('span', { class: 'sw job' }), 'sealed on a job', h('span', { class: 'sw synthetic' }), 'synthetic puzzle'))),
    h('section', { id: 'blocks' },
      h('h2', null, 'Recent blocks'),
      table(['block', 'time', 'miner', 'work', { label: 'difficulty', num: true }, { label: 'txs', num: true }, { label: 'results', num: true }],
        recent.slice(0, 20).map((b) => h('tr', { 'data-block': b.number },
          h('td', null, blockLink(b.number)),
          h('td', { title: when(b.time) }, ago(b.time)),
          h('td', null, addrLink(b.coinbase)),
          h('td', null, badge(workKind(b)), ' ', isZero(b.seal.jobId) ? null : jobLink(b.seal.jobId)),
          h('td', { class: 'num' }, si(b.difficulty, 'MAC')),
          h('td', { class: 'num' }, b.transactions.length),
          h('td', { class: 'num' }, b.results.length))))),
    h('section', { id: 'jobs' },
      h('h2', null, 'Jobs'),
      table(['job', 'kind', 'status', 'progress', { label: 'work', num: true }, { label: 'fee', num: true }, 'owner', 'done in'],
        jobs.jobs.map((j) => h('tr', { 'data-job': j.id },
          h('td', null, jobLink(j.id)),
          h('td', null, j.kind),
          h('td', null, badge(j.status)),
          h('td', null, progress(j)),
          h('td', { class: 'num' }, si(j.work, 'MAC')),
          h('td', { class: 'num' }, qrn(j.fee)),
          h('td', null, addrLink(j.owner)),
          h('td', null, j.doneBlock ? blockLink(j.doneBlock) : '—'))))),
    h('section', { id: 'miners' },
      h('h2', null, `Miners (of the last ${recent.length} blocks)`),
      table(['miner', { label: 'blocks in window', num: true }, { label: 'blocks mined', num: true }, { label: 'rewards earned', num: true }],
        minerList.map(([a, cnt], i) => {
          const r = rewards[i] instanceof Error ? null : rewards[i];
          return h('tr', { 'data-miner': a },
            h('td', null, addrLink(a)),
            h('td', { class: 'num' }, `${cnt} (${((cnt / recent.length) * 100).toFixed(0)}%)`),
            h('td', { class: 'num' }, r ? r.blocks : '—'),
            h('td', { class: 'num' }, r ? qrn(r.total) : '—'));
        }))));
}

async function blockPage(seq, arg) {
  let b;
  if (/^0x[0-9a-fA-F]{64}$/.test(arg)) b = await rpc('quern_getBlockByHash', arg);
  else if (/^\d+$/.test(arg)) b = await rpc('quern_getBlockByNumber', Number(arg));
  if (!b) return show(seq, h('h1', null, `Block ${arg}`), h('p', { class: 'muted' }, 'No such block on this node.'));
  const head = await rpc('quern_blockNumber');
  const sl = b.seal;
  show(seq,
    h('div', { class: 'pager' },
      b.number > 0 ? link(`#/block/${b.number - 1}`, '← previous') : null,
      b.number < head ? link(`#/block/${b.number + 1}`, 'next →') : null),
    h('h1', null, `Block #${b.number}`),
    h('section', { id: 'block' }, dl([
      ['number', String(b.number)],
      ['hash', b.hash, true],
      ['parent', b.number > 0 ? link(`#/block/${b.number - 1}`, h('span', { class: 'mono' }, b.parentHash)) : h('span', { class: 'mono' }, b.parentHash)],
      ['time', `${when(b.time)} · ${ago(b.time)}`],
      ['miner', addrLink(b.coinbase)],
      ['difficulty', `${si(b.difficulty, 'MAC')} (${b.difficulty.toLocaleString('en')} MACs)`],
      ['total difficulty', b.totalDifficulty],
      ['work', [badge(workKind(b)), ' ', isZero(sl.jobId) ? 'a synthetic puzzle (no paid job to work on)' : ['job ', jobLink(sl.jobId, sl.jobId)]]],
      ['seal', `nonce ${sl.nonce}, op ${sl.op}, step ${sl.step}, tile (${sl.tileI}, ${sl.tileJ})`],
      ['tile digest', sl.tileDigest, true],
      ['state root', b.stateRoot, true],
      ['tx root', b.txRoot, true],
      ['result root', b.resultRoot, true],
    ])),
    h('section', { id: 'block-txs' },
      h('h2', null, `Transactions (${b.transactions.length})`),
      table(['hash', 'kind', 'from', 'to', { label: 'value', num: true }, { label: 'fee', num: true }],
        b.transactions.map((t) => h('tr', { 'data-tx': t.hash },
          h('td', null, txLink(t.hash)),
          h('td', null, t.kind === 'job' ? link(`#/job/${t.hash}`, 'job') : t.kind),
          h('td', null, addrLink(t.from)),
          h('td', null, t.kind === 'job' ? '—' : addrLink(t.to)),
          h('td', { class: 'num' }, qrn(t.value)),
          h('td', { class: 'num' }, qrn(t.fee)))))),
    h('section', { id: 'block-results' },
      h('h2', null, `Job results (${b.results.length})`),
      table(['job', 'shape', 'result hash'],
        b.results.map((r) => h('tr', { 'data-job': r.jobId },
          h('td', null, jobLink(r.jobId, r.jobId)),
          h('td', null, r.rows || r.cols ? `${r.rows} × ${r.cols} int32` : 'training segment'),
          h('td', { class: 'mono' }, r.hash))))));
}

async function txPage(seq, hash) {
  const st = await rpc('quern_getTransactionStatus', hash);
  let tx = null, blk = null;
  if (st.status === 'mined' && st.block !== undefined) {
    blk = await rpc('quern_getBlockByNumber', st.block);
    tx = blk && blk.transactions.find((t) => t.hash.toLowerCase() === hash.toLowerCase());
  }
  const job = tx && tx.kind === 'job' ? await rpc('quern_getJob', tx.hash).catch(() => null) : null;
  show(seq,
    h('h1', null, 'Transaction'),
    h('section', { id: 'tx' }, dl([
      ['hash', hash, true],
      ['status', badge(st.status)],
      st.reason ? ['reason', st.reason] : null,
      st.block !== undefined ? ['block', [blockLink(st.block), blk ? ` · ${when(blk.time)}` : '']] : null,
      tx ? ['kind', tx.kind] : null,
      tx ? ['from', addrLink(tx.from)] : null,
      tx && tx.kind !== 'job' ? ['to', addrLink(tx.to)] : null,
      tx ? ['nonce', String(tx.nonce)] : null,
      tx ? ['value', qrn(tx.value)] : null,
      tx ? ['fee', qrn(tx.fee)] : null,
      tx && tx.expiry ? ['expiry', `block ${tx.expiry}`] : null,
      job ? ['job', [jobLink(job.id, job.id), ' ', badge(job.status)]] : null,
    ])),
    st.status === 'mined' && !tx ? h('p', { class: 'muted' }, 'Mined (found by its Ethereum hash); the block lists it under its quern hash.') : null);
}

async function jobPage(seq, id) {
  let job;
  try { job = await rpc('quern_getJob', id); } catch (e) {
    return show(seq, h('h1', null, 'Job'), h('p', { class: 'muted' }, e.message));
  }
  show(seq,
    h('h1', null, `Job (${job.kind})`),
    h('section', { id: 'job', 'data-job': job.id }, dl([
      ['id', job.id, true],
      ['status', badge(job.status)],
      ['progress', progress(job)],
      ['owner', addrLink(job.owner)],
      ['transaction', txLink(job.id, job.id)],
      ['work', `${si(job.work, 'MAC')} (${job.work.toLocaleString('en')} MACs)`],
      job.rows || job.cols ? ['result shape', `${job.rows} × ${job.cols} int32`] : null,
      ['fee', qrn(job.fee)],
      job.submitted ? ['submitted in', blockLink(job.submitted)] : null,
      ['expiry', `block ${job.expiry}`],
      job.doneBlock ? ['done in', blockLink(job.doneBlock)] : null,
      job.miner && !isZero(job.miner) ? ['miner', addrLink(job.miner)] : null,
      job.minerFee ? ['miner fee', qrn(job.minerFee)] : null,
      job.burned ? ['burned', qrn(job.burned)] : null,
      job.paid ? ['paid so far', qrn(job.paid)] : null,
      job.checkpoint ? ['checkpoint', job.checkpoint, true] : null,
      job.resultHash && !isZero(job.resultHash) ? ['result hash', job.resultHash, true] : null,
    ])),
    h('p', { class: 'muted' }, 'The result itself: quern job result --rpc URL ', job.id, ' --out FILE'));
}

async function addressPage(seq, addr) {
  const [bal, rew, jobs] = await batch([
    ['quern_getBalance', addr], ['quern_minerRewards', addr], ['quern_listJobs', { owner: addr, limit: 20 }]]);
  show(seq,
    h('h1', null, 'Account'),
    h('section', { id: 'account' }, dl([
      ['address', addr, true],
      ['balance', bal instanceof Error ? bal.message : qrn(bal)],
      ['blocks mined', rew instanceof Error ? '—' : String(rew.blocks)],
      ['rewards earned', rew instanceof Error ? '—' : qrn(rew.total)],
    ])),
    h('section', null, h('h2', null, 'Jobs submitted'),
      jobs instanceof Error ? h('p', { class: 'muted' }, jobs.message) :
        table(['job', 'kind', 'status', 'progress'], jobs.jobs.map((j) => h('tr', { 'data-job': j.id },
          h('td', null, jobLink(j.id)), h('td', null, j.kind), h('td', null, badge(j.status)), h('td', null, progress(j)))))));
}

// ---- routing ---------------------------------------------------------------

function route() {
  const seq = ++renderSeq;
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  let p;
  switch (parts[0]) {
    case 'block': p = blockPage(seq, parts[1] || ''); break;
    case 'tx': p = txPage(seq, parts[1] || ''); break;
    case 'job': p = jobPage(seq, parts[1] || ''); break;
    case 'address': p = addressPage(seq, parts[1] || ''); break;
    default: shownHead = -1; p = home(seq);
  }
  return p.then(() => {
    showError(null);
    document.getElementById('updated').textContent = `Updated ${new Date().toLocaleTimeString()}.`;
  }, (err) => { if (seq === renderSeq) showError(err); });
}

async function search(q) {
  q = q.trim();
  if (/^\d+$/.test(q)) { location.hash = `#/block/${q}`; return; }
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) { location.hash = `#/address/${q}`; return; }
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
    const [b, j] = await batch([['quern_getBlockByHash', q], ['quern_getJob', q]]);
    if (b && !(b instanceof Error)) location.hash = `#/block/${b.number}`;
    else if (j && !(j instanceof Error)) location.hash = `#/job/${q}`;
    else location.hash = `#/tx/${q}`;
    return;
  }
  showError(new Error(`"${q}" is not a block number, a 0x hash (64 hex digits) or an address (40)`));
}

let polling = false;
async function poll() {
  if (polling || document.hidden || !/^(#\/?)?$/.test(location.hash)) return;
  polling = true;
  try {
    const head = await rpc('quern_blockNumber');
    if (head !== shownHead) {
      const seq = ++renderSeq;
      await home(seq);
      showError(null);
      document.getElementById('updated').textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    }
  } catch (err) {
    showError(err);
  } finally {
    polling = false;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    search(document.getElementById('q').value).catch(showError);
  });
  window.addEventListener('hashchange', route);
  if (/^#\/./.test(location.hash)) rpc('quern_nodeInfo').then(networkLine, () => {}); // the overview sets it itself
  route();
  setInterval(poll, REFRESH_MS);
});
