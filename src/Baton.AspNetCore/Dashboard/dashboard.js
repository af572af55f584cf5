// Baton dashboard: one page, no build step. Everything it shows comes from Baton's HTTP API next to it
// (../api/v1/). User data (payloads, outputs, errors, names) only ever reaches the page as text nodes.
'use strict';

(() => {
  const apiBase = new URL('../api/v1/', location.href);
  const dashboardBase = new URL('./', location.href);
  const main = document.getElementById('main');
  const statuses = ['queued', 'running', 'waiting', 'waiting-for-event', 'waiting-for-children', 'completed', 'failed', 'cancelled', 'timed-out', 'expired'];
  const terminal = new Set(['completed', 'failed', 'cancelled', 'timed-out', 'expired']);
  const livePeriodMs = 1500;

  let leaving = [];      // what to stop when the page changes (timers)
  let renderCount = 0;   // a page checks it is still the current one before touching the DOM

  class ApiError extends Error {
    constructor(message, status, problem) {
      super(message);
      this.status = status;
      this.problem = problem;
    }
  }

  // ---- HTTP ----

  async function request(url, method, body) {
    const headers = { 'Accept': 'application/json', 'X-Baton-Dashboard': '1' };
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!response.ok) {
      const message = (json && (json.detail || json.title)) || `${response.status} ${response.statusText}`;
      throw new ApiError(message, response.status, json);
    }
    return json;
  }

  async function api(path, method = 'GET', body = undefined) {
    try {
      return await request(new URL(path, apiBase), method, body);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        showSignIn(e.message);
      }
      throw e;
    }
  }

  const enc = encodeURIComponent;

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const text = q.toString();
    return text ? `?${text}` : '';
  }

  // ---- DOM ----

  // h('a', {href: '#/runs'}, 'text', child...): strings become text nodes, never markup.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key === 'class') el.className = value;
      else if (key === 'style') Object.assign(el.style, value); // through the CSSOM: the page's CSP forbids style attributes
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
  }

  // Replaces an element's children (arrays flattened, null and false left out).
  function fill(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
  }

  function svg(tag, attrs) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
    return el;
  }

  function toast(message, bad = false) {
    const box = document.getElementById('toast');
    const msg = h('div', { class: bad ? 'msg bad' : 'msg' }, message);
    box.append(msg);
    setTimeout(() => msg.remove(), bad ? 8000 : 4000);
  }

  // ---- formatting ----

  const pad = n => String(n).padStart(2, '0');

  function time(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function ago(iso) {
    if (!iso) return '';
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 0) return `in ${duration(-s * 1000)}`;
    if (s < 5) return 'just now';
    return `${duration(s * 1000)} ago`;
  }

  function duration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} m ${Math.round(s % 60)} s`;
    const hours = Math.floor(m / 60);
    if (hours < 48) return `${hours} h ${m % 60} m`;
    return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  }

  function bytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  const span = (from, to) => (from ? (to ? new Date(to) : new Date()) - new Date(from) : null);

  function badge(status) {
    return h('span', { class: `badge s-${status}`, 'data-status': status }, status);
  }

  function timeCell(iso) {
    return h('span', { title: iso ? time(iso) : '' }, time(iso), h('br'), h('span', { class: 'muted' }, ago(iso)));
  }

  const shortId = id => (id && id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id);

  // A JSON value as text; a very large one is cut, with a button that shows all of it.
  function jsonBlock(value, label) {
    // Long or multi-line strings (an LLM's answer) read as text, not as one escaped JSON line.
    const prose = typeof value === 'string' && (value.length > 200 || value.includes('\n'));
    const text = value === undefined ? 'undefined' : prose ? value : JSON.stringify(value, null, 2);
    const limit = 20000;
    const pre = h('pre', { class: prose ? 'json prose' : 'json', 'aria-label': label || 'JSON', title: prose ? `text, ${value.length} characters` : null },
      text.length > limit ? text.slice(0, limit) : text);
    if (text.length <= limit) return pre;
    const more = h('button', {
      type: 'button',
      onclick: () => { pre.textContent = text; more.remove(); },
    }, `Show all (${(text.length / 1024).toFixed(0)} KB)`);
    return h('div', {}, pre, more);
  }

  function preview(value, max = 90) {
    const text = JSON.stringify(value);
    return text === undefined ? '' : text.length > max ? `${text.slice(0, max)}…` : text;
  }

  function errorBox(error) {
    if (!error) return null;
    return h('div', { class: 'error-box' },
      h('strong', {}, error.type || 'Error'), ': ', error.message || '',
      error.stack ? h('pre', { class: 'json stack' }, error.stack) : null);
  }

  function empty(text) {
    return h('div', { class: 'empty' }, text);
  }

  // ---- live refresh ----

  // Calls fn every period while the tab is visible and this page is shown; one call at a time. A page left while it
  // was loading starts nothing.
  function every(alive, period, fn) {
    if (!alive()) return;
    let busy = false;
    const id = setInterval(async () => {
      if (document.hidden || busy) return;
      busy = true;
      try { await fn(); } catch (e) { if (!(e instanceof ApiError && e.status === 401)) console.warn(e); } finally { busy = false; }
    }, period);
    leaving.push(() => clearInterval(id));
  }

  function setLive(on, alive = () => true) {
    if (!alive()) return;
    const live = document.getElementById('live');
    live.classList.toggle('paused', !on);
    live.textContent = on ? 'live' : 'paused';
  }

  // ---- sign-in ----

  function showSignIn(reason) {
    if (main.querySelector('form.signin')) return; // already asking (several calls can be refused at once)
    leaving.forEach(stop => stop());
    leaving = [];
    renderCount++;
    setLive(false);
    const key = h('input', { type: 'password', name: 'key', autocomplete: 'current-password', required: true, 'aria-label': 'API key' });
    const message = h('p', { class: 'muted' }, reason || 'This server needs a management API key.');
    const form = h('form', {
      class: 'stack panel signin',
      onsubmit: async event => {
        event.preventDefault();
        try {
          await request(new URL('session', dashboardBase), 'POST', { key: key.value });
          document.getElementById('signout').hidden = false;
          render();
        } catch (e) {
          message.textContent = e.message;
        }
      },
    },
    h('h1', {}, 'Sign in'),
    message,
    h('label', {}, 'API key', key),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
    fill(main, form);
    key.focus();
  }

  async function signOut() {
    await request(new URL('session', dashboardBase), 'DELETE');
    document.getElementById('signout').hidden = true;
    render();
  }

  // ---- pages ----

  async function functionIds() {
    try {
      return (await api('functions')).functions.map(f => f.id);
    } catch {
      return [];
    }
  }

  function filterValue(params, name) {
    return params.get(name) || '';
  }

  function localInput(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  async function runsPage(params, alive) {
    const filters = {
      functionId: filterValue(params, 'functionId'),
      status: filterValue(params, 'status'),
      tag: filterValue(params, 'tag'),
      from: filterValue(params, 'from'),
      to: filterValue(params, 'to'),
    };
    const cursor = filterValue(params, 'cursor');
    const ids = await functionIds();
    if (!alive()) return;
    if (filters.functionId && !ids.includes(filters.functionId)) ids.push(filters.functionId);

    const fn = h('select', { name: 'functionId' }, h('option', { value: '' }, 'all functions'),
      ids.map(id => h('option', { value: id, selected: id === filters.functionId }, id)));
    const status = h('select', { name: 'status' }, h('option', { value: '' }, 'any status'),
      statuses.map(s => h('option', { value: s, selected: s === filters.status }, s)));
    const tag = h('input', { name: 'tag', value: filters.tag, placeholder: 'tag', 'data-filter': true });
    const from = h('input', { name: 'from', type: 'datetime-local', value: localInput(filters.from) });
    const to = h('input', { name: 'to', type: 'datetime-local', value: localInput(filters.to) });
    const form = h('form', {
      class: 'filters',
      onsubmit: event => {
        event.preventDefault();
        const iso = input => (input.value ? new Date(input.value).toISOString() : '');
        location.hash = `#/runs${query({ functionId: fn.value, status: status.value, tag: tag.value.trim(), from: iso(from), to: iso(to) })}`;
      },
    },
    h('label', {}, 'Function', fn), h('label', {}, 'Status', status), h('label', {}, 'Tag', tag),
    h('label', {}, 'From', from), h('label', {}, 'To', to),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
    h('a', { class: 'button', href: '#/runs' }, 'Clear'));

    const chips = h('div', { class: 'chips', 'aria-label': 'Runs per status' });
    const body = h('tbody');
    const table = h('table', { 'aria-label': 'Runs' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Run'), h('th', {}, 'Function'), h('th', {}, 'Status'), h('th', {}, 'Created'), h('th', { class: 'num' }, 'Duration'), h('th', {}, 'Tags'))),
      body);
    const pager = h('div', { class: 'row' });
    fill(main, h('h1', {}, 'Runs'), form, chips, table, pager);

    const seen = new Set();
    let first = true;
    let ticks = 0;
    let counts = null;
    const load = async () => {
      // Counting scans the matching runs: every third refresh is enough.
      const [page, fresh] = await Promise.all([
        api(`runs${query({ ...filters, limit: 50, cursor })}`),
        ticks++ % 3 === 0 ? api(`runs/counts${query({ functionId: filters.functionId, tag: filters.tag, from: filters.from, to: filters.to })}`) : null,
      ]);
      counts = fresh || counts;
      if (!alive()) return;
      fill(chips,
        h('a', { class: 'chip', href: `#/runs${query({ ...filters, status: '' })}`, 'aria-current': filters.status ? 'false' : 'true' }, 'all ', h('b', {}, counts.total)),
        statuses.filter(s => counts.counts[s] > 0 || s === filters.status).map(s =>
          h('a', { class: `chip s-${s}`, href: `#/runs${query({ ...filters, status: s })}`, 'aria-current': s === filters.status ? 'true' : 'false', 'data-count': s }, `${s} `, h('b', {}, counts.counts[s] || 0))));
      fill(body, ...page.runs.map(run => {
        const row = h('tr', { 'data-run': run.id, class: !first && !seen.has(run.id) ? 'fresh' : null },
          h('td', {}, h('a', { class: 'mono', href: `#/runs/${enc(run.id)}`, title: run.id }, shortId(run.id))),
          h('td', {}, h('a', { href: `#/functions/${enc(run.functionId)}` }, run.functionId)),
          h('td', {}, badge(run.status), run.progress && !terminal.has(run.status) ? h('div', { class: 'muted' }, progressView(run.progress)) : null),
          h('td', {}, timeCell(run.createdAt)),
          h('td', { class: 'num' }, run.startedAt ? duration(span(run.startedAt, run.endedAt)) : '—'),
          h('td', {}, run.tags.map(t => h('a', { class: 'tag', href: `#/runs${query({ tag: t })}` }, t))));
        seen.add(run.id);
        return row;
      }));
      if (page.runs.length === 0) fill(body, h('tr', {}, h('td', { colspan: 6 }, empty('No runs match. Send an event or trigger a function to start one.'))));
      fill(pager,
        cursor ? h('a', { class: 'button', href: `#/runs${query(filters)}` }, '← Newest') : null,
        page.nextCursor ? h('a', { class: 'button', href: `#/runs${query({ ...filters, cursor: page.nextCursor })}` }, 'Older →') : null);
      first = false;
    };
    await load();
    // The first page follows new runs and status changes; an older page stays still.
    if (!cursor) every(alive, livePeriodMs, load);
    setLive(!cursor, alive);
  }

  async function runPage(params, alive, id) {
    const open = new Set();
    let run = null;
    let last = '';
    const load = async () => {
      run = await api(`runs/${enc(id)}`);
      if (!alive()) return;
      // Redraw only what changed, so a selection, an opened value or the focus survive a refresh that brought nothing new.
      const text = JSON.stringify(run);
      if (text === last) return;
      last = text;
      main.querySelectorAll('details[data-step][open]').forEach(d => open.add(d.dataset.step));
      main.querySelectorAll('details[data-step]:not([open])').forEach(d => open.delete(d.dataset.step));
      fill(main, ...runView(run, open));
    };
    await load();
    every(alive, livePeriodMs, async () => {
      if (run && terminal.has(run.status)) return;
      await load();
    });
    setLive(true, alive);
  }

  function runView(run, open) {
    const trigger = run.input || {};
    const actions = h('div', { class: 'row' },
      terminal.has(run.status) ? null : h('button', {
        type: 'button', class: 'danger', 'data-action': 'cancel',
        onclick: async () => {
          if (!confirm(`Cancel run ${run.id}?`)) return;
          try { await api(`runs/${enc(run.id)}/cancel`, 'POST'); toast('Run cancelled.'); render(); } catch (e) { toast(e.message, true); }
        },
      }, 'Cancel run'),
      h('button', {
        type: 'button', 'data-action': 'replay',
        onclick: async () => {
          try {
            const started = await api(`runs/${enc(run.id)}/replay`, 'POST');
            toast('Replayed as a new run.');
            location.hash = `#/runs/${enc(started.runId)}`;
          } catch (e) { toast(e.message, true); }
        },
      }, 'Replay'));

    const meta = h('dl', { class: 'meta' },
      h('dt', {}, 'Run'), h('dd', { class: 'mono' }, run.id),
      h('dt', {}, 'Function'), h('dd', {}, h('a', { href: `#/functions/${enc(run.functionId)}` }, run.functionId)),
      h('dt', {}, 'Attempt'), h('dd', {}, run.attempt),
      h('dt', {}, 'Created'), h('dd', {}, time(run.createdAt), ' ', h('span', { class: 'muted' }, ago(run.createdAt))),
      h('dt', {}, 'Started'), h('dd', {}, time(run.startedAt)),
      h('dt', {}, 'Ended'), h('dd', {}, time(run.endedAt)),
      h('dt', {}, 'Duration'), h('dd', {}, run.startedAt ? duration(span(run.startedAt, run.endedAt)) : '—'),
      h('dt', {}, 'Tags'), h('dd', {}, run.tags.length ? run.tags.map(t => h('span', { class: 'tag' }, t)) : '—'),
      run.progress ? [h('dt', {}, 'Progress'), h('dd', { 'data-progress': true }, progressView(run.progress))] : null,
      h('dt', {}, 'Triggered by'), h('dd', {},
        trigger.id ? h('a', { href: `#/events/${enc(trigger.id)}`, class: 'mono' }, trigger.name || trigger.id) : (trigger.name || '—')));

    return [
      h('h1', {}, h('span', {}, run.functionId), badge(run.status)),
      actions,
      h('div', { class: 'panel' }, meta),
      errorBox(run.error),
      run.metadata ? [h('h2', {}, 'Metadata'), jsonBlock(run.metadata, 'Run metadata')] : null,
      run.status === 'completed' ? [h('h2', {}, 'Output'), jsonBlock(run.output, 'Run output')] : null,
      h('h2', {}, `Steps (${run.steps.length})`),
      waterfall(run, open),
      run.events && run.events.length > 1
        ? [h('h2', {}, `Triggering events (${run.events.length}, a batch)`), run.events.map((e, i) => jsonBlock(e, `Triggering event ${i + 1}`))]
        : [h('h2', {}, 'Triggering event'), jsonBlock(run.input, 'Triggering event')],
    ];
  }

  // A value between 0 and 1 or 0 and 100 reads as a share; any other number as a count.
  function progressView(p) {
    const share = p.value >= 0 && p.value <= 1 ? p.value : p.value > 1 && p.value <= 100 ? p.value / 100 : null;
    return [
      share === null ? null : h('progress', { max: 1, value: share, 'aria-label': 'Progress' }),
      ' ', share === null ? String(p.value) : `${Math.round(share * 100)}%`,
      p.message ? [' · ', p.message] : null,
      h('span', { class: 'muted' }, ` (${ago(p.updatedAt)})`),
    ];
  }

  function waterfall(run, open) {
    if (run.steps.length === 0) return empty(run.status === 'queued' ? 'Queued: no step has run yet.' : 'No steps recorded.');
    const start = new Date(run.startedAt || run.createdAt).getTime();
    const endOf = step => new Date(step.endedAt || (terminal.has(run.status) ? run.endedAt : null) || Date.now()).getTime();
    const end = Math.max(new Date(run.endedAt || Date.now()).getTime(), ...run.steps.map(endOf));
    const total = Math.max(end - start, 1);
    return h('div', { class: 'waterfall', role: 'list', 'aria-label': 'Step timeline' }, run.steps.map(step => {
      const from = new Date(step.startedAt).getTime();
      const to = endOf(step);
      const left = Math.max(0, Math.min(100, ((from - start) / total) * 100));
      const width = Math.max(0.4, Math.min(100 - left, ((to - from) / total) * 100));
      const summary = h('summary', {},
        h('span', { class: 'name' }, h('span', { class: 'mono' }, step.id), h('span', { class: 'kind' }, step.kind)),
        h('div', { class: 'track', title: `${time(step.startedAt)} → ${step.endedAt ? time(step.endedAt) : 'now'}` },
          h('div', { class: `bar ${step.status}`, style: { left: `${left.toFixed(2)}%`, width: `${width.toFixed(2)}%` } })),
        h('span', { class: 'took' }, badge(step.status), ' ', step.endedAt ? duration(to - from) : stepNote(step)));
      return h('details', { class: 'step', role: 'listitem', 'data-step': step.id, open: open.has(step.id) }, summary,
        h('div', { class: 'body' }, stepDetail(run, step)));
    }));
  }

  // What an unfinished step is doing, in a few words.
  function stepNote(step) {
    if (step.waitingFor) return `for ${step.waitingFor.eventName}`;
    if (step.kind === 'sleep' && step.wakeAt) return `until ${time(step.wakeAt).slice(11)}`;
    if (step.status === 'retrying' && step.wakeAt) return `retry ${ago(step.wakeAt)}`;
    if (step.childRunIds && step.childRunIds.length) return `${step.childRunIds.length} child run(s)`;
    return '';
  }

  function stepDetail(run, step) {
    const lines = [];
    if (step.attempts > 0) lines.push(h('div', {}, `Attempts: ${step.attempts}`));
    if (step.kind === 'sleep' && step.wakeAt) lines.push(h('div', {}, `${step.status === 'waiting' ? 'Sleeping until' : 'Slept until'} ${time(step.wakeAt)} `, h('span', { class: 'muted' }, ago(step.wakeAt))));
    if (step.waitingFor) {
      lines.push(h('div', {}, 'Waiting for event ', h('code', {}, step.waitingFor.eventName),
        step.waitingFor.match ? [' where ', h('code', {}, step.waitingFor.match)] : null,
        step.waitingFor.condition ? [' if ', h('code', {}, step.waitingFor.condition)] : null,
        step.wakeAt ? ` until ${time(step.wakeAt)}` : null));
    }
    if (step.status === 'retrying' && step.wakeAt) lines.push(h('div', {}, `Retrying at ${time(step.wakeAt)} `, h('span', { class: 'muted' }, ago(step.wakeAt))));
    if (step.childRunIds && step.childRunIds.length) {
      lines.push(h('div', {}, `Child runs (${step.childRunIds.length}): `,
        step.childRunIds.slice(0, 50).map(c => [h('a', { class: 'mono', href: `#/runs/${enc(c)}` }, shortId(c)), ' ']),
        step.childRunIds.length > 50 ? `and ${step.childRunIds.length - 50} more` : null));
    }
    lines.push(h('div', { class: 'muted' }, `Started ${time(step.startedAt)}`, step.endedAt ? `, ended ${time(step.endedAt)}` : ''));
    if (step.error) lines.push(errorBox(step.error));
    if (step.output !== undefined && step.output !== null) lines.push(jsonBlock(step.output, `Output of ${step.id}`));
    if (step.outputBytes) {
      // Stored out of line: read only when asked for.
      const slot = h('div', {});
      const load = h('button', {
        type: 'button', 'data-action': 'load-output',
        onclick: async () => {
          load.disabled = true;
          try {
            fill(slot, jsonBlock(await api(`runs/${enc(run.id)}/steps/${enc(step.id)}/output`), `Output of ${step.id}`));
          } catch (e) { toast(e.message, true); load.disabled = false; }
        },
      }, `Load output (${bytes(step.outputBytes)}, stored out of line)`);
      fill(slot, load);
      lines.push(slot);
    }
    if (step.kind === 'run') {
      lines.push(h('div', { class: 'row' }, h('button', {
        type: 'button', 'data-action': 'rerun',
        onclick: async () => {
          try {
            const started = await api(`runs/${enc(run.id)}/rerun`, 'POST', { stepId: step.id });
            toast(`Rerunning from ${step.id} as a new run.`);
            location.hash = `#/runs/${enc(started.runId)}`;
          } catch (e) { toast(e.message, true); }
        },
      }, 'Rerun from this step')));
    }
    return lines;
  }

  async function eventsPage(params, alive) {
    const name = filterValue(params, 'name');
    const cursor = filterValue(params, 'cursor');
    const nameInput = h('input', { name: 'name', value: name, placeholder: 'event name', 'data-filter': true });
    const filter = h('form', {
      class: 'filters',
      onsubmit: event => { event.preventDefault(); location.hash = `#/events${query({ name: nameInput.value.trim() })}`; },
    }, h('label', {}, 'Name', nameInput), h('button', { type: 'submit', class: 'primary' }, 'Filter'), h('a', { class: 'button', href: '#/events' }, 'Clear'));

    const body = h('tbody');
    const pager = h('div', { class: 'row' });
    fill(main,
      h('h1', {}, 'Events'),
      sendEventForm(name, () => load()),
      filter,
      h('table', { 'aria-label': 'Events' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Name'), h('th', {}, 'Received'), h('th', {}, 'Payload'), h('th', {}, 'Runs'))),
        body),
      pager);

    const load = async () => {
      const page = await api(`events${query({ name, limit: 50, cursor })}`);
      if (!alive()) return;
      fill(body, ...page.events.map(e => h('tr', { 'data-event': e.id },
        h('td', {}, h('a', { class: 'mono', href: `#/events/${enc(e.id)}`, title: e.id }, shortId(e.id))),
        h('td', {}, h('code', {}, e.name)),
        h('td', {}, timeCell(e.receivedAt)),
        h('td', { class: 'mono' }, e.dataBytes
          ? h('span', { class: 'muted', 'data-large': true }, `${bytes(e.dataBytes)}, stored out of line: open the event to read it`)
          : preview(e.data)),
        h('td', {}, outcomes(e)))));
      if (page.events.length === 0) fill(body, h('tr', {}, h('td', { colspan: 5 }, empty('No events yet.'))));
      fill(pager,
        cursor ? h('a', { class: 'button', href: `#/events${query({ name })}` }, '← Newest') : null,
        page.nextCursor ? h('a', { class: 'button', href: `#/events${query({ name, cursor: page.nextCursor })}` }, 'Older →') : null);
    };
    await load();
    if (!cursor) every(alive, livePeriodMs * 2, load);
    setLive(!cursor, alive);
  }

  function outcomes(e) {
    const parts = e.runs.map(r => h('div', {}, h('a', { class: 'mono', href: `#/runs/${enc(r.id)}` }, shortId(r.id)), ' ', r.functionId, ' ', badge(r.status)));
    parts.push(...e.skipped.map(s => h('div', { class: 'muted', 'data-skipped': s.reason }, `${s.functionId}: no run (${s.reason})`)));
    return parts.length ? parts : h('span', { class: 'muted' }, 'no function listens to it');
  }

  function sendEventForm(name, onSent) {
    const nameInput = h('input', { name: 'event-name', required: true, value: name, placeholder: 'app/user.signup', 'aria-label': 'Event name' });
    const data = h('textarea', { name: 'event-data', 'aria-label': 'Event data (JSON)' }, '{}');
    const id = h('input', { name: 'event-id', placeholder: 'optional: repeating an id sends it once', 'aria-label': 'Event id' });
    const form = h('form', {
      class: 'stack',
      onsubmit: async event => {
        event.preventDefault();
        let payload;
        try { payload = JSON.parse(data.value || 'null'); } catch (e) { toast(`The data is not valid JSON: ${e.message}`, true); return; }
        try {
          const sent = await api('events', 'POST', { name: nameInput.value.trim(), data: payload, id: id.value.trim() || undefined });
          toast(`Event accepted${sent.runIds.length ? `; started ${sent.runIds.length} run(s)` : '; it started no run'}.`);
          await onSent();
        } catch (e) { toast(e.message, true); }
      },
    },
    h('label', {}, 'Name', nameInput),
    h('label', {}, 'Data (JSON)', data),
    h('label', {}, 'Id', id),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Send event')));
    return h('details', { class: 'panel' }, h('summary', {}, 'Send an event'), form);
  }

  async function eventPage(params, alive, id) {
    const e = await api(`events/${enc(id)}`);
    if (!alive()) return;
    fill(main,
      h('h1', {}, 'Event ', h('code', {}, e.name)),
      h('div', { class: 'panel' }, h('dl', { class: 'meta' },
        h('dt', {}, 'Id'), h('dd', { class: 'mono' }, e.id),
        h('dt', {}, 'Happened'), h('dd', {}, time(new Date(e.ts).toISOString())),
        h('dt', {}, 'Received'), h('dd', {}, time(e.receivedAt), ' ', h('span', { class: 'muted' }, ago(e.receivedAt))))),
      h('h2', {}, 'Runs'),
      h('div', {}, outcomes(e)),
      h('h2', {}, 'Payload'),
      jsonBlock(e.data, 'Event payload'));
    setLive(false, alive);
  }

  function triggersOf(f) {
    const crons = Array.isArray(f.definition && f.definition.cron) ? f.definition.cron : [];
    return [
      ...f.triggers.map(t => h('code', { class: 'tag', title: 'event trigger' }, t)),
      ...crons.map(c => h('span', { class: 'tag', title: `cron in ${c.timeZone}` }, `cron ${c.expression}`)),
    ];
  }

  function sparkline(perHour) {
    const max = Math.max(1, ...perHour.map(b => b.runs));
    const chart = svg('svg', { class: 'spark', viewBox: `0 0 ${perHour.length * 4} 36`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'Runs per hour' });
    perHour.forEach((b, i) => {
      const height = (b.runs / max) * 34;
      const bad = (b.failed / max) * 34;
      if (b.runs > 0) chart.append(svg('rect', { class: 'ok', x: i * 4, y: 36 - height, width: 3, height }));
      if (b.failed > 0) chart.append(svg('rect', { class: 'bad', x: i * 4, y: 36 - bad, width: 3, height: bad }));
      const title = svg('title', {});
      title.textContent = `${time(b.at)}: ${b.runs} runs, ${b.failed} failed`;
      chart.lastChild && chart.lastChild.append(title);
    });
    return chart;
  }

  function statsLine(stats) {
    return h('div', { class: 'stats' },
      h('span', {}, h('b', {}, stats.runs), stats.sampled ? '+' : '', ' runs / 24 h'),
      h('span', {}, h('b', {}, `${(stats.failureRate * 100).toFixed(1)}%`), ' failed'),
      h('span', {}, 'p50 ', h('b', {}, duration(stats.p50Ms))),
      h('span', {}, 'p95 ', h('b', {}, duration(stats.p95Ms))));
  }

  async function functionsPage(params, alive) {
    const list = (await api('functions')).functions;
    if (!alive()) return;
    const cards = h('div', { class: 'cards' });
    fill(main, h('h1', {}, 'Functions'), list.length ? cards : empty('No function is registered: start a node with AddBaton(...) and functions.'));
    // Each function's health reads its recent runs: four at a time, not all at once.
    const stats = [];
    for (let i = 0; i < list.length && alive(); i += 4) {
      stats.push(...await Promise.all(list.slice(i, i + 4).map(f => api(`functions/${enc(f.id)}/stats`).catch(() => null))));
    }
    if (!alive()) return;
    fill(cards, ...list.map((f, i) => h('div', { class: 'card', 'data-function': f.id },
      h('h3', {}, h('a', { href: `#/functions/${enc(f.id)}` }, f.id)),
      h('div', {}, triggersOf(f)),
      stats[i] ? [statsLine(stats[i]), sparkline(stats[i].perHour)] : h('div', { class: 'muted' }, 'no health figures'),
      h('div', { class: 'row' }, h('a', { href: `#/runs${query({ functionId: f.id })}` }, 'Runs →')))));
    setLive(false, alive);
  }

  async function functionPage(params, alive, id) {
    const [f, stats] = await Promise.all([api(`functions/${enc(id)}`), api(`functions/${enc(id)}/stats`)]);
    if (!alive()) return;
    const data = h('textarea', { name: 'trigger-data', 'aria-label': 'Payload (JSON)' }, '{}');
    const key = h('input', { name: 'idempotency-key', placeholder: 'optional', 'aria-label': 'Idempotency key' });
    const tags = h('input', { name: 'tags', placeholder: 'optional: comma-separated', 'aria-label': 'Tags' });
    const form = h('form', {
      class: 'stack',
      onsubmit: async event => {
        event.preventDefault();
        let payload;
        try { payload = JSON.parse(data.value || 'null'); } catch (e) { toast(`The payload is not valid JSON: ${e.message}`, true); return; }
        try {
          const started = await api(`functions/${enc(id)}/runs`, 'POST', {
            data: payload,
            idempotencyKey: key.value.trim() || undefined,
            tags: tags.value.split(',').map(t => t.trim()).filter(t => t),
          });
          toast('Run started.');
          location.hash = `#/runs/${enc(started.runId)}`;
        } catch (e) { toast(e.message, true); }
      },
    }, h('label', {}, 'Payload (JSON)', data), h('label', {}, 'Idempotency key', key), h('label', {}, 'Tags', tags),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Trigger')));

    fill(main,
      h('h1', {}, f.id),
      h('div', {}, triggersOf(f)),
      statsLine(stats),
      sparkline(stats.perHour),
      h('p', {}, h('a', { href: `#/runs${query({ functionId: f.id })}` }, 'Runs of this function →'), ' · ',
        h('span', { class: 'muted' }, `registered ${time(f.updatedAt)}`)),
      h('details', { class: 'panel', open: true }, h('summary', {}, 'Trigger a run'), form),
      h('h2', {}, 'Definition'),
      jsonBlock(f.definition, 'Function definition'));
    setLive(false, alive);
  }

  // Pause or Resume for what lives at `path` (a schedule, a queue), then `reload`.
  function pauseToggle(path, paused, reload) {
    return h('button', {
      type: 'button',
      onclick: async () => {
        try { await api(`${path}/${paused ? 'resume' : 'pause'}`, 'POST'); await reload(); } catch (e) { toast(e.message, true); }
      },
    }, paused ? 'Resume' : 'Pause');
  }

  async function schedulesPage(params, alive) {
    let last = '';
    const load = async () => {
      const list = (await api('schedules?limit=1000')).schedules;
      if (!alive() || JSON.stringify(list) === last) return;
      last = JSON.stringify(list);
      const rows = list.map(s => h('tr', { 'data-schedule': s.id },
        h('td', {}, h('a', { href: `#/functions/${enc(s.functionId)}` }, s.functionId)),
        h('td', {}, h('code', {}, s.cron), ' ', h('span', { class: 'muted' }, s.timeZone)),
        h('td', {}, s.paused ? h('span', { class: 'badge s-cancelled' }, 'paused') : timeCell(s.nextAt)),
        h('td', {}, s.fromCode ? 'code' : 'client', s.externalId ? [' · ', h('span', { class: 'mono' }, s.externalId)] : null),
        h('td', {}, pauseToggle(`schedules/${enc(s.id)}`, s.paused, load))));
      fill(main, h('h1', {}, 'Schedules'), list.length
        ? h('table', { 'aria-label': 'Schedules' }, h('thead', {}, h('tr', {}, h('th', {}, 'Function'), h('th', {}, 'Cron'), h('th', {}, 'Next'), h('th', {}, 'From'), h('th', {}, ''))), h('tbody', {}, rows))
        : empty('No schedules: TriggerOnCron(...) in code, or POST /api/v1/schedules, creates one.'));
    };
    await load();
    every(alive, livePeriodMs * 4, load);
    setLive(true, alive);
  }

  async function queuesPage(params, alive) {
    let last = '';
    const load = async () => {
      const list = (await api('queues')).queues;
      if (!alive() || JSON.stringify(list) === last) return;
      last = JSON.stringify(list);
      const rows = list.map(q => h('tr', { 'data-queue': q.name },
        h('td', {}, h('code', {}, q.name), q.paused ? [' ', h('span', { class: 'badge s-cancelled' }, 'paused')] : null),
        h('td', { class: 'num' }, q.ready), h('td', { class: 'num' }, q.running), h('td', { class: 'num' }, q.later),
        h('td', {}, pauseToggle(`queues/${enc(q.name)}`, q.paused, load))));
      fill(main, h('h1', {}, 'Queues'), list.length
        ? h('table', { 'aria-label': 'Queues' }, h('thead', {}, h('tr', {}, h('th', {}, 'Queue'), h('th', { class: 'num' }, 'Ready'), h('th', { class: 'num' }, 'Running'), h('th', { class: 'num' }, 'Later'), h('th', {}, ''))), h('tbody', {}, rows))
        : empty('No unfinished runs in any queue.'));
    };
    await load();
    every(alive, livePeriodMs * 2, load);
    setLive(true, alive);
  }

  // ---- routing ----

  const routes = [
    [/^\/runs\/([^/]+)$/, 'runs', runPage],
    [/^\/runs$/, 'runs', runsPage],
    [/^\/events\/([^/]+)$/, 'events', eventPage],
    [/^\/events$/, 'events', eventsPage],
    [/^\/functions\/([^/]+)$/, 'functions', functionPage],
    [/^\/functions$/, 'functions', functionsPage],
    [/^\/schedules$/, 'schedules', schedulesPage],
    [/^\/queues$/, 'queues', queuesPage],
  ];

  async function render() {
    leaving.forEach(stop => stop());
    leaving = [];
    const mine = ++renderCount;
    const alive = () => mine === renderCount;
    const hash = location.hash.replace(/^#/, '') || '/runs';
    const [path, search = ''] = hash.split('?');
    for (const [pattern, section, page] of routes) {
      const match = path.match(pattern);
      if (!match) continue;
      document.querySelectorAll('#nav a').forEach(a => {
        if (a.dataset.page === section) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
      });
      document.title = `Baton · ${section}`;
      try {
        await page(new URLSearchParams(search), alive, ...match.slice(1).map(decodeURIComponent));
      } catch (e) {
        if (alive() && !(e instanceof ApiError && e.status === 401)) {
          fill(main, h('h1', {}, e.status === 404 ? 'Not found' : 'Something went wrong'), h('p', {}, e.message), h('p', {}, h('a', { href: '#/runs' }, 'Back to runs')));
        }
      }
      return;
    }
    fill(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/runs' }, 'Back to runs')));
  }

  // ---- theme, keys, start ----

  function applyTheme(theme) {
    if (theme) document.documentElement.dataset.theme = theme; else delete document.documentElement.dataset.theme;
  }

  function toggleTheme() {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === 'dark'
      : matchMedia('(prefers-color-scheme: dark)').matches;
    const next = dark ? 'light' : 'dark';
    localStorage.setItem('baton-theme', next);
    applyTheme(next);
  }

  applyTheme(localStorage.getItem('baton-theme'));
  document.getElementById('theme').addEventListener('click', toggleTheme);
  document.getElementById('signout').addEventListener('click', () => signOut().catch(e => toast(e.message, true)));
  document.addEventListener('keydown', event => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) {
      if (event.key === 'Escape') target.blur(); // back to the page's keys
      return;
    }
    const pages = { r: '#/runs', e: '#/events', f: '#/functions', s: '#/schedules', q: '#/queues' };
    if (pages[event.key]) { location.hash = pages[event.key]; event.preventDefault(); }
    else if (event.key === 't') toggleTheme();
    else if (event.key === '/') {
      const filter = main.querySelector('[data-filter]');
      if (filter) { filter.focus(); event.preventDefault(); }
    }
  });
  window.addEventListener('hashchange', render);
  request(new URL('session', dashboardBase), 'GET')
    .then(session => { document.getElementById('signout').hidden = !session.signedIn; })
    .catch(() => { /* the page works without it */ });
  render();
})();
