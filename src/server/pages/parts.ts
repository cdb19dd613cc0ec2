import { html } from 'hono/html';
import type { Ladder } from './data.js';

/** The eight workflow steps as a ladder, the current one marked; red when the migration was rolled back (off the ladder). */
export function ladder(l: Ladder, phase: string | null, wide = false) {
  const failed = phase === 'rolled-back';
  const current = l.current === null ? null : l.rungs[l.current - 1];
  return html`<div class="ladder${wide ? ' wide' : ''}${failed ? ' failed' : ''}" data-step="${l.current ?? 0}" title="${
    failed ? 'rolled back' : current ? `step ${current.step}: ${current.name}` : ''
  }">${l.rungs.map(
    (r) =>
      html`<span class="rung ${r.state}" title="${r.step} ${r.name}"${r.state === 'current' ? html` aria-current="step"` : ''}>${wide ? html`<b>${r.step}</b> ${r.name}` : r.step}</span>`,
  )}</div>`;
}

/** A phase as a coloured pill. */
export function phasePill(phase: string | null) {
  const colour =
    phase === null
      ? 'grey'
      : phase === 'rolled-back'
        ? 'red'
        : phase === 'paused'
          ? 'yellow'
          : ['verified', 'contracted', 'archived', 'rolled-out'].includes(phase)
            ? 'green'
            : 'blue';
  return html`<span class="pill ${colour}" data-phase="${phase ?? 'new'}">${phase ?? 'not started'}</span>`;
}

/** A decision-matrix colour as a dot and a word. */
export function colourBadge(colour: string | null) {
  if (colour === null) return html`<span class="muted">—</span>`;
  return html`<span class="pill ${colour === 'no-data' ? 'grey' : colour}" data-colour="${colour}"><span class="dot ${colour}"></span>${colour}</span>`;
}

/** Risk of the linter's classification as a pill. */
export function riskPill(risk: string | null) {
  if (risk === null) return html`<span class="muted">—</span>`;
  const colour = risk === 'low' ? 'green' : risk === 'medium' ? 'yellow' : 'red';
  return html`<span class="pill ${colour}">${risk}</span>`;
}

/** A number with thousands separators. */
export const num = (n: number) => n.toLocaleString('en-US');

/** A fraction as a percentage with up to two decimals. */
export const pct = (f: number | null) => (f === null ? '—' : `${Number((f * 100).toFixed(2))} %`);

/** Milliseconds as "250 ms", "3 s", "4 min 10 s", "2 h 5 min", "3 d 4 h". */
export function span(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const two = (a: number, unitA: string, b: number, unitB: string) => (b === 0 ? `${a} ${unitA}` : `${a} ${unitA} ${b} ${unitB}`);
  if (s < 3600) return two(Math.floor(s / 60), 'min', s % 60, 's');
  const h = Math.floor(s / 3600);
  if (h < 48) return two(h, 'h', Math.floor((s % 3600) / 60), 'min');
  return two(Math.floor(h / 24), 'd', h % 24, 'h');
}

/** An ISO time as "2026-12-02 11:10:13 UTC". */
export const when = (iso: string | Date) => `${(typeof iso === 'string' ? iso : iso.toISOString()).replace('T', ' ').slice(0, 19)} UTC`;

/** A `<progress>` bar (no inline style: the CSP forbids it). */
export function progressBar(done: number, total: number, state: string, big = false) {
  const max = Math.max(total, done, 1);
  return html`<progress class="${state}${big ? ' big' : ''}" value="${done}" max="${max}">${Math.round((done / max) * 100)} %</progress>`;
}

/** Guidance text as ferry writes it for the terminal, with `code` spans shown as code (escaped like everything else). */
export function prose(text: string) {
  return html`${text.split('`').map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : part))}`;
}
