// Cross-origin isolation on a plain static host (loaded only by the site `irodori export-web` writes).
// Threaded WASM needs SharedArrayBuffer, which browsers allow only in cross-origin isolated pages: served with
// Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers. Hosts that read the site's `_headers`
// file send them; elsewhere the service worker coi-sw.js adds them to the site's own responses, and the page is
// reloaded once so that the worker serves it. Where neither works (no service workers, an insecure origin,
// `?threads=1`), the page stays as it is and ONNX Runtime runs on one thread.
(() => {
  const RELOADED = 'irodori.coi-reload';
  if (window.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator)) return;
  if (new URLSearchParams(location.search).get('threads') === '1') return;
  navigator.serviceWorker.register('coi-sw.js').then((registration) => {
    try {
      if (sessionStorage.getItem(RELOADED)) return;  // reloaded once already: isolation is refused here
      sessionStorage.setItem(RELOADED, '1');
    } catch { return; }
    const worker = registration.active ?? registration.installing ?? registration.waiting;
    if (worker?.state === 'activated') { location.reload(); return; }
    worker?.addEventListener('statechange', () => { if (worker.state === 'activated') location.reload(); });
  }, () => { /* no worker: one thread */ });
})();
