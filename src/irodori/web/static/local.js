// Colorizing in the browser, for the static site `irodori export-web` makes: the same interface as server.js
// (`colorize(...)`, `serverInfo()`), with the generator run by ONNX Runtime Web (WASM; threaded where the page
// is cross-origin isolated, see coi.js) and the regions, claims and composition by regions.js and flats.js.
// A drawing's regions do not depend on the hints, so they are kept for the last drawing and gap width.

import * as ort from '../vendor/onnxruntime-web/ort.wasm.min.mjs';
import { claimRegions, hintReport } from './claimrules.js';
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

/** Colorize as server.js's colorize does, with the same options ({file, hints, signal, flats, resolution,
 * shading, maxGap, claims = true, layers = false}) and answer: {width, height, seconds, resolution, image,
 * claims?: {hints, count, unclaimed, regions (the region map PNG)}, line?, flats?, shading?, ora?, psd?} with
 * each image a Blob, plus `timings` (ms). Rejects with a ServerError or an AbortError. */
export async function colorize({ file, hints, signal, flats = 'regions', resolution, shading = DEFAULT_SHADING,
  maxGap = null, claims: wantClaims = true, layers: wantLayers = false }) {
  const t0 = performance.now();
  const aborted = () => { if (signal?.aborted) throw new DOMException('aborted', 'AbortError'); };
  let d, hintImage, site;
  try {
    [d, hintImage, site] = await Promise.all([drawingOf(file), decode(hints), loadInfo()]);
  } catch (err) {
    if (err instanceof ServerError) throw err;
    throw new ServerError(415, `cannot read the image (${err.message})`);
  }
  aborted();
  const { width: W, height: H, line } = d;
  if (hintImage.width !== W || hintImage.height !== H) throw new ServerError(422, 'the hint layer is not the drawing\'s size');
  const layer = hintLayer(hintImage);
  const long = resolution || site.model.native_size;
  const t1 = performance.now();
  const running = runModel(line, layer, W, H, long, site.model.meta.multiple ?? 16);
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
  const claimed = claimRegions(regions, layer.rgb, layer.mask);
  const composed = compose(colors, line, regions, claimed, { mode: flats, shading });
  const image = composite(composed);
  const t4 = performance.now();
  const out = { width: W, height: H, seconds: (t4 - t0) / 1000, resolution: long, image: await pngBlob(image, W, H),
    // ms: the regions are found while the model runs; `model` is the wait for it after them
    timings: { decode: t1 - t0, regions: t2 - t1, model: t3 - t2, compose: t4 - t3 } };
  if (wantClaims) out.claims = await claimsAnswer(regions, claimed, layer.mask, site.reasons);
  if (wantLayers) Object.assign(out, await layerFiles(composed, image, line, hintImage.data, W, H));
  return out;
}

// What each hint did, as the server's claims=1 answer (irodori.web.uploads.claims_answer).
async function claimsAnswer(regions, claimed, mask, reasons) {
  const { report, hintCount } = hintReport(regions, claimed, mask);
  const hints = report.map((h) => ({ ...h, why: h.reason ? reasons[h.reason] : null }));
  const map = new Uint8ClampedArray(4 * regions.labels.length);
  regions.labels.forEach((l, i) => {
    map[4 * i] = l & 255; map[4 * i + 1] = (l >> 8) & 255; map[4 * i + 2] = (l >> 16) & 255; map[4 * i + 3] = 255;
  });
  return { hints, count: hintCount, unclaimed: hints.filter((h) => h.reason).length,
    regions: await pngBlob(map, regions.width, regions.height) };
}

// The layer PNGs and the layered files, as the server's layers=1 answer.
async function layerFiles(composed, image, line, hints, W, H) {
  const rgba = { image, flats: rgba8(composed.flats), shading: rgba8(composed.shading), line: lineLayer(line), hints };
  const stack = resultLayers(rgba);
  const [lineBlob, flatsBlob, shadingBlob, ora, psd] = await Promise.all([pngBlob(rgba.line, W, H),
    pngBlob(rgba.flats, W, H), pngBlob(rgba.shading, W, H), oraBlob(stack, image, W, H), psdBlob(stack, image, W, H)]);
  return { line: lineBlob, flats: flatsBlob, shading: shadingBlob, ora, psd };
}
