// irodori: paint color hints over a line art; the server colorizes it (POST api/colorize).
//
// The page keeps the line art and the hint layer (layer.js); a preview is requested PREVIEW_DELAY_MS after
// the last change (a stroke's end, an undo, a setting), and a newer request aborts the one in flight. A
// preview asks for the image and what each hint claimed (claims.js draws it); the layer PNGs and the ORA and
// PSD files are asked for only when a layer is shown or downloaded. A failed request leaves the last result on
// screen marked out of date, with a retry (automatic when the server is busy or unreachable), and the
// status bar says what happened. Modules: hints.js (hint data, the CLI's JSON), layer.js (strokes and
// undo), palette.js (recent colors), zoom.js (pinch and wheel zoom), radios.js (keyboard radio groups),
// markdown.js (the model card), claims.js (what each hint claimed), backend.js (the server's API, server.js,
// or the browser itself, local.js).

import { HintError, drawHints, hexToRgb, hintJsonText, hintPixelsFromImage, hintSquares, hintStats, parseHintJson,
  rgbToHex, roundHalfEven, MAX_HINTS } from './hints.js';
import { ClaimsView } from './claims.js';
import { HintLayer } from './layer.js';
import { Palette } from './palette.js';
import { checkRadio, radioGroup } from './radios.js';
import { ServerError, colorize as requestColorize, renderModel, serverInfo } from './backend.js';
import { StageZoom } from './zoom.js';

const PREVIEW_DELAY_MS = 100;  // a stroke is one change (at its end): no need to wait for more
const RESOLUTIONS = [256, 384, 512, 640, 768, 1024, 1280, 1536, 2048];
const AUTO_MAX_RESOLUTION = 1024;  // the server's limit when it has not said
const DEFAULT_WORKING_SIZE = 512;  // irodori.config.WORKING_SIZE, until /api/model says
const RETRY_SECONDS = [2, 4, 8, 15, 30];
const LAYERS = {
  image: ['Result', 'The colorized result'], flats: ['Flats', 'The flats: one color per region'],
  shading: ['Shading', "The shading layer: the model's light and shadow"], line: ['Lines', 'The line layer'],
};

const $ = (id) => document.getElementById(id);
const el = {
  body: document.body,
  openButton: $('open-button'), openEmpty: $('open-empty'), fileInput: $('file-input'), fileInfo: $('file-info'),
  busy: $('busy'), modelButton: $('model-button'), modelName: $('model-name'), modelStep: $('model-step'),
  error: $('error'), errorText: $('error-text'), errorClose: $('error-close'), errorRetry: $('error-retry'),
  sheetToggle: $('sheet-toggle'), toolGroup: document.querySelector('.tools'),
  viewGroup: document.querySelector('[data-testid="view"]'), layerGroup: document.querySelector('[data-testid="layer"]'),
  size: $('size'), sizeValue: $('size-value'), color: $('color'), colorValue: $('color-value'), palette: $('palette'),
  undo: $('undo'), redo: $('redo'), clear: $('clear'), showHints: $('show-hints'), hintsOnly: $('hints-only'),
  resolution: $('resolution'), saveHintsJson: $('save-hints-json'), downloadHints: $('download-hints'),
  loadHints: $('load-hints'), hintsInput: $('hints-input'),
  downloads: { image: $('download-result'), line: $('download-line'), flats: $('download-flat'),
    shading: $('download-shading'), ora: $('download-ora'), psd: $('download-psd') },
  workspace: $('workspace'), dropzone: $('dropzone'),
  editorPane: $('editor-pane'), editorBody: $('editor-body'), stage: $('stage'), zoomFit: $('zoom-fit'),
  base: $('base-canvas'), hint: $('hint-canvas'), cursor: $('brush-cursor'), hintCount: $('hint-count'),
  resultPane: $('result-pane'), resultBody: $('result-body'), resultFrame: $('result-frame'),
  resultImage: $('result-image'), resultInfo: $('result-info'), resultTitle: $('result-title'),
  staleText: $('stale-text'), staleRetry: $('stale-retry'),
  status: $('status'), modelDialog: $('model-dialog'), modelTitle: $('model-title'), modelFacts: $('model-facts'),
  modelCard: $('model-card'), claims: $('claims-canvas'), claimNote: $('claim-note'),
  shading: $('shading'), shadingValue: $('shading-value'), maxGap: $('max-gap'), maxGapValue: $('max-gap-value'),
  paneGroup: document.querySelector('[data-testid="pane-switch"]'),
};
const baseCtx = el.base.getContext('2d');
const layer = new HintLayer(el.hint, () => hintsChanged());
const claims = new ClaimsView(el.claims, el.claimNote);
const palette = new Palette(el.palette, (hex) => setColor(hex));

