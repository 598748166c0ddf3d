// The buyer's own journal (`GET /history`), newest first, a page at a time.

import { api } from './api.js';
import { endSession } from './checkout.js';
import { formatDateTime, formatInt, tokensText } from './format.js';
import { SESSION_ERRORS, errorText, t } from './i18n.js';
import { state } from './state.js';
import { $, el, show } from './views.js';

const PAGE = 20;
let next = null;
let loading = false;

function entryItem(entry) {
  const kinds = t('kinds');
  const delta = Number.isSafeInteger(entry.delta) ? entry.delta : 0;
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '';
  return el(
    'li',
    { class: 'history-item', 'data-testid': 'history-item', 'data-kind': String(entry.kind) },
    el(
      'span',
      { class: 'history-main' },
      el('span', { class: 'history-kind', text: kinds[entry.kind] || String(entry.kind) }),
      el('span', { class: 'history-date', text: formatDateTime(entry.created_at) }),
    ),
    el(
      'span',
      { class: 'history-side' },
      el('span', { class: 'history-delta ' + (delta >= 0 ? 'is-plus' : 'is-minus'), text: sign + tokensText(Math.abs(delta)) }),
      Number.isSafeInteger(entry.balance_after) ? el('span', { class: 'history-after', text: t('historyBalance')(formatInt(entry.balance_after)) }) : null,
    ),
  );
}

async function loadPage(first) {
  if (loading) return;
  loading = true;
  $('#history-more').disabled = true;
  const query = '?limit=' + PAGE + (first || next === null ? '' : '&before=' + encodeURIComponent(next));
  try {
    const reply = await api('GET', '/history' + query);
    const list = $('#history-list');
    if (first) list.textContent = '';
    const had = list.children.length;
    (Array.isArray(reply.entries) ? reply.entries : []).forEach((e) => list.appendChild(entryItem(e)));
    next = Number.isSafeInteger(reply.next_before) ? reply.next_before : null;
    $('#history-empty').hidden = list.children.length > 0;
    const moreHadFocus = document.activeElement === $('#history-more');
    $('#history-more').hidden = next === null;
    // "Show more" vanishes on the last page: focus goes to the list, not to the page's start.
    if (moreHadFocus && next === null) list.focus({ preventScroll: true });
    else if (!first && had < list.children.length) list.children[had].scrollIntoView({ block: 'nearest' });
  } catch (err) {
    if (SESSION_ERRORS.has(err.code)) endSession(err);
    else {
      $('#history-empty').textContent = errorText(err);
      $('#history-empty').hidden = false;
    }
  } finally {
    loading = false;
    $('#history-more').disabled = false;
  }
}

export function openHistory() {
  if (!state.initData) return;
  next = null;
  $('#history-empty').textContent = t('historyEmpty');
  $('#history-empty').hidden = true;
  $('#history-more').hidden = true;
  $('#history-list').textContent = '';
  show('history', true);
  loadPage(true);
}

export function bindHistory() {
  $('#history-more').addEventListener('click', () => loadPage(false));
}
