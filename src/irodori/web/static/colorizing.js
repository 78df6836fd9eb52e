// Colorizing: the debounced preview request, its retries, the result it shows, and the working size.

import { ServerError, colorize as requestColorize } from './backend.js';
import { LAYERS, claims, clamp, el, hideError, layer, setBusy, setStatus, showError, state } from './page.js';
import { drawBase, loadServerInfo } from './views.js';

// A stroke, an undo or a setting is one change, made when it ends: the preview is asked for at once (the next
// task, so that changes made in one event go as one request); a newer request aborts the one in flight.
export const PREVIEW_DELAY_MS = 0;
const RESOLUTIONS = [256, 384, 512, 640, 768, 1024, 1280, 1536, 2048];
const AUTO_MAX_RESOLUTION = 1024;  // the server's limit when it has not said
const DEFAULT_WORKING_SIZE = 512;  // irodori.config.WORKING_SIZE, until /api/model says
const RETRY_SECONDS = [2, 4, 8, 15, 30];

// ---------------------------------------------------------------------------
// Working size: the long side the model works at. Auto is the server's default (the CLI's too: one image
// for the same hints everywhere), within the server's limit.

function autoResolution() {
  const max = state.limits?.max_resolution ?? AUTO_MAX_RESOLUTION;
  return Math.min(state.model?.working_size ?? DEFAULT_WORKING_SIZE, max);
}

const workingSize = () => (state.resolution === 'auto' ? autoResolution() : Number(state.resolution));

export function renderResolutions() {
  const native = state.model?.native_size;
  const max = state.limits?.max_resolution ?? AUTO_MAX_RESOLUTION;
  const sizes = [...new Set([...RESOLUTIONS, native].filter((s) => s && s <= max))].sort((a, b) => a - b);
  const option = (value, text) => Object.assign(document.createElement('option'), { value: String(value), textContent: text });
  el.resolution.replaceChildren(
    option('auto', state.width ? `Auto · ${autoResolution()} px` : 'Auto'),
    ...sizes.map((s) => option(s, s === native ? `${s} px · model's own` : `${s} px`)));
  if (![...el.resolution.options].some((o) => o.value === state.resolution)) state.resolution = 'auto';
  el.resolution.value = state.resolution;
}

// ---------------------------------------------------------------------------
// Colorizing

export function schedulePreview(delay = PREVIEW_DELAY_MS) {
  clearTimeout(state.timer);
  clearTimeout(state.retryTimer);
  if (state.file) state.timer = setTimeout(colorize, delay);
}

// One request for what the page shows now. `layers`: also the layer PNGs and the ORA/PSD files (asked for
// when a layer is shown or a layer file downloaded). Resolves when the answer is on screen (or failed).
async function colorize({ layers = false } = {}) {
  if (!state.file) return;
  clearTimeout(state.timer);
  clearTimeout(state.retryTimer);
  state.request?.abort();
  const controller = new AbortController();
  state.request = controller;
  const revision = state.revision;
  const resolution = workingSize();
  layers ||= state.layer !== 'image';
  const note = state.note ? `${state.note} ` : '';
  state.note = '';
  setBusy(true);
  setStatus(`${note}Colorizing ${state.width}×${state.height} at ${resolution} px…`);
  try {
    const hints = await layer.toBlob();
    if (controller.signal.aborted) return;
    const answer = await requestColorize({ file: state.file, hints, resolution, signal: controller.signal,
      flats: el.hintsOnly.checked ? 'hints-only' : 'regions', shading: state.shading, maxGap: state.maxGap,
      claims: true, layers });
    if (controller !== state.request) return;
    await Promise.all([setResult({ ...answer, urls: {}, pixels: {}, revision, resolution }), claims.set(answer.claims)]);
    if (controller !== state.request) return;  // a newer request began while the images decoded
    state.retries = 0;
    setFailed(false);
    if (state.serverDown || !state.model) loadServerInfo();
    reportClaims(answer, note);
  } catch (err) {
    if (err.name === 'AbortError' || controller !== state.request) return;
    if (err instanceof ServerError && err.status === 503) {
      const wait = clamp(err.retryAfter || 2, 1, 60);
      failure(null, `The server is busy; trying again in ${wait} s.`);
      state.retryTimer = setTimeout(colorize, wait * 1000);
    } else if (err instanceof ServerError) {
      failure(err.message, `The last request failed (HTTP ${err.status}).`);
    } else {
      const wait = RETRY_SECONDS[Math.min(state.retries++, RETRY_SECONDS.length - 1)];
      failure(`Cannot reach the server (${err.message}): is \`irodori serve\` still running? Trying again in ${wait} s.`,
              `The server cannot be reached; trying again in ${wait} s.`);
      state.retryTimer = setTimeout(colorize, wait * 1000);
    }
  } finally {
    if (state.request === controller) { state.request = null; setBusy(false); }
  }
}