const state = {
  file: null, stem: 'lineart', width: 0, height: 0, lineBitmap: null,
  revision: 0,        // bumped on every change to what a request sends (hints and settings)
  tool: 'brush', returnTool: 'brush', size: 8, color: '#e8553f',
  stroke: null,       // {id, tool}: the pointer painting now
  view: 'side', layer: 'image', scale: 1,
  resolution: 'auto', // the Working size choice: 'auto' or a long side in px
  shading: 0, maxGap: null, // the Shading and Gap closing sliders (maxGap null: the server's default)
  pane: 'hints',      // on a phone, the one pane shown: 'hints' or 'result'
  result: null,       // the answer (Blobs) + {urls, pixels, revision, resolution}
  request: null, timer: 0, retryTimer: 0, retries: 0, failed: false,
  limits: null, model: null, serverDown: false,
};

// ---------------------------------------------------------------------------
// Small helpers

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const megabytes = (n) => `${(n / 2 ** 20).toFixed(1)} MB`;
const store = (key, value) => { try { localStorage.setItem(key, value); } catch { /* private mode */ } };
const stored = (key) => { try { return localStorage.getItem(key); } catch { return null; } };

function setStatus(text) { el.status.textContent = text; }

function showError(text, retry = false) {
  el.errorText.textContent = text;
  el.errorRetry.hidden = !retry;
  el.error.hidden = false;
}

function hideError() { el.error.hidden = true; }

function setBusy(busy) {
  el.body.dataset.busy = busy ? '1' : '0';
  el.busy.hidden = !busy;
  el.resultFrame.setAttribute('aria-busy', busy ? 'true' : 'false');
}

function saveBlob(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 30000);
}

// ---------------------------------------------------------------------------
// Opening a line art

async function openFile(file) {
  if (!file) return;
  hideError();
  if (file.type && !file.type.startsWith('image/')) {
    showError(`${file.name || 'That file'} is not an image (${file.type}).`);
    return;
  }
  if (state.limits && file.size > state.limits.max_upload_bytes) {
    showError(`${file.name || 'The image'} is ${megabytes(file.size)}, over the server's limit of ` +
              `${megabytes(state.limits.max_upload_bytes)}.`);
    return;
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    showError(`The browser cannot read ${file.name || 'this image'}; try a PNG or JPEG.`);
    return;
  }
  const { width, height } = bitmap;
  if (state.limits && width * height > state.limits.max_pixels) {
    showError(`${width}×${height} is ${(width * height / 1e6).toFixed(1)} MP, over the server's limit of ` +
              `${(state.limits.max_pixels / 1e6).toFixed(0)} MP.`);
    return;
  }
  state.request?.abort();
  clearTimeout(state.timer);
  clearTimeout(state.retryTimer);
  const name = file.name || 'pasted image';
  Object.assign(state, { file, width, height, stroke: null, stem: name.replace(/\.[^.]+$/, '') || 'lineart' });
  state.lineBitmap?.close?.();
  state.lineBitmap = bitmap;
  el.base.width = width;
  el.base.height = height;
  layer.reset(width, height);
  claims.reset(width, height);
  setMaxGap(null);
  setResult(null);
  setFailed(false);
  setSize(clamp(Math.round(Math.max(width, height) / 80), 3, 48));
  el.body.dataset.loaded = '1';
  el.dropzone.hidden = true;
  el.editorPane.hidden = false;
  el.resultPane.hidden = false;
  const bold = document.createElement('b');
  bold.textContent = name;
  el.fileInfo.replaceChildren(bold, ` · ${width}×${height}`);
  el.fileInfo.title = `${name}, ${width}×${height} px`;
  for (const b of [el.saveHintsJson, el.downloadHints, el.loadHints]) b.disabled = false;
  renderResolutions();
  drawBase();
  zoom.reset();
  fit();
  hintsChanged(0);
}

