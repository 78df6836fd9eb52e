// What the page shows: the line art under the hints, the panes' size, the view, the layer, the sliders, the
// phone's one pane and settings sheet; downloads; the server's limits and its model.

import { renderModel, serverInfo } from './backend.js';
import { roundHalfEven } from './hints.js';
import { checkRadio } from './radios.js';
import { LAYERS, baseCtx, clamp, el, hideError, layer, saveBlob, setStatus, showError, state, zoom } from './page.js';
import { ensureLayers, renderResolutions, showLayer } from './colorizing.js';

export function drawBase() {
  if (!state.lineBitmap) return;
  const showResult = state.view === 'overlay' && state.result && el.resultImage.complete && el.resultImage.naturalWidth;
  baseCtx.clearRect(0, 0, state.width, state.height);
  baseCtx.drawImage(showResult ? el.resultImage : state.lineBitmap, 0, 0, state.width, state.height);
  el.base.setAttribute('aria-label', showResult ? `${LAYERS[state.layer][1]}, under the hints` : 'The line art');
}

// Both stages get the same on-screen size: the largest that fits every visible pane.
export function fit() {
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
// Views, downloads, the server and its model

export function setView(view) {
  state.view = view;
  el.body.dataset.view = view;
  checkRadio(el.viewGroup, (b) => b.dataset.view === view);
  drawBase();
  fit();
}

export function setLayer(name) {
  state.layer = name;
  el.body.dataset.layer = name;
  checkRadio(el.layerGroup, (b) => b.dataset.layer === name);
  showLayer();
}

export function setHintsVisible(visible) {
  el.showHints.checked = visible;
  el.body.dataset.hints = visible ? 'shown' : 'hidden';
}

// Shading: how much of the model's light and shadow shows over a hint's color (the CLI's --shading).
export function setShading(value) {
  state.shading = clamp(Math.round(Number(value) * 20) / 20, 0, 1);
  el.shading.value = String(state.shading);
  el.shadingValue.textContent = `${Math.round(state.shading * 100)}%`;
}

// Gap closing: the widest gap in a line that still closes a region (the CLI's --max-gap); null: the default,
// which scales with the image as the server's does (irodori.colorize.regions.default_max_gap).
export function setMaxGap(value) {
  const auto = clamp(roundHalfEven(Math.max(state.width, state.height) / 64), 3, 12);
  state.maxGap = value === null ? null : clamp(Math.round(Number(value)), 0, 32);
  el.maxGap.value = String(state.maxGap ?? auto);
  el.maxGapValue.textContent = state.maxGap === null ? `auto · ${auto} px` : `${state.maxGap} px`;
}

// On a phone the canvas gets the whole screen: one pane at a time, switched with one tap.
export function setPane(pane) {
  state.pane = pane;
  el.body.dataset.pane = pane;
  checkRadio(el.paneGroup, (b) => b.dataset.pane === pane);
  fit();
}

export function setSheet(open) {
  el.body.classList.toggle('sheet-open', open);
  el.sheetToggle.setAttribute('aria-expanded', String(open));
}

export async function download(kind) {
  if (!state.file) return;
  if (kind === 'hints') { saveBlob(await layer.toBlob(), `${state.stem}.hints.png`); return; }
  const names = { image: 'colored.png', line: 'line.png', flats: 'flats.png', shading: 'shading.png', ora: 'ora', psd: 'psd' };
  if (kind !== 'image' && !(await ensureLayers())) return;
  if (state.result?.[kind]) saveBlob(state.result[kind], `${state.stem}.${names[kind]}`);
}

export async function loadServerInfo() {
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

export function showModel() {
  if (!state.model) return;
  renderModel(state.model, { title: el.modelTitle, facts: el.modelFacts, card: el.modelCard });
  el.modelDialog.showModal();
}
