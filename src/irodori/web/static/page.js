// The page's shared parts: its elements (`el`), its state, the widgets over the canvases (the hint layer,
// the claims view, the palette, the zoom) and small helpers (the status bar, the error banner, saving a file).
// Every other module of the page reads and changes these; app.js says which module does what.

import { ClaimsView } from './claims.js';
import { HintLayer } from './layer.js';
import { Palette } from './palette.js';
import { StageZoom } from './zoom.js';
import { cancelStroke, hintsChanged, setColor, updateCursorSize } from './painting.js';

export const LAYERS = {
  image: ['Result', 'The colorized result'], flats: ['Flats', 'The flats: one color per region'],
  shading: ['Shading', "The shading layer: the model's light and shadow"], line: ['Lines', 'The line layer'],
};

const $ = (id) => document.getElementById(id);
export const el = {
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
export const baseCtx = el.base.getContext('2d');
export const layer = new HintLayer(el.hint, () => hintsChanged());
export const claims = new ClaimsView(el.claims, el.claimNote);
export const palette = new Palette(el.palette, (hex) => setColor(hex));

export const state = {
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
  note: '',           // what the last action did (a loaded hint file): kept in the status while its preview runs
};

export const zoom = new StageZoom(
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

// ---------------------------------------------------------------------------
// Small helpers

export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
export const megabytes = (n) => `${(n / 2 ** 20).toFixed(1)} MB`;
export const store = (key, value) => { try { localStorage.setItem(key, value); } catch { /* private mode */ } };
export const stored = (key) => { try { return localStorage.getItem(key); } catch { return null; } };

export function setStatus(text) { el.status.textContent = text; }

// Say what an action did and keep saying it in front of the preview's own status, which follows at once.
export function announce(text) {
  state.note = text;
  setStatus(text);
}

export function showError(text, retry = false) {
  el.errorText.textContent = text;
  el.errorRetry.hidden = !retry;
  el.error.hidden = false;
}

export function hideError() { el.error.hidden = true; }

export function setBusy(busy) {
  el.body.dataset.busy = busy ? '1' : '0';
  el.busy.hidden = !busy;
  el.resultFrame.setAttribute('aria-busy', busy ? 'true' : 'false');
}

export function saveBlob(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 30000);
}
