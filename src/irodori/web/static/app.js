// irodori: paint color hints over a line art; the server colorizes it (POST api/colorize).
//
// The hint layer is an ImageData at the line art's own size, painted with hard-edged discs (alpha is
// 0 or 255, so the PNG sent to the server carries exact colors). Undo/redo store only the rectangle a
// change touched, before and after. A preview is requested 400 ms after the last change; a newer
// request aborts the one in flight.

const PREVIEW_DELAY_MS = 400;
const UNDO_BYTES = 256 * 2 ** 20;
const RECENT_MAX = 12;
const DEFAULT_COLORS = ['#e8553f', '#f2b33d', '#ffe3c9', '#4bb07a', '#3f7fe0', '#8a5be0',
                        '#f28cb1', '#7a4a2e', '#2b2b33', '#9fd3f5', '#c9e36b', '#ffffff'];

const $ = (id) => document.getElementById(id);
const el = {
  body: document.body,
  openButton: $('open-button'), openEmpty: $('open-empty'), fileInput: $('file-input'), fileInfo: $('file-info'),
  busy: $('busy'), busyText: $('busy-text'), modelButton: $('model-button'), modelName: $('model-name'),
  error: $('error'), errorText: $('error-text'), errorClose: $('error-close'),
  size: $('size'), sizeValue: $('size-value'), color: $('color'), colorValue: $('color-value'), palette: $('palette'),
  undo: $('undo'), redo: $('redo'), clear: $('clear'), showHints: $('show-hints'), resolution: $('resolution'),
  downloadResult: $('download-result'), downloadLine: $('download-line'), downloadFlat: $('download-flat'),
  downloadShading: $('download-shading'), downloadOra: $('download-ora'), downloadPsd: $('download-psd'),
  hintsOnly: $('hints-only'),
  downloadHints: $('download-hints'),
  workspace: $('workspace'), dropzone: $('dropzone'),
  editorPane: $('editor-pane'), editorBody: $('editor-body'), stage: $('stage'),
  base: $('base-canvas'), hint: $('hint-canvas'), cursor: $('brush-cursor'), hintCount: $('hint-count'),
  resultPane: $('result-pane'), resultBody: $('result-body'), resultFrame: $('result-frame'),
  resultImage: $('result-image'), resultInfo: $('result-info'),
  status: $('status'), modelDialog: $('model-dialog'), modelTitle: $('model-title'), modelFacts: $('model-facts'),
  modelCard: $('model-card'),
};
const baseCtx = el.base.getContext('2d');
const hintCtx = el.hint.getContext('2d', { willReadFrequently: true });

const state = {
  file: null, stem: 'lineart', width: 0, height: 0,
  lineBitmap: null,
  hints: null,        // ImageData, what is on screen
  committed: null,    // Uint8ClampedArray, the hints as of the last undo step
  revision: 0,        // bumped on every change to the hints
  tool: 'brush', returnTool: 'brush', size: 8, color: '#e8553f',
  recent: [], undo: [], redo: [], undoBytes: 0,
  stroke: null, dirty: null,
  view: 'side', scale: 1,
  result: null,       // {image, line, flat: Blob, url, bitmap, revision, seconds}
  request: null, timer: 0, retryTimer: 0,
  limits: null, model: null,
};

// ---------------------------------------------------------------------------
// Small helpers

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const hexToRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const rgbToHex = (r, g, b) => '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
const megabytes = (n) => `${(n / 2 ** 20).toFixed(1)} MB`;

function setStatus(text) { el.status.textContent = text; }

function showError(text) {
  el.errorText.textContent = text;
  el.error.hidden = false;
}

function hideError() { el.error.hidden = true; }

function setBusy(busy, text = 'Colorizing…') {
  el.body.dataset.busy = busy ? '1' : '0';
  el.busy.hidden = !busy;
  el.busyText.textContent = text;
  el.resultFrame.setAttribute('aria-busy', busy ? 'true' : 'false');
}

