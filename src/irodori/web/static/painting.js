// Painting the hints: strokes on the hint layer (layer.js), the brush cursor, the tools, the brush size and
// color, and the eyedropper.

import { hexToRgb, rgbToHex } from './hints.js';
import { checkRadio } from './radios.js';
import { claims, clamp, el, layer, palette, setStatus, state, zoom } from './page.js';
import { PREVIEW_DELAY_MS, schedulePreview } from './colorizing.js';

export function toImage(event, target = el.hint) {
  const r = target.getBoundingClientRect();
  return { x: (event.clientX - r.left) * state.width / r.width, y: (event.clientY - r.top) * state.height / r.height };
}

export function startStroke(event) {
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

export function moveStroke(event) {
  moveCursor(event);
  const s = state.stroke;
  if (!s) { hover(event); return; }
  if (event.pointerId !== s.id || s.tool === 'dot') return;
  const events = event.getCoalescedEvents?.() ?? [];
  layer.strokeTo((events.length ? events : [event]).map((e) => toImage(e)), state.size);
}

export function endStroke(event) {
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
export function cancelStroke() {
  state.stroke = null;
  layer.cancelStroke();
}

// Everything that follows a change of what a request sends: counters, buttons, and the debounced preview.
export function hintsChanged(delay = PREVIEW_DELAY_MS) {
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

export function updateCursorSize() {
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

export function setTool(tool) {
  if (tool !== 'picker') state.returnTool = tool;
  state.tool = tool;
  el.body.dataset.tool = tool;
  checkRadio(el.toolGroup, (b) => b.dataset.tool === tool);
  updateCursorSize();
}

export function setSize(size) {
  state.size = clamp(Math.round(size), 1, 96);
  el.size.value = String(state.size);
  el.sizeValue.textContent = `${state.size} px`;
  updateCursorSize();
}

export function setColor(hex) {
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
export async function pickColor(p, where) {
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
