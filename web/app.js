// ferry serve's page script: live updates, sorting and filtering, actions, sign-in, charts.
// Plain browser JavaScript, no build step; the CSP allows only this file, htmx and uPlot.
(() => {
  'use strict';

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

  // ── live updates ────────────────────────────────────────────────────────────
  // The islands in view refetch first; the rest once those have answered (or after 1 s), so what the reader
  // is looking at does not queue behind hidden islands for the browser's few connections to the server.
  function refreshInOrder(islands) {
    const inView = (el) => {
      if (el.closest('details:not([open])')) return false;
      const r = el.getBoundingClientRect();
      return r.bottom > 0 && r.top < window.innerHeight && r.width > 0;
    };
    const first = islands.filter(inView);
    const later = islands.filter((el) => !first.includes(el));
    const answered = first.map(
      (el) => new Promise((done) => el.addEventListener('htmx:afterRequest', done, { once: true })),
    );
    for (const el of first) el.dispatchEvent(new CustomEvent('ferry:refresh'));
    if (later.length === 0) return;
    Promise.race([Promise.all(answered), new Promise((done) => setTimeout(done, 1000))]).then(() => {
      for (const el of later) el.dispatchEvent(new CustomEvent('ferry:refresh'));
    });
  }

  // Each `change` event of the stream names the state tables that changed; every island whose data-topics
  // name one of them (or "*"; or any island when the server only saw the change by polling, or has just
  // reopened its listening session) refetches itself (hx-trigger="ferry:refresh"). `ferry:change` on the
  // body is for anything else listening.
  function connectStream() {
    const badge = $('#live-state');
    const source = new EventSource('/api/v1/stream');
    const show = (state, title) => {
      if (!badge) return;
      badge.dataset.state = state;
      badge.title = title;
    };
    source.addEventListener('hello', () => show('on', 'live: connected'));
    source.addEventListener('change', (e) => {
      let topics = [];
      try {
        topics = JSON.parse(e.data).topics || [];
      } catch {
        // A malformed event still means something changed.
      }
      const all = topics.length === 0 || topics.includes('poll') || topics.includes('reconnected');
      const due = $$('.island[data-topics]').filter((el) => {
        const mine = el.dataset.topics.split(' ');
        return all || mine.includes('*') || mine.some((t) => topics.includes(t));
      });
      refreshInOrder(due);
      document.body.dispatchEvent(new CustomEvent('ferry:change', { detail: { topics } }));
    });
    source.onerror = () => show('off', 'live: reconnecting…');
  }

  // ── toasts and problems ─────────────────────────────────────────────────────
  let toastTimer;
  function toast(text, kind) {
    const t = $('#toast');
    if (!t) return;
    t.textContent = text;
    t.dataset.kind = kind;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      t.hidden = true;
    }, 6000);
  }

  /** Show a refused action's problem (RFC 9457: detail and hint) next to the button that asked. */
  function showProblem(near, p, status) {
    const box = near?.closest('.actions')?.querySelector('.problem') || $('#signin-problem');
    const detail = p?.detail || `the server answered ${status}`;
    const hint = p?.hint ? `hint: ${p.hint}` : '';
    if (box) {
      box.hidden = false;
      box.replaceChildren();
      const strong = document.createElement('strong');
      strong.textContent = p?.code ? `${p.code}: ` : 'refused: ';
      const d = document.createElement('span');
      d.className = 'detail';
      d.textContent = detail;
      box.append(strong, d);
      if (hint) {
        const h = document.createElement('div');
        h.className = 'hint';
        h.textContent = hint;
        box.append(h);
      }
    }
    toast(`${detail}${hint ? ` — ${hint}` : ''}`, 'error');
  }

  async function send(method, url, body) {
    const res = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    return { ok: res.ok, status: res.status, json };
  }

  // ── actions: <button data-action="/api/v1/…" data-body='{…}' [data-input="field=elementId"] [data-confirm="…"]> ──
  document.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    e.preventDefault();
    const body = JSON.parse(button.dataset.body || '{}');
    for (const pair of (button.dataset.input || '').split(',').filter(Boolean)) {
      const [field, id] = pair.split('=');
      const input = document.getElementById(id);
      if (!input || input.value === '') continue;
      body[field] = input.type === 'number' ? Number(input.value) : input.value;
    }
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const box = button.closest('.actions')?.querySelector('.problem');
    if (box) box.hidden = true;
    button.disabled = true;
    button.classList.add('busy');
    try {
      const r = await send('POST', button.dataset.action, body);
      if (r.ok) toast(`${button.textContent.trim()}: done`, 'ok');
      else showProblem(button, r.json, r.status);
    } catch (err) {
      showProblem(button, { detail: String(err) }, 0);
    } finally {
      button.classList.remove('busy');
      if (button.isConnected) button.disabled = false;
    }
  });

  // ── sign in / out ───────────────────────────────────────────────────────────
  document.addEventListener('submit', async (e) => {
    const form = e.target.closest('#signin-form');
    if (!form) return;
    e.preventDefault();
    const token = form.elements.token.value;
    const name = form.elements.name.value.trim();
    const r = await send('POST', '/api/v1/session', name ? { token, name } : { token });
    if (!r.ok) return showProblem(form, r.json, r.status);
    const next = new URLSearchParams(location.search).get('next');
    location.href = next?.startsWith('/') && !next.startsWith('//') ? next : '/';
  });
  document.addEventListener('click', async (e) => {
    if (!e.target.closest('[data-signout]')) return;
    await send('DELETE', '/api/v1/session');
    location.reload();
  });

  // ── overview: sortable columns and the "active only" filter (kept across live refreshes) ──
  const view = { sort: null, desc: false, activeOnly: false };
  function applyTable(root = document) {
    const table = $('table.sortable', root) || $('table.sortable');
    if (!table) return;
    const body = table.tBodies[0];
    if (view.sort !== null) {
      const col = view.sort;
      const th = $$('th', table)[col];
      const numeric = th?.dataset.type === 'num';
      const key = (row) => row.cells[col]?.dataset.value ?? row.cells[col]?.textContent.trim() ?? '';
      const rows = [...body.rows].sort((a, b) => {
        const x = key(a);
        const y = key(b);
        const c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return view.desc ? -c : c;
      });
      body.append(...rows);
      for (const [i, h] of $$('th', table).entries()) h.dataset.sorted = i === col ? (view.desc ? 'desc' : 'asc') : '';
    }
    let shown = 0;
    for (const row of body.rows) {
      row.hidden = view.activeOnly && row.dataset.active !== 'true';
      if (!row.hidden) shown += 1;
    }
    const empty = $('#overview-empty');
    if (empty) empty.hidden = shown > 0;
  }
  document.addEventListener('click', (e) => {
    const th = e.target.closest('table.sortable th[data-sort]');
    if (!th) return;
    const col = [...th.parentElement.children].indexOf(th);
    view.desc = view.sort === col ? !view.desc : false;
    view.sort = col;
    applyTable();
  });
  document.addEventListener('change', (e) => {
    if (e.target.id !== 'active-only') return;
    view.activeOnly = e.target.checked;
    applyTable();
  });

  // ── countdowns: <span data-until="ISO">… ────────────────────────────────────
  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    const h = Math.floor(s / 3600);
    return h < 48 ? `${h}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
  }
  function tick() {
    for (const el of $$('[data-until]')) {
      const left = Date.parse(el.dataset.until) - Date.now();
      el.textContent = left > 0 ? `${duration(left)} left` : 'hold elapsed';
      el.dataset.done = left > 0 ? 'false' : 'true';
    }
  }

  // ── charts: <div class="chart" data-chart='{"title","x":[unix s],"series":[{"label","unit","values","scale"}]}'> ──
  const COLOURS = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2'];
  function drawCharts(root = document) {
    if (typeof window.uPlot !== 'function') return;
    for (const el of $$('.chart[data-chart]', root)) {
      if (el.dataset.drawn === 'true') continue;
      el.dataset.drawn = 'true';
      const spec = JSON.parse(el.dataset.chart);
      if (!spec.x.length) {
        el.classList.add('empty');
        el.textContent = spec.empty || 'no data yet';
        continue;
      }
      const scales = { x: { time: true } };
      const axes = [{ stroke: '#57606a', grid: { stroke: '#eaeef2' } }];
      const units = [...new Set(spec.series.map((s) => s.unit))];
      for (const [i, unit] of units.entries()) {
        scales[unit] = { auto: true, range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] };
        axes.push({ scale: unit, side: i === 0 ? 3 : 1, label: unit, stroke: '#57606a', grid: { show: i === 0, stroke: '#eaeef2' }, size: 60 });
      }
      const series = [
        {},
        ...spec.series.map((s, i) => ({
          label: s.label,
          scale: s.unit,
          stroke: s.colour || COLOURS[i % COLOURS.length],
          width: 2,
          points: { show: spec.x.length < 60 },
          value: (_u, v) => (v == null ? '—' : `${Number(v.toPrecision(4))} ${s.unit}`),
        })),
      ];
      const width = Math.max(320, el.clientWidth || 560);
      new window.uPlot({ title: spec.title, width, height: spec.height || 220, scales, axes, series }, [spec.x, ...spec.series.map((s) => s.values)], el);
    }
  }

  function refresh(root) {
    drawCharts(root);
    applyTable(root);
    tick();
  }

  document.addEventListener('DOMContentLoaded', () => {
    connectStream();
    refresh(document);
    setInterval(tick, 1000);
  });
  document.addEventListener('htmx:afterSettle', (e) => refresh(e.target));
})();