function base64ToBlob(b64, type = 'image/png') {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
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

const hintBlob = () => new Promise((resolve) => el.hint.toBlob(resolve, 'image/png'));

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
  state.file = file;
  state.stem = (file.name || 'pasted').replace(/\.[^.]+$/, '') || 'lineart';
  state.width = width;
  state.height = height;
  state.lineBitmap?.close?.();
  state.lineBitmap = bitmap;
  for (const canvas of [el.base, el.hint]) { canvas.width = width; canvas.height = height; }
  state.hints = new ImageData(width, height);
  state.committed = new Uint8ClampedArray(width * height * 4);
  hintCtx.putImageData(state.hints, 0, 0);
  state.undo = []; state.redo = []; state.undoBytes = 0;
  setResult(null);
  setSize(clamp(Math.round(Math.max(width, height) / 80), 3, 48));
  el.body.dataset.loaded = '1';
  el.dropzone.hidden = true;
  el.editorPane.hidden = false;
  el.resultPane.hidden = false;
  el.fileInfo.replaceChildren();
  const name = document.createElement('b');
  name.textContent = file.name || 'pasted image';
  el.fileInfo.append(name, ` · ${width}×${height}`);
  drawBase();
  fit();
  hintsChanged(0);
}

function drawBase() {
  if (!state.lineBitmap) return;
  const showResult = state.view === 'overlay' && state.result?.bitmap;
  baseCtx.clearRect(0, 0, state.width, state.height);
  baseCtx.drawImage(showResult ? state.result.bitmap : state.lineBitmap, 0, 0, state.width, state.height);
}

// Both stages get the same on-screen size: the largest that fits every visible pane.
function fit() {
  if (!state.width) return;
  const panes = state.view === 'side' ? [el.editorBody, el.resultBody] : [el.editorBody];
  let scale = 8;
  for (const pane of panes) {
    const cs = getComputedStyle(pane);
    const w = pane.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const h = pane.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    scale = Math.min(scale, w / state.width, h / state.height);
  }
  scale = Math.max(scale, 0.01);
  state.scale = scale;
  for (const stage of [el.stage, el.resultFrame]) {
    stage.style.width = `${Math.max(1, Math.floor(state.width * scale))}px`;
    stage.style.height = `${Math.max(1, Math.floor(state.height * scale))}px`;
    stage.classList.toggle('pixelated', scale >= 2);
  }
  updateCursorSize();
}

// ---------------------------------------------------------------------------
// Painting

function toImage(event) {
  const r = el.hint.getBoundingClientRect();
  return { x: (event.clientX - r.left) * state.width / r.width, y: (event.clientY - r.top) * state.height / r.height };
}

function markDirty(x0, y0, x1, y1) {
  const d = state.dirty;
  state.dirty = d ? { x0: Math.min(d.x0, x0), y0: Math.min(d.y0, y0), x1: Math.max(d.x1, x1), y1: Math.max(d.y1, y1) }
    : { x0, y0, x1, y1 };
  const s = state.stroke;
  if (s) s.box = s.box ? { x0: Math.min(s.box.x0, x0), y0: Math.min(s.box.y0, y0), x1: Math.max(s.box.x1, x1), y1: Math.max(s.box.y1, y1) }
    : { x0, y0, x1, y1 };
}

// A hard-edged disc of diameter `size` centred on (cx, cy): every pixel whose centre lies inside it.
function stamp(cx, cy, rgba) {
  const { width: W, height: H } = state;
  const data = state.hints.data;
  const r = state.size / 2;
  const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(W - 1, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(H - 1, Math.ceil(cy + r));
  let hit = false;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > r * r) continue;
      data.set(rgba, (y * W + x) * 4);
      hit = true;
    }
  }
  if (hit) { markDirty(x0, y0, x1, y1); return; }
  const x = Math.floor(cx), y = Math.floor(cy);  // a disc smaller than a pixel still marks the pixel it is in
  if (x >= 0 && y >= 0 && x < W && y < H) { data.set(rgba, (y * W + x) * 4); markDirty(x, y, x, y); }
}

function stampLine(a, b, rgba) {
  const dist = Math.hypot(b.x - a.x, b.y - a.y);
  const steps = Math.max(1, Math.ceil(dist / Math.max(0.5, state.size / 4)));
  for (let i = 1; i <= steps; i++) stamp(a.x + (b.x - a.x) * i / steps, a.y + (b.y - a.y) * i / steps, rgba);
}

function flush() {
  const d = state.dirty;
  if (!d) return;
  hintCtx.putImageData(state.hints, 0, 0, d.x0, d.y0, d.x1 - d.x0 + 1, d.y1 - d.y0 + 1);
  state.dirty = null;
}