function drawBase() {
  if (!state.lineBitmap) return;
  const showResult = state.view === 'overlay' && state.result && el.resultImage.complete && el.resultImage.naturalWidth;
  baseCtx.clearRect(0, 0, state.width, state.height);
  baseCtx.drawImage(showResult ? el.resultImage : state.lineBitmap, 0, 0, state.width, state.height);
  el.base.setAttribute('aria-label', showResult ? `${LAYERS[state.layer][1]}, under the hints` : 'The line art');
}

// Both stages get the same on-screen size: the largest that fits every visible pane.
function fit() {
  if (!state.width) return;
  // (on a phone only one pane shows at a time: the hidden one has no size)
  const panes = (state.view === 'side' ? [el.editorBody, el.resultBody] : [el.editorBody]).filter((p) => p.clientWidth > 0);
  let scale = 8;
  for (const pane of panes) {
    const cs = getComputedStyle(pane);
    const w = pane.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const h = pane.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    scale = Math.min(scale, w / state.width, h / state.height);
  }
  state.scale = Math.max(scale, 0.01);
  for (const stage of [el.stage, el.resultFrame]) {
    stage.style.width = `${Math.max(1, Math.floor(state.width * state.scale))}px`;
    stage.style.height = `${Math.max(1, Math.floor(state.height * state.scale))}px`;
  }
  zoom.refit();
}

// ---------------------------------------------------------------------------
// Painting

function toImage(event, target = el.hint) {
  const r = target.getBoundingClientRect();
  return { x: (event.clientX - r.left) * state.width / r.width, y: (event.clientY - r.top) * state.height / r.height };
}

