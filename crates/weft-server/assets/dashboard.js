// weft's dashboard: live updates without polling. The page is complete
// without this script; with it, the view listens on the server's event
// stream and, when an event it lists in data-live arrives, fetches itself
// again as a fragment and swaps it in. It also counts lease time down.
(() => {
  'use strict';
  const view = document.getElementById('view');
  const status = document.getElementById('live-status');

  const span = (ms) => {
    if (ms < 1000) return `${Math.max(0, Math.floor(ms))} ms`;
    if (ms < 120000) return `${Math.floor(ms / 1000)} s`;
    if (ms < 7200000) return `${Math.floor(ms / 60000)} min`;
    return `${Math.floor(ms / 3600000)} h`;
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-expires]')) {
      const left = Number(el.dataset.expires) - Date.now();
      el.textContent = left > 0 ? `${span(left)} left` : 'expired';
    }
  };
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

  let timer = null;
  let busy = false;
  let again = false;
  let source = null;

  const refresh = async () => {
    if (busy) { again = true; return; }
    if (typing()) {
      document.activeElement.addEventListener('blur', schedule, { once: true });
      return;
    }
    busy = true;
    try {
      const response = await fetch(location.pathname + location.search, {
        headers: { 'X-Weft-Fragment': '1' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (response.status === 401) {
        source.close();
        setStatus('off', 'signed out');
        return;
      }
      if (response.ok) {
        view.innerHTML = await response.text();
        view.dataset.updated = String(Date.now());
        tick();
      }
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

  // Events since the page was rendered are replayed first, so nothing
  // falls between the render and the stream.
  const since = view.dataset.since ? `?since=${encodeURIComponent(view.dataset.since)}` : '';
  let opened = false;
  source = new EventSource(`/api/v1/events${since}`);
  for (const kind of kinds) source.addEventListener(kind, schedule);
  source.addEventListener('lagged', schedule);
  source.onopen = () => {
    setStatus('on', 'live');
    // After a reconnect the view may be behind.
    if (opened) schedule();
    opened = true;
  };
  source.onerror = () => setStatus('off', 'reconnecting');
})();