function copyRect(src, rect, dst = null) {
  const { x, y, w, h } = rect;
  const W = state.width;
  const out = dst ?? new Uint8ClampedArray(w * h * 4);
  for (let row = 0; row < h; row++) out.set(src.subarray(((y + row) * W + x) * 4, ((y + row) * W + x + w) * 4), row * w * 4);
  return out;
}

function pasteRect(dst, rect, pixels) {
  const { x, y, w, h } = rect;
  for (let row = 0; row < h; row++) dst.set(pixels.subarray(row * w * 4, (row + 1) * w * 4), ((y + row) * state.width + x) * 4);
}

const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

// Close an undo step over `rect` (the pixels may have changed there since the last step).
function commit(rect) {
  const before = copyRect(state.committed, rect);
  const after = copyRect(state.hints.data, rect);
  if (sameBytes(before, after)) return false;
  pasteRect(state.committed, rect, after);
  state.undo.push({ rect, before, after });
  state.undoBytes += before.length * 2;
  while (state.undoBytes > UNDO_BYTES && state.undo.length > 1) {
    const old = state.undo.shift();
    state.undoBytes -= old.before.length * 2;
  }
  state.redo = [];
  hintsChanged();
  return true;
}

function applyStep(step, pixels) {
  pasteRect(state.hints.data, step.rect, pixels);
  pasteRect(state.committed, step.rect, pixels);
  const { x, y, w, h } = step.rect;
  hintCtx.putImageData(state.hints, 0, 0, x, y, w, h);
  hintsChanged();
}

function undo() {
  if (state.stroke || !state.undo.length) return;
  const step = state.undo.pop();
  state.undoBytes -= step.before.length * 2;
  state.redo.push(step);
  applyStep(step, step.before);
}

function redo() {
  if (state.stroke || !state.redo.length) return;
  const step = state.redo.pop();
  state.undo.push(step);
  state.undoBytes += step.before.length * 2;
  applyStep(step, step.after);
}

function clearHints() {
  if (!state.hints || state.stroke) return;
  state.hints.data.fill(0);
  hintCtx.putImageData(state.hints, 0, 0);
  commit({ x: 0, y: 0, w: state.width, h: state.height });
}

function hintedPixels() {
  const data = state.hints.data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i]) n++;
  return n;
}

// Everything that follows a change of the hint layer: counters, buttons, and the debounced preview.
function hintsChanged(delay = PREVIEW_DELAY_MS) {
  state.revision++;
  el.hint.dataset.revision = String(state.revision);
  const n = hintedPixels();
  el.hintCount.textContent = n ? `${n.toLocaleString()} px hinted` : 'no hints yet: paint inside a region';
  el.undo.disabled = !state.undo.length;
  el.redo.disabled = !state.redo.length;
  el.clear.disabled = n === 0;
  el.downloadHints.disabled = !state.file;
  schedulePreview(delay);
}

