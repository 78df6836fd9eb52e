// Colorizing in the browser, for the static site `irodori export-web` makes: the same interface as server.js
// (`colorize(...)`, `serverInfo()`), with the generator run by ONNX Runtime Web (WASM; threaded where the page
// is cross-origin isolated, see coi.js) and the regions, claims and composition by regions.js and flats.js.
// A drawing's regions do not depend on the hints, so they are kept for the last drawing and gap width.

import * as ort from '../vendor/onnxruntime-web/ort.wasm.min.mjs';
import { claimRegions, hintReport } from './claims.js';
import { compose, composite, DEFAULT_SHADING, rgba8 } from './flats.js';
import { decode, hintLayer, lineToUnit, modelColors, modelInputs, pngBlob, workingSize } from './imageops.js';
import { oraBlob, psdBlob, resultLayers } from './layerfiles.js';
import { segment } from './regions.js';
import { ServerError } from './server.js';

const MODEL_URL = 'model/model.onnx';
const INFO_URL = 'model/model.json';
const MAX_THREADS = 4;
let session = null;  // Promise of the ONNX Runtime session
let info = null;     // Promise of model.json
let drawing = null;  // {file, line, width, height, regions: Map(maxGap -> regions)}

/** Threads ONNX Runtime may use: several only where SharedArrayBuffer is allowed (cross-origin isolation). */
export function threadCount() {
  return globalThis.crossOriginIsolated ? Math.max(1, Math.min(MAX_THREADS, navigator.hardwareConcurrency || 1)) : 1;
}

function loadSession() {
  if (!session) {
    ort.env.wasm.wasmPaths = new URL('../vendor/onnxruntime-web/', import.meta.url).href;
    ort.env.wasm.numThreads = threadCount();
    ort.env.wasm.proxy = true;  // the model runs in ONNX Runtime's worker: the page stays responsive meanwhile
    session = ort.InferenceSession.create(MODEL_URL, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    session.catch(() => { session = null; });
  }
  return session;
}

function loadInfo() {
  info ??= fetch(INFO_URL).then((r) => {
    if (!r.ok) throw new ServerError(r.status, `${INFO_URL} is missing from this site`);
    return r.json();
  });
  info.catch(() => { info = null; });
  return info;
}

/** {limits, model} as the server's api/health and api/model give them; the model starts loading too. */
export async function serverInfo() {
  const { limits, model } = await loadInfo();
  loadSession().catch(() => {});  // warm up while the user opens a drawing; colorize reports a failure
  const threads = threadCount();
  const dtype = `${model.meta.dtype}, ${threads} thread${threads === 1 ? '' : 's'}`;
  return { limits, model: { ...model, meta: { ...model.meta, dtype, threads } } };
}

async function drawingOf(file) {
  if (drawing?.file !== file) {
    const image = await decode(file);
    drawing = { file, line: lineToUnit(image), width: image.width, height: image.height, regions: new Map() };
  }
  return drawing;
}

function regionsOf(d, maxGap) {
  const key = maxGap ?? 'auto';
  if (!d.regions.has(key)) d.regions.set(key, segment(d.line, d.width, d.height, { maxGap }));
  return d.regions.get(key);
}

async function runModel(line, hints, W, H, resolution, multiple) {
  const [h, w] = workingSize(H, W, resolution, multiple);
  const x = modelInputs(line, hints, W, H, w, h);
  const sess = await loadSession();
  const feeds = { line: new ort.Tensor('float32', x.line, [1, 1, h, w]),
    hint: new ort.Tensor('float32', x.hint, [1, 3, h, w]), mask: new ort.Tensor('float32', x.mask, [1, 1, h, w]) };
  const out = (await sess.run(feeds)).flat;
  const colors = modelColors(out.data, w, h, W, H);
  out.dispose?.();
  return colors;
}

function lineLayer(line) {
  const out = new Uint8ClampedArray(4 * line.length);
  for (let i = 0; i < line.length; i++) out[4 * i + 3] = Math.floor(Math.min(1, Math.max(0, 1 - line[i])) * 255 + 0.5);
  return out;
}

/** Colorize like server.js's colorize: resolves to {width, height, seconds, image, line, flats, shading (PNG
 * Blobs), ora, psd (Blobs made when first awaited), claims, report and hint_count (what each hint did, as the
 * server's irodori.claims.hint_report), timings (ms)}; rejects with a ServerError or an AbortError. */
export async function colorize({ file, hints, flats = 'regions', resolution, shading = DEFAULT_SHADING,
  max_gap: maxGapArg = null, maxGap = maxGapArg, signal }) {
  const t0 = performance.now();
  const aborted = () => { if (signal?.aborted) throw new DOMException('aborted', 'AbortError'); };
  let d, hintImage, model;
  try {
    [d, hintImage, { model }] = await Promise.all([drawingOf(file), decode(hints), loadInfo()]);
  } catch (err) {
    if (err instanceof ServerError) throw err;
    throw new ServerError(415, `cannot read the image (${err.message})`);
  }
  aborted();
  const { width: W, height: H, line } = d;
  if (hintImage.width !== W || hintImage.height !== H) throw new ServerError(422, 'the hint layer is not the drawing\'s size');
  const layer = hintLayer(hintImage);
  const t1 = performance.now();
  const running = runModel(line, layer, W, H, resolution || model.native_size, model.meta.multiple ?? 16);
  running.catch(() => {});  // awaited below, after the regions are found here while the model runs there
  const regions = regionsOf(d, maxGap);
  const t2 = performance.now();
  let colors;
  try {
    colors = await running;
  } catch (err) {
    throw new ServerError(500, `the model failed in this browser (${err.message ?? err})`);
  }
  aborted();
  const t3 = performance.now();
  const claims = claimRegions(regions, layer.rgb, layer.mask);
  const layers = compose(colors, line, regions, claims, { mode: flats, shading });
  const { report, hintCount } = hintReport(regions, claims, layer.mask);
  const rgba = { image: composite(layers), flats: rgba8(layers.flats), shading: rgba8(layers.shading),
    line: lineLayer(line), hints: hintImage.data };
  const t4 = performance.now();
  const seconds = (t4 - t0) / 1000;
  // ms: the regions are found while the model runs; `model` is the wait for it after them
  const timings = { decode: t1 - t0, regions: t2 - t1, model: t3 - t2, compose: t4 - t3 };
  const [image, lineBlob, flatsBlob, shadingBlob] = await Promise.all(
    ['image', 'line', 'flats', 'shading'].map((k) => pngBlob(rgba[k], W, H)));
  const stack = resultLayers(rgba);
  return { width: W, height: H, seconds, image, line: lineBlob, flats: flatsBlob, shading: shadingBlob, claims,
    report, hint_count: hintCount, timings, ora: later(() => oraBlob(stack, rgba.image, W, H)), psd: later(() => psdBlob(stack, rgba.image, W, H)) };
}

// A value made when first awaited (a thenable): the layer files cost time and most previews never save them.
function later(make) {
  let promise = null;
  return { then(resolve, reject) { promise ??= make(); return promise.then(resolve, reject); } };
}