// The status bar and the hint counter say how many hints claimed nothing (they are ringed on the hints).
function reportClaims(answer, note = '') {
  const { count, unclaimed } = answer.claims;
  const px = layer.count();
  el.hintCount.textContent = px ? `${px.toLocaleString()} px hinted · ${count} hint${count === 1 ? '' : 's'}`
    + (unclaimed ? ` · ${unclaimed} claimed nothing` : '') : 'no hints yet: paint inside a region';
  el.hintCount.classList.toggle('warn', unclaimed > 0);
  const why = unclaimed ? ` ${unclaimed} of ${count} hints claimed no region (ringed in red): point at one to see why.` : '';
  setStatus(`${note}Colorized ${state.width}×${state.height} at ${answer.resolution} px in ${answer.seconds.toFixed(2)} s.${why}`);
}

// The layer files of what is shown now: fetched once per revision, when a layer is shown or downloaded.
export async function ensureLayers() {
  const r = state.result;
  if (r && r.ora && r.revision === state.revision) return true;
  await colorize({ layers: true });
  return !!(state.result?.ora && state.result.revision === state.revision);
}

// A request failed: say so in the banner (unless `banner` is null), on the result and in the status bar.
function failure(banner, note) {
  if (banner) showError(banner, true);
  setFailed(true, note);
  setStatus(`Not colorized: ${note}${state.result ? ' The result shown is out of date.' : ''}`);
}

export function setFailed(failed, note = '') {
  state.failed = failed;
  el.body.dataset.stale = failed ? '1' : '0';
  el.staleText.textContent = `${note} ${state.result ? 'This result is out of date.' : 'No result yet.'}`.trim();
  if (!failed && !el.errorRetry.hidden) hideError();
}

export function retry() {
  state.retries = 0;
  colorize();
}

export async function setResult(result) {
  const old = state.result;
  state.result = result;
  if (old) for (const url of Object.values(old.urls)) URL.revokeObjectURL(url);
  for (const b of Object.values(el.downloads)) b.disabled = !result;
  if (!result) {
    el.resultImage.removeAttribute('src');
    el.resultImage.dataset.revision = '-1';
    el.resultInfo.textContent = '';
    drawBase();
    return;
  }
  await showLayer();
  if (state.result !== result) return;
  el.resultImage.dataset.revision = String(result.revision);
  el.resultInfo.textContent = `${result.resolution} px · ${result.seconds.toFixed(2)} s`;
}

// Show the chosen layer of the result (in the result pane, and under the hints in the overlay view).
export async function showLayer() {
  const r = state.result;
  el.resultTitle.textContent = LAYERS[state.layer][0];
  el.resultImage.alt = LAYERS[state.layer][1];
  if (!r) return;
  if (!r[state.layer]) { ensureLayers(); return; }
  r.urls[state.layer] ??= URL.createObjectURL(r[state.layer]);
  el.resultImage.src = r.urls[state.layer];
  try { await el.resultImage.decode(); } catch { /* replaced by a newer one */ }
  drawBase();
}