function startStroke(event) {
  if (!state.hints || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();
  const p = toImage(event);
  const tool = event.altKey ? 'picker' : state.tool;
  if (tool === 'picker') { pickColor(p, 'hints'); return; }
  el.hint.setPointerCapture(event.pointerId);
  const rgba = tool === 'eraser' ? [0, 0, 0, 0] : [...hexToRgb(state.color), 255];
  state.stroke = { id: event.pointerId, tool, rgba, last: p, box: null };
  stamp(p.x, p.y, rgba);
  flush();
}

function moveStroke(event) {
  moveCursor(event);
  const s = state.stroke;
  if (!s || event.pointerId !== s.id || s.tool === 'dot') return;
  const events = event.getCoalescedEvents?.() ?? [event];
  for (const e of events.length ? events : [event]) {
    const p = toImage(e);
    stampLine(s.last, p, s.rgba);
    s.last = p;
  }
  flush();
}

function endStroke(event) {
  const s = state.stroke;
  if (!s || event.pointerId !== s.id) return;
  state.stroke = null;
  flush();
  if (!s.box) return;
  const rect = { x: s.box.x0, y: s.box.y0, w: s.box.x1 - s.box.x0 + 1, h: s.box.y1 - s.box.y0 + 1 };
  if (commit(rect) && s.tool !== 'eraser') rememberColor(state.color);
}

// ---------------------------------------------------------------------------
// Cursor, tools, size, colors

function updateCursorSize() {
  const d = Math.max(4, state.size * state.scale);
  el.cursor.style.width = `${d}px`;
  el.cursor.style.height = `${d}px`;
  el.cursor.classList.toggle('eraser', state.tool === 'eraser');
}

function moveCursor(event) {
  if (state.tool === 'picker' || event.pointerType === 'touch') { el.cursor.hidden = true; return; }
  const r = el.stage.getBoundingClientRect();
  el.cursor.style.left = `${event.clientX - r.left}px`;
  el.cursor.style.top = `${event.clientY - r.top}px`;
  el.cursor.hidden = false;
}

function setTool(tool) {
  if (tool !== 'picker') state.returnTool = tool;
  state.tool = tool;
  el.body.dataset.tool = tool;
  for (const b of document.querySelectorAll('.tool')) b.setAttribute('aria-checked', String(b.dataset.tool === tool));
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
  renderPalette();
}

function rememberColor(hex) {
  state.recent = [hex, ...state.recent.filter((c) => c !== hex)].slice(0, RECENT_MAX);
  try { localStorage.setItem('irodori.recent', JSON.stringify(state.recent)); } catch { /* private mode */ }
  renderPalette();
}

function renderPalette() {
  const colors = [...state.recent, ...DEFAULT_COLORS.filter((c) => !state.recent.includes(c))].slice(0, RECENT_MAX);
  el.palette.replaceChildren(...colors.map((c) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.color = c;
    b.title = state.recent.includes(c) ? `${c} (recent)` : c;
    b.setAttribute('aria-label', `Color ${c}`);
    b.setAttribute('aria-pressed', String(c === state.color));
    b.style.background = c;
    return b;
  }));
}

async function resultPixels() {
  const r = state.result;
  if (!r?.bitmap) return null;
  if (!r.pixels) {
    const c = document.createElement('canvas');
    c.width = state.width; c.height = state.height;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(r.bitmap, 0, 0);
    r.pixels = ctx.getImageData(0, 0, state.width, state.height);
  }
  return r.pixels;
}

// The eyedropper: on the hint layer a hint's own color wins, otherwise the result's color there.
async function pickColor(p, where) {
  const x = Math.floor(p.x), y = Math.floor(p.y);
  if (x < 0 || y < 0 || x >= state.width || y >= state.height) return;
  const i = (y * state.width + x) * 4;
  let rgb = null;
  if (where === 'hints' && state.hints.data[i + 3]) rgb = state.hints.data.subarray(i, i + 3);
  if (!rgb) {
    const px = await resultPixels();
    if (px) rgb = px.data.subarray(i, i + 3);
  }
  if (!rgb) { setStatus('Nothing to pick there yet: no hint, and no result.'); return; }
  setColor(rgbToHex(rgb[0], rgb[1], rgb[2]));
  setStatus(`Picked ${state.color}.`);
  if (state.tool === 'picker') setTool(state.returnTool);
}

// ---------------------------------------------------------------------------
// Colorizing

function schedulePreview(delay = PREVIEW_DELAY_MS) {
  clearTimeout(state.timer);
  clearTimeout(state.retryTimer);
  if (!state.file) return;
  state.timer = setTimeout(colorize, delay);
}

async function colorize() {
  if (!state.file) return;
  state.request?.abort();
  const controller = new AbortController();
  state.request = controller;
  const revision = state.revision;
  setBusy(true);
  try {
    const body = new FormData();
    body.append('lineart', state.file, state.file.name || 'lineart.png');
    body.append('hints', await hintBlob(), 'hints.png');
    body.append('layers', '1');
    body.append('flats', el.hintsOnly.checked ? 'hints-only' : 'regions');
    if (el.resolution.value) body.append('resolution', el.resolution.value);
    if (controller.signal.aborted) return;
    const response = await fetch('api/colorize', { method: 'POST', body, signal: controller.signal });
    if (!response.ok) { await failed(response); return; }
    const data = await response.json();
    const result = {
      image: base64ToBlob(data.image), line: base64ToBlob(data.line), flats: base64ToBlob(data.flats),
      shading: base64ToBlob(data.shading), ora: base64ToBlob(data.ora, 'image/openraster'),
      psd: base64ToBlob(data.psd, 'image/vnd.adobe.photoshop'),
      revision, seconds: data.seconds,
    };
    result.bitmap = await createImageBitmap(result.image);
    if (controller !== state.request) return;
    await setResult(result);
    hideError();
    setStatus(`Colorized ${data.width}×${data.height} in ${data.seconds.toFixed(2)} s.`);
  } catch (err) {
    if (err.name === 'AbortError') return;
    showError(`Could not reach the server (${err.message}). Is \`irodori serve\` still running?`);
  } finally {
    if (state.request === controller) { state.request = null; setBusy(false); }
  }
}