function startStroke(event) {
  if (!state.file || state.stroke || zoom.pinching || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();
  const p = toImage(event);
  const tool = event.altKey ? 'picker' : state.tool;
  if (tool === 'picker') { pickColor(p, 'hints'); return; }
  el.hint.setPointerCapture(event.pointerId);
  state.stroke = { id: event.pointerId, tool };
  if (tool !== 'eraser') claims.showRegionAt(p.x, p.y);
  layer.beginStroke(p, state.size, tool === 'eraser' ? [0, 0, 0, 0] : [...hexToRgb(state.color), 255]);
}

function moveStroke(event) {
  moveCursor(event);
  const s = state.stroke;
  if (!s) { hover(event); return; }
  if (event.pointerId !== s.id || s.tool === 'dot') return;
  const events = event.getCoalescedEvents?.() ?? [];
  layer.strokeTo((events.length ? events : [event]).map((e) => toImage(e)), state.size);
}

function endStroke(event) {
  const s = state.stroke;
  if (!s || event.pointerId !== s.id) return;
  state.stroke = null;
  if (layer.endStroke() && s.tool !== 'eraser') palette.remember(state.color);
}

// The pointer over the hints: outline what the hint under it claimed, or say why it claimed nothing.
function hover(event) {
  if (event.pointerType === 'touch' || !claims.labels) return;
  const p = toImage(event);
  claims.showHint(claims.hintAt(p.x, p.y, layer.data));
}

// A second finger came down: the first finger's stroke was the start of a pinch, not paint.
function cancelStroke() {
  state.stroke = null;
  layer.cancelStroke();
}

// Everything that follows a change of what a request sends: counters, buttons, and the debounced preview.
function hintsChanged(delay = PREVIEW_DELAY_MS) {
  state.revision++;
  el.hint.dataset.revision = String(state.revision);
  const n = layer.count();
  el.hintCount.textContent = n ? `${n.toLocaleString()} px hinted` : 'no hints yet: paint inside a region';
  el.hintCount.classList.remove('warn');
  el.undo.disabled = !layer.canUndo;
  el.redo.disabled = !layer.canRedo;
  el.clear.disabled = n === 0;
  schedulePreview(delay);
}

// ---------------------------------------------------------------------------
// Cursor, tools, size, colors

function updateCursorSize() {
  const d = Math.max(4 / zoom.zoom, state.size * state.scale);
  el.cursor.style.width = `${d}px`;
  el.cursor.style.height = `${d}px`;
  el.cursor.classList.toggle('eraser', state.tool === 'eraser');
}

function moveCursor(event) {
  if (state.tool === 'picker' || event.pointerType === 'touch') { el.cursor.hidden = true; return; }
  const r = el.stage.getBoundingClientRect();
  el.cursor.style.left = `${(event.clientX - r.left) / zoom.zoom}px`;
  el.cursor.style.top = `${(event.clientY - r.top) / zoom.zoom}px`;
  el.cursor.hidden = false;
}

function setTool(tool) {
  if (tool !== 'picker') state.returnTool = tool;
  state.tool = tool;
  el.body.dataset.tool = tool;
  checkRadio(el.toolGroup, (b) => b.dataset.tool === tool);
  updateCursorSize();
}

function setSize(size) {
  state.size = clamp(Math.round(size), 1, 96);
  el.size.value = String(state.size);
  el.sizeValue.textContent = `${state.size} px`;
  updateCursorSize();
}

function setColor(hex) {
  state.color = hex.toLowerCase();
  el.color.value = state.color;
  el.colorValue.textContent = state.color;
  palette.render(state.color);
}

async function layerPixels() {
  const r = state.result;
  if (!r || !el.resultImage.naturalWidth) return null;
  if (!r.pixels[state.layer]) {
    const ctx = new OffscreenCanvas(state.width, state.height).getContext('2d', { willReadFrequently: true });
    ctx.drawImage(el.resultImage, 0, 0, state.width, state.height);
    r.pixels[state.layer] = ctx.getImageData(0, 0, state.width, state.height);
  }
  return r.pixels[state.layer];
}

// The eyedropper: on the hint layer a hint's own color wins, otherwise the shown result layer's color there.
async function pickColor(p, where) {
  const x = Math.floor(p.x), y = Math.floor(p.y);
  if (x < 0 || y < 0 || x >= state.width || y >= state.height) return;
  const i = (y * state.width + x) * 4;
  let rgb = where === 'hints' && layer.data[i + 3] ? layer.data.subarray(i, i + 3) : null;
  if (!rgb) rgb = (await layerPixels())?.data.subarray(i, i + 3);
  if (!rgb) { setStatus('Nothing to pick there yet: no hint, and no result.'); return; }
  setColor(rgbToHex(rgb[0], rgb[1], rgb[2]));
  setStatus(`Picked ${state.color}.`);
  if (state.tool === 'picker') setTool(state.returnTool);
}

// ---------------------------------------------------------------------------
// Hint files: the CLI's --hints JSON, or an RGBA PNG

function saveHintsJson() {
  if (!state.file) return;
  const hints = hintSquares(layer.data, state.width, state.height);
  if (hints.length > MAX_HINTS) {
    showError(`These hints make ${hints.length.toLocaleString()} squares, over the JSON limit of ` +
              `${MAX_HINTS.toLocaleString()}; save them as PNG instead (irodori colorize --hints reads both).`);
    return;
  }
  saveBlob(new Blob([hintJsonText(hints)], { type: 'application/json' }), `${state.stem}.hints.json`);
  setStatus(`Saved ${hints.length} hint${hints.length === 1 ? '' : 's'} as ${state.stem}.hints.json.`);
}

async function loadHintFile(file) {
  if (!file || !state.file) return;
  let pixels;
  try {
    if (file.type === 'image/png' || /\.png$/i.test(file.name)) {
      pixels = await hintPixelsFromImage(file, state.width, state.height);
    } else {
      pixels = new Uint8ClampedArray(state.width * state.height * 4);
      drawHints(pixels, state.width, state.height, parseHintJson(await file.text(), state.height, state.width, file.name));
    }
  } catch (err) {
    showError(err instanceof HintError ? err.message : `${file.name}: cannot read it (${err.message})`);
    return;
  }
  hideError();
  layer.replace(pixels);
  const { pixels: n, colors } = hintStats(pixels);
  if (colors.length) palette.remember(...colors);
  setStatus(`Loaded ${n.toLocaleString()} hinted pixels from ${file.name}; Undo brings the previous hints back.`);
}

// ---------------------------------------------------------------------------
// Working size: the long side the model works at. Auto is the server's default (the CLI's too: one image
// for the same hints everywhere), within the server's limit.

function autoResolution() {
  const max = state.limits?.max_resolution ?? AUTO_MAX_RESOLUTION;
  return Math.min(state.model?.working_size ?? DEFAULT_WORKING_SIZE, max);
}

const workingSize = () => (state.resolution === 'auto' ? autoResolution() : Number(state.resolution));

function renderResolutions() {
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

function schedulePreview(delay = PREVIEW_DELAY_MS) {
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
  setBusy(true);
  setStatus(`Colorizing ${state.width}×${state.height} at ${resolution} px…`);
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
    reportClaims(answer);
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
function reportClaims(answer) {
  const { count, unclaimed } = answer.claims;
  const px = layer.count();
  el.hintCount.textContent = px ? `${px.toLocaleString()} px hinted · ${count} hint${count === 1 ? '' : 's'}`
    + (unclaimed ? ` · ${unclaimed} claimed nothing` : '') : 'no hints yet: paint inside a region';
  el.hintCount.classList.toggle('warn', unclaimed > 0);
  const why = unclaimed ? ` ${unclaimed} of ${count} hints claimed no region (ringed in red): point at one to see why.` : '';
  setStatus(`Colorized ${state.width}×${state.height} at ${answer.resolution} px in ${answer.seconds.toFixed(2)} s.${why}`);
}

// The layer files of what is shown now: fetched once per revision, when a layer is shown or downloaded.
async function ensureLayers() {
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

function setFailed(failed, note = '') {
  state.failed = failed;
  el.body.dataset.stale = failed ? '1' : '0';
  el.staleText.textContent = `${note} ${state.result ? 'This result is out of date.' : 'No result yet.'}`.trim();
  if (!failed && !el.errorRetry.hidden) hideError();
}

function retry() {
  state.retries = 0;
  colorize();
}

async function setResult(result) {
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
async function showLayer() {
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

// ---------------------------------------------------------------------------
// Views, downloads, the server and its model

function setView(view) {
  state.view = view;
  el.body.dataset.view = view;
  checkRadio(el.viewGroup, (b) => b.dataset.view === view);
  drawBase();
  fit();
}

function setLayer(name) {
  state.layer = name;
  el.body.dataset.layer = name;
  checkRadio(el.layerGroup, (b) => b.dataset.layer === name);
  showLayer();
}

function setHintsVisible(visible) {
  el.showHints.checked = visible;
  el.body.dataset.hints = visible ? 'shown' : 'hidden';
}

// Shading: how much of the model's light and shadow shows over a hint's color (the CLI's --shading).
function setShading(value) {
  state.shading = clamp(Math.round(Number(value) * 20) / 20, 0, 1);
  el.shading.value = String(state.shading);
  el.shadingValue.textContent = `${Math.round(state.shading * 100)}%`;
}

// Gap closing: the widest gap in a line that still closes a region (the CLI's --max-gap); null: the default,
// which scales with the image as the server's does (irodori.colorize.regions.default_max_gap).
function setMaxGap(value) {
  const auto = clamp(roundHalfEven(Math.max(state.width, state.height) / 64), 3, 12);
  state.maxGap = value === null ? null : clamp(Math.round(Number(value)), 0, 32);
  el.maxGap.value = String(state.maxGap ?? auto);
  el.maxGapValue.textContent = state.maxGap === null ? `auto · ${auto} px` : `${state.maxGap} px`;
}

// On a phone the canvas gets the whole screen: one pane at a time, switched with one tap.
function setPane(pane) {
  state.pane = pane;
  el.body.dataset.pane = pane;
  checkRadio(el.paneGroup, (b) => b.dataset.pane === pane);
  fit();
}

function setSheet(open) {
  el.body.classList.toggle('sheet-open', open);
  el.sheetToggle.setAttribute('aria-expanded', String(open));
}

async function download(kind) {
  if (!state.file) return;
  if (kind === 'hints') { saveBlob(await layer.toBlob(), `${state.stem}.hints.png`); return; }
  const names = { image: 'colored.png', line: 'line.png', flats: 'flats.png', shading: 'shading.png', ora: 'ora', psd: 'psd' };
  if (kind !== 'image' && !(await ensureLayers())) return;
  if (state.result?.[kind]) saveBlob(state.result[kind], `${state.stem}.${names[kind]}`);
}

async function loadServerInfo() {
  try {
    const { limits, model } = await serverInfo();
    state.limits = limits ?? state.limits;
    state.model = model ?? state.model;
    const step = state.model?.meta?.step;
    if (state.model) el.modelName.textContent = state.model.name;
    el.modelStep.textContent = step !== undefined ? ` · step ${step}` : '';
    if (state.serverDown) {
      state.serverDown = false;
      if (!state.failed) hideError();
      if (!state.file) setStatus('The server is back. Open a line art to begin.');
    }
    renderResolutions();
  } catch {
    state.serverDown = true;
    showError('Cannot reach the server: is `irodori serve` running? Trying again every 5 s.');
    if (!state.file) setStatus('The server cannot be reached.');
    setTimeout(loadServerInfo, 5000);
  }
}

function showModel() {
  if (!state.model) return;
  renderModel(state.model, { title: el.modelTitle, facts: el.modelFacts, card: el.modelCard });
  el.modelDialog.showModal();
}

// ---------------------------------------------------------------------------
// Wiring

function isTyping(target) {
  return target instanceof HTMLInputElement && !['range', 'checkbox', 'color', 'file', 'button'].includes(target.type)
    || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

function onKey(event) {
  if (event.key === 'Escape' && el.body.classList.contains('sheet-open')) { setSheet(false); el.sheetToggle.focus(); return; }
  if (isTyping(event.target) || el.modelDialog.open) return;
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (mod && key === 'z') { event.preventDefault(); event.shiftKey ? layer.redo() : layer.undo(); return; }
  if (mod && key === 'y') { event.preventDefault(); layer.redo(); return; }
  if (mod && key === 's') { event.preventDefault(); download('image'); return; }
  if (mod && key === 'o') { event.preventDefault(); el.fileInput.click(); return; }
  if (mod || event.altKey) return;
  const step = Math.max(1, Math.round(state.size * 0.15));
  const actions = {
    '[': () => setSize(state.size - step), ']': () => setSize(state.size + step),
    d: () => setTool('dot'), b: () => setTool('brush'), e: () => setTool('eraser'), i: () => setTool('picker'),
    v: () => setView(state.view === 'side' ? 'overlay' : 'side'), h: () => setHintsVisible(!el.showHints.checked),
    1: () => setLayer('image'), 2: () => setLayer('flats'), 3: () => setLayer('shading'), 4: () => setLayer('line'),
    '+': () => zoom.zoomBy(1.25), '=': () => zoom.zoomBy(1.25), '-': () => zoom.zoomBy(0.8), 0: () => zoom.reset(),
  };
  const action = actions[event.key] ?? actions[key];
  if (action) { event.preventDefault(); action(); }
}

function firstImage(items) {
  for (const item of items ?? []) {
    if (item.kind === 'file' && item.type.startsWith('image/')) return item.getAsFile();
  }
  return null;
}

const zoom = new StageZoom(
  [{ surface: el.editorBody, stage: el.stage }, { surface: el.resultBody, stage: el.resultFrame }],
  {
    enabled: () => !!state.file,
    onPinch: cancelStroke,
    onChange: (z) => {
      el.zoomFit.hidden = z === 1;
      el.zoomFit.textContent = `${Math.round(z * 100)}% · Fit`;
      for (const stage of [el.stage, el.resultFrame]) stage.classList.toggle('pixelated', state.scale * z >= 2);
      updateCursorSize();
    },
  });

function wire() {
  const pickFile = () => el.fileInput.click();
  el.openButton.addEventListener('click', pickFile);
  el.openEmpty.addEventListener('click', pickFile);
  el.fileInput.addEventListener('change', () => { openFile(el.fileInput.files[0]); el.fileInput.value = ''; });
  el.errorClose.addEventListener('click', hideError);
  el.errorRetry.addEventListener('click', retry);
  el.staleRetry.addEventListener('click', retry);

  el.hint.addEventListener('pointerdown', startStroke);
  el.hint.addEventListener('pointermove', moveStroke);
  el.hint.addEventListener('pointerup', endStroke);
  el.hint.addEventListener('lostpointercapture', endStroke);  // the stroke ends even if its pointerup goes astray
  el.hint.addEventListener('pointercancel', (e) => { if (state.stroke?.id === e.pointerId) cancelStroke(); });
  el.hint.addEventListener('pointerleave', () => { el.cursor.hidden = true; });
  el.hint.addEventListener('contextmenu', (e) => e.preventDefault());
  el.resultImage.addEventListener('pointerdown', (e) => {
    if ((state.tool !== 'picker' && !e.altKey) || zoom.pinching) return;
    e.preventDefault();
    pickColor(toImage(e, el.resultImage), 'result');
  });
  el.zoomFit.addEventListener('click', () => zoom.reset());

  radioGroup(el.toolGroup, (b) => setTool(b.dataset.tool));
  radioGroup(el.viewGroup, (b) => setView(b.dataset.view));
  radioGroup(el.layerGroup, (b) => setLayer(b.dataset.layer));
  radioGroup(el.paneGroup, (b) => setPane(b.dataset.pane));
  el.shading.addEventListener('change', () => { setShading(el.shading.value); hintsChanged(0); });
  el.shading.addEventListener('input', () => setShading(el.shading.value));
  el.maxGap.addEventListener('change', () => { setMaxGap(el.maxGap.value); hintsChanged(0); });
  el.maxGap.addEventListener('input', () => setMaxGap(el.maxGap.value));
  el.hint.addEventListener('pointerleave', () => claims.clearHighlight());
  el.sheetToggle.addEventListener('click', () => setSheet(!el.body.classList.contains('sheet-open')));
  el.size.addEventListener('input', () => setSize(Number(el.size.value)));
  el.color.addEventListener('input', () => setColor(el.color.value));
  el.undo.addEventListener('click', () => layer.undo());
  el.redo.addEventListener('click', () => layer.redo());
  el.clear.addEventListener('click', () => layer.clear());
  el.showHints.addEventListener('change', () => setHintsVisible(el.showHints.checked));
  el.hintsOnly.addEventListener('change', () => hintsChanged(0));
  el.resolution.addEventListener('change', () => {
    state.resolution = el.resolution.value;
    store('irodori.resolution', state.resolution);
    hintsChanged(0);
  });
  for (const [kind, button] of Object.entries(el.downloads)) button.addEventListener('click', () => download(kind));
  el.downloadHints.addEventListener('click', () => download('hints'));
  el.saveHintsJson.addEventListener('click', saveHintsJson);
  el.loadHints.addEventListener('click', () => el.hintsInput.click());
  el.hintsInput.addEventListener('change', () => { loadHintFile(el.hintsInput.files[0]); el.hintsInput.value = ''; });
  el.modelButton.addEventListener('click', showModel);
  document.addEventListener('keydown', onKey);

  // Drag and drop anywhere; paste from the clipboard.
  let depth = 0;
  window.addEventListener('dragenter', (e) => { if (e.dataTransfer?.types.includes('Files')) { depth++; el.body.classList.add('dragging'); } });
  window.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) el.body.classList.remove('dragging'); });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    el.body.classList.remove('dragging');
    const files = [...(e.dataTransfer?.files ?? [])];
    const file = files.find((f) => f.type.startsWith('image/')) ?? files[0];
    if (!file) return;
    if (state.file && /\.json$/i.test(file.name)) loadHintFile(file);  // a hint file dropped on an open drawing
    else openFile(file);
  });
  window.addEventListener('paste', (e) => {
    if (isTyping(e.target)) return;
    const file = firstImage(e.clipboardData?.items);
    if (file) { e.preventDefault(); openFile(file); }
  });
  new ResizeObserver(() => fit()).observe(el.workspace);
}

function init() {
  state.resolution = stored('irodori.resolution') || 'auto';
  setTool('brush');
  setSize(8);
  setColor(palette.recent[0] ?? state.color);
  setView('side');
  setLayer('image');
  setHintsVisible(true);
  setShading(0);
  setMaxGap(null);
  setPane('hints');
  setBusy(false);
  setSheet(false);
  renderResolutions();
  wire();
  loadServerInfo();
}

init();
