// weft's dashboard: live updates without polling. The page is complete
// without this script; with it, the view listens on the server's event
// stream and, when an event it lists in data-live arrives, fetches itself
// again as a fragment and swaps it in. It also counts lease time down, on
// the server's clock.
(() => {
  'use strict';
  const view = document.getElementById('view');
  const status = document.getElementById('live-status');

  // The server's clock minus this browser's, from the view's data-now.
  let skew = 0;
  const readClock = () => {
    const stamp = view && view.querySelector('[data-now]');
    if (stamp) skew = Number(stamp.dataset.now) - Date.now();
  };
  const span = (ms) => {
    if (ms < 1000) return `${Math.max(0, Math.floor(ms))} ms`;
    if (ms < 120000) return `${Math.floor(ms / 1000)} s`;
    if (ms < 7200000) return `${Math.floor(ms / 60000)} min`;
    return `${Math.floor(ms / 3600000)} h`;
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-expires]')) {
      const left = Number(el.dataset.expires) - (Date.now() + skew);
      el.textContent = left > 0 ? `${span(left)} left` : 'expired';
    }
  };
  readClock();
  tick();
  setInterval(tick, 1000);

  if (!view || !view.dataset.live || !window.EventSource) return;
  const kinds = view.dataset.live.split(' ').filter(Boolean);
  const setStatus = (state, text) => {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  };

  // Someone typing in a form (a force-release reason) keeps their text:
  // the swap waits until they leave the field.
  const typing = () => {
    const active = document.activeElement;
    return active && view.contains(active) && active.matches('input, textarea') && active.value !== '';
  };
  const waitForBlur = () => document.activeElement.addEventListener('blur', schedule, { once: true });

  // What has the keyboard focus, so it can be found again after a swap.
  const focusKey = () => {
    const active = document.activeElement;
    if (!active || !view.contains(active)) return null;
    if (active.id) return `#${CSS.escape(active.id)}`;
    const href = active.getAttribute('href');
    if (href) return `${active.tagName.toLowerCase()}[href="${CSS.escape(href)}"]`;
    return null;
  };

  let timer = null;
  let busy = false;
  let again = false;
  let source = null;

  const refresh = async () => {
    if (busy) { again = true; return; }
    if (typing()) { waitForBlur(); return; }
    busy = true;
    try {
      const response = await fetch(location.pathname + location.search, {
        headers: { 'X-Weft-Fragment': '1' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (response.status === 401) { signedOut(); return; }
      if (!response.ok) return;
      const html = await response.text();
      // Typed while the fetch was out: keep the text, swap later.
      if (typing()) { waitForBlur(); return; }
      const key = focusKey();
      view.innerHTML = html;
      view.dataset.updated = String(Date.now());
      if (key) {
        const target = view.querySelector(key);
        if (target) target.focus({ preventScroll: true });
      }
      readClock();
      tick();
      if (source && source.readyState === EventSource.OPEN) setStatus('on', 'live');
    } catch (error) {
      setStatus('off', 'reconnecting');
    } finally {
      busy = false;
      if (again) { again = false; schedule(); }
    }
  };
  function schedule() {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; refresh(); }, 80);
  }

  // The session ended (a restart ends them all): say so, with the way back.
  function signedOut() {
    if (source) source.close();
    if (!status) return;
    status.dataset.state = 'off';
    status.textContent = '';
    const link = document.createElement('a');
    link.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    link.textContent = 'signed out: sign in again';
    status.appendChild(link);
  }

  // Events since the page was rendered are replayed first, so nothing
  // falls between the render and the stream.
  const since = view.dataset.since ? `?since=${encodeURIComponent(view.dataset.since)}` : '';
  let opened = false;
  source = new EventSource(`/api/v1/events${since}`);
  // `kind` listens to every event of that kind; `kind:type` only to those
  // whose data has that type (`operation:resolution`).
  for (const entry of kinds) {
    const [kind, type] = entry.split(':');
    source.addEventListener(kind, type === undefined ? schedule : (event) => {
      try {
        const data = JSON.parse(event.data).data;
        if (data && data.type === type) schedule();
      } catch (error) { schedule(); }
    });
  }
  source.addEventListener('lagged', schedule);
  source.onopen = () => {
    setStatus('on', 'live');
    // After a reconnect the view may be behind; and `services` and `model`
    // events are not replayed, so a view of them looks once the stream is open.
    if (opened || kinds.includes('services') || kinds.includes('model')) schedule();
    opened = true;
  };
  source.onerror = () => {
    // A refusal (401) closes the stream for good; anything else retries.
    if (source.readyState === EventSource.CLOSED) {
      fetch('/api/v1/events?since=0', { method: 'HEAD', credentials: 'same-origin' })
        .then((r) => (r.status === 401 ? signedOut() : setStatus('off', 'disconnected: reload the page')))
        .catch(() => setStatus('off', 'disconnected: reload the page'));
    } else {
      setStatus('off', 'reconnecting');
    }
  };
})();