async function failed(response) {
  let detail = '';
  try {
    const data = await response.json();
    detail = typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail);
  } catch { detail = response.statusText; }
  if (response.status === 503) {
    const wait = clamp(parseInt(response.headers.get('Retry-After') || '2', 10) || 2, 1, 60);
    setStatus(`The server is busy; trying again in ${wait} s.`);
    state.retryTimer = setTimeout(colorize, wait * 1000);
    return;
  }
  showError(`${detail} (HTTP ${response.status})`);
  setStatus('The last request failed.');
}

async function setResult(result) {
  const old = state.result;
  state.result = result;
  if (old) { URL.revokeObjectURL(old.url); old.bitmap?.close?.(); }
  const ready = !!result;
  for (const b of [el.downloadResult, el.downloadLine, el.downloadFlat, el.downloadShading, el.downloadOra,
                   el.downloadPsd]) b.disabled = !ready;
  if (!result) {
    el.resultImage.removeAttribute('src');
    el.resultImage.dataset.revision = '-1';
    el.resultInfo.textContent = '';
    drawBase();
    return;
  }
  result.url = URL.createObjectURL(result.image);
  el.resultImage.src = result.url;
  try { await el.resultImage.decode(); } catch { /* replaced by a newer result */ }
  el.resultImage.dataset.revision = String(result.revision);
  el.resultInfo.textContent = `${result.seconds.toFixed(2)} s`;
  drawBase();
}

// ---------------------------------------------------------------------------
// Views, downloads, model card

function setView(view) {
  state.view = view;
  el.body.dataset.view = view;
  for (const b of document.querySelectorAll('.segmented button')) b.setAttribute('aria-checked', String(b.dataset.view === view));
  drawBase();
  fit();
}

function setHintsVisible(visible) {
  el.showHints.checked = visible;
  el.body.dataset.hints = visible ? 'shown' : 'hidden';
}

async function download(kind) {
  if (kind === 'hints') { if (state.hints) saveBlob(await hintBlob(), `${state.stem}.hints.png`); return; }
  const r = state.result;
  if (!r) return;
  const names = {
    image: `${state.stem}.colored.png`, line: `${state.stem}.line.png`, flats: `${state.stem}.flats.png`,
    shading: `${state.stem}.shading.png`, ora: `${state.stem}.ora`, psd: `${state.stem}.psd`,
  };
  saveBlob(r[kind], names[kind]);
}

async function loadServerInfo() {
  try {
    const [health, model] = await Promise.all([fetch('api/health'), fetch('api/model')]);
    if (health.ok) state.limits = (await health.json()).limits;
    if (model.ok) {
      state.model = await model.json();
      const step = state.model.meta?.step;
      el.modelName.textContent = `${state.model.name}${step !== undefined ? ` · step ${step}` : ''}`;
    }
  } catch {
    showError('Cannot reach the server: is `irodori serve` running?');
  }
}

function showModel() {
  const m = state.model;
  if (!m) return;
  el.modelTitle.textContent = `Model: ${m.name}`;
  const g = m.config?.generator ?? {};
  const facts = [
    ['Preset', m.config?.name], ['Description', m.config?.description], ['Training step', m.meta?.step],
    ['Generator', g.arch && `${g.arch}, ${g.block} blocks ×${g.num_blocks}, ${g.hint_encoder} hint encoder`],
    ['Working size', `${m.native_size} px (long side)`], ['Weights', m.meta?.dtype], ['Source', m.meta?.source],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '');
  el.modelFacts.replaceChildren(...facts.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = String(v);
    return [dt, dd];
  }));
  el.modelCard.textContent = m.card ?? '';
  el.modelDialog.showModal();
}

// ---------------------------------------------------------------------------
// Wiring

