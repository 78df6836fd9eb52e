// irodori: paint color hints over a line art; the server colorizes it (POST api/colorize).
//
// The page keeps the line art and the hint layer (layer.js); a preview is requested as soon as a change
// ends (a stroke's end, an undo, a setting), and a newer request aborts the one in flight. A
// preview asks for the image and what each hint claimed (claims.js draws it); the layer PNGs and the ORA and
// PSD files are asked for only when a layer is shown or downloaded. A failed request leaves the last result on
// screen marked out of date, with a retry (automatic when the server is busy or unreachable), and the
// status bar says what happened. Modules: page.js (the elements, the state, the widgets, small helpers),
// painting.js (strokes, tools, the eyedropper), colorizing.js (requests, retries, the result, the working
// size), views.js (views, layers, sliders, downloads, the server's model), and this one (opening a line art,
// hint files, wiring). Beneath them: hints.js (hint data, the CLI's JSON), layer.js (strokes and undo),
// palette.js (recent colors), zoom.js (pinch and wheel zoom), radios.js (keyboard radio groups), markdown.js
// (the model card), claims.js (what each hint claimed), backend.js (the server's API, server.js, or the
// browser itself, local.js).

import { HintError, drawHints, hintJsonText, hintPixelsFromImage, hintSquares, hintStats, parseHintJson,
  MAX_HINTS } from './hints.js';
import { radioGroup } from './radios.js';
import { announce, claims, clamp, el, hideError, layer, megabytes, palette, saveBlob, setBusy, setStatus, showError,
  state, store, stored, zoom } from './page.js';
import { cancelStroke, endStroke, hintsChanged, moveStroke, pickColor, setColor, setSize, setTool, startStroke,
  toImage } from './painting.js';
import { renderResolutions, retry, setFailed, setResult } from './colorizing.js';
import { download, drawBase, fit, loadServerInfo, setHintsVisible, setLayer, setMaxGap, setPane, setSheet, setShading,
  setView, showModel } from './views.js';

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
  announce(`Loaded ${n.toLocaleString()} hinted pixels from ${file.name}; Undo brings the previous hints back.`);
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