function isTyping(target) {
  return target instanceof HTMLInputElement && !['range', 'checkbox', 'color', 'file', 'button'].includes(target.type)
    || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

function onKey(event) {
  if (isTyping(event.target) || el.modelDialog.open) return;
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (mod && key === 'z') { event.preventDefault(); event.shiftKey ? redo() : undo(); return; }
  if (mod && key === 'y') { event.preventDefault(); redo(); return; }
  if (mod && key === 's') { event.preventDefault(); download('image'); return; }
  if (mod && key === 'o') { event.preventDefault(); el.fileInput.click(); return; }
  if (mod || event.altKey) return;
  const step = Math.max(1, Math.round(state.size * 0.15));
  const actions = {
    '[': () => setSize(state.size - step), ']': () => setSize(state.size + step),
    d: () => setTool('dot'), b: () => setTool('brush'), e: () => setTool('eraser'), i: () => setTool('picker'),
    v: () => setView(state.view === 'side' ? 'overlay' : 'side'), h: () => setHintsVisible(!el.showHints.checked),
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

function wire() {
  const pickFile = () => el.fileInput.click();
  el.openButton.addEventListener('click', pickFile);
  el.openEmpty.addEventListener('click', pickFile);
  el.fileInput.addEventListener('change', () => { openFile(el.fileInput.files[0]); el.fileInput.value = ''; });
  el.errorClose.addEventListener('click', hideError);

  el.hint.addEventListener('pointerdown', startStroke);
  el.hint.addEventListener('pointermove', moveStroke);
  el.hint.addEventListener('pointerup', endStroke);
  el.hint.addEventListener('pointercancel', endStroke);
  el.hint.addEventListener('pointerleave', () => { el.cursor.hidden = true; });
  el.hint.addEventListener('contextmenu', (e) => e.preventDefault());
  el.resultImage.addEventListener('pointerdown', (e) => {
    if (state.tool !== 'picker' && !e.altKey) return;
    e.preventDefault();
    const r = el.resultImage.getBoundingClientRect();
    pickColor({ x: (e.clientX - r.left) * state.width / r.width, y: (e.clientY - r.top) * state.height / r.height }, 'result');
  });

  for (const b of document.querySelectorAll('.tool')) b.addEventListener('click', () => setTool(b.dataset.tool));
  for (const b of document.querySelectorAll('.segmented button')) b.addEventListener('click', () => setView(b.dataset.view));
  el.size.addEventListener('input', () => setSize(Number(el.size.value)));
  el.color.addEventListener('input', () => setColor(el.color.value));
  el.palette.addEventListener('click', (e) => { const c = e.target.closest('button')?.dataset.color; if (c) setColor(c); });
  el.undo.addEventListener('click', undo);
  el.redo.addEventListener('click', redo);
  el.clear.addEventListener('click', clearHints);
  el.showHints.addEventListener('change', () => setHintsVisible(el.showHints.checked));
  el.resolution.addEventListener('change', () => schedulePreview(0));
  el.downloadResult.addEventListener('click', () => download('image'));
  el.downloadLine.addEventListener('click', () => download('line'));
  el.downloadFlat.addEventListener('click', () => download('flats'));
  el.downloadShading.addEventListener('click', () => download('shading'));
  el.downloadOra.addEventListener('click', () => download('ora'));
  el.downloadPsd.addEventListener('click', () => download('psd'));
  el.hintsOnly.addEventListener('change', () => schedulePreview(0));
  el.downloadHints.addEventListener('click', () => download('hints'));
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
    const file = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/')) ?? e.dataTransfer?.files[0];
    if (file) openFile(file);
  });
  window.addEventListener('paste', (e) => {
    if (isTyping(e.target)) return;
    const file = firstImage(e.clipboardData?.items);
    if (file) { e.preventDefault(); openFile(file); }
  });
  new ResizeObserver(() => fit()).observe(el.workspace);
}

function init() {
  try { state.recent = JSON.parse(localStorage.getItem('irodori.recent') || '[]').filter((c) => /^#[0-9a-f]{6}$/.test(c)); } catch { state.recent = []; }
  setTool('brush');
  setSize(8);
  setColor(state.color);
  setView('side');
  setHintsVisible(true);
  setBusy(false);
  wire();
  loadServerInfo();
}

init();
