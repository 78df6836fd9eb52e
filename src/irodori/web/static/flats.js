// Flats, shading and lines in the browser: irodori.colorize.flats's composition, on the regions of regions.js and the
// claims of claims.js. Colors are Float32Array H×W×3 (RGB interleaved) in [0, 1]; see flats.py for the rules.

import { SAME_HUE, chromaticity } from './claimrules.js';

export const FLATS_MODES = ['regions', 'hints-only', 'model'];
export const DEFAULT_SHADING = 0.0;
const LUMA = [0.299, 0.587, 0.114].map(Math.fround);
const f32 = Math.fround;

// Per-label q-quantile of values in [0, 1] (256 bins), counting only pixels where `weight` (flats._region_percentile).
function regionPercentile(values, stride, offset, labels, n, q, weight) {
  const hist = new Float64Array((n + 1) * 256);
  for (let i = 0; i < labels.length; i++) {
    if (!weight[i]) continue;
    const b = Math.min(255, Math.max(0, Math.trunc(f32(f32(values[stride * i + offset] * 255) + 0.5))));
    hist[labels[i] * 256 + b]++;
  }
  const out = new Float32Array(n + 1);
  for (let l = 0; l <= n; l++) {
    let total = 0;
    for (let b = 0; b < 256; b++) total += hist[l * 256 + b];
    if (!(total > 0)) { out[l] = 1; continue; }
    let cdf = 0, b = 0;
    for (; b < 256; b++) { cdf += hist[l * 256 + b]; if (cdf >= q * total) break; }
    out[l] = Math.min(b, 255) / 255;
  }
  return out;
}

// Per label: the regions claimed by tones of one hue that the model did not paint in that hue (under OBEY_SHARE of
// their pixels off the ink within HUE_REACH of the flat's chromaticity; flats._recolored_tones).
const OBEY_SHARE = 0.9, HUE_REACH = 2 * SAME_HUE;
function recoloredTones(m, labels, n, paper, claims) {
  const out = new Uint8Array(n + 1);
  if (!claims.toned.some(Boolean)) return out;
  const flatChroma = chromaticity(Float64Array.from(claims.color));
  const picked = [];
  for (let i = 0; i < labels.length; i++) if (paper[i] && claims.toned[labels[i]]) picked.push(i);
  const chroma = chromaticity(Float64Array.from({ length: 3 * picked.length }, (_, k) => m[3 * picked[(k / 3) | 0] + (k % 3)]));
  const near = new Float64Array(n + 1), all = new Float64Array(n + 1);
  picked.forEach((i, k) => {
    const l = labels[i];
    let off = 0;
    for (let c = 0; c < 3; c++) off = Math.max(off, Math.abs(chroma[3 * k + c] - flatChroma[3 * l + c]));
    all[l]++;
    if (off <= HUE_REACH) near[l]++;
  });
  for (let l = 0; l <= n; l++) out[l] = claims.toned[l] && near[l] / Math.max(all[l], 1) < OBEY_SHARE ? 1 : 0;
  return out;
}

/** The layers {flats, shading (Float32Array H×W×3), line (H×W)} from the model's colors (H×W×3 in [0, 1]),
 * the line art, its regions and the claims. `mode`: regions, hints-only or model; `shading` in [0, 1]. */
export function compose(model, line, regions, claims, { mode = 'regions', shading = DEFAULT_SHADING, lit = 0.9 } = {}) {
  if (!FLATS_MODES.includes(mode)) throw new Error(`flats mode must be one of ${FLATS_MODES.join(', ')}, got ${mode}`);
  const { labels, count: n, ink } = regions;
  const px = labels.length;
  const m = new Float32Array(model.length);
  for (let i = 0; i < m.length; i++) m[i] = Math.min(1, Math.max(0, model[i]));
  const paper = new Uint8Array(px);
  for (let i = 0; i < px; i++) paper[i] = 1 - ink[i];
  const litColor = [0, 1, 2].map((c) => regionPercentile(m, 3, c, labels, n, lit, paper));
  const luma = new Float32Array(px);
  for (let i = 0; i < px; i++) luma[i] = f32(f32(f32(m[3 * i] * LUMA[0]) + f32(m[3 * i + 1] * LUMA[1])) + f32(m[3 * i + 2] * LUMA[2]));
  const midLuma = regionPercentile(luma, 1, 0, labels, n, 0.5, paper).map((v) => Math.max(v, f32(1e-3)));
  const snap = new Uint8Array(n + 1), keep = new Uint8Array(n + 1);
  const recolor = recoloredTones(m, labels, n, paper, claims);
  for (let l = 0; l <= n; l++) {
    snap[l] = mode === 'model' ? 0 : claims.claimed[l];
    recolor[l] &= snap[l];
    if (claims.toned[l] && !recolor[l]) snap[l] = 0;  // toned regions the model painted in their hue keep its colors
    keep[l] = mode !== 'hints-only' ? 1 - snap[l] : (claims.hinted[l] && !snap[l] ? 1 : 0);
  }
  const flatColor = new Float32Array(3 * (n + 1)).fill(1);
  for (let l = 0; l <= n; l++) {
    for (let c = 0; c < 3; c++) {
      if (snap[l]) flatColor[3 * l + c] = claims.color[3 * l + c];
      if (keep[l]) flatColor[3 * l + c] = litColor[c][l];
    }
  }
  // A toned region the model painted in another hue: the model's luminance over its flat's (the lightest tone's).
  const flatLuma = Float32Array.from({ length: n + 1 }, (_, l) => Math.max(f32(1e-3), f32(f32(f32(
    claims.color[3 * l] * LUMA[0]) + f32(claims.color[3 * l + 1] * LUMA[1])) + f32(claims.color[3 * l + 2] * LUMA[2]))));
  const flats = new Float32Array(3 * px), shade = new Float32Array(3 * px);
  const s = f32(shading);
  for (let i = 0; i < px; i++) {
    const l = labels[i];
    const grey = !snap[l] ? 1 : recolor[l] ? Math.min(1, Math.max(0, f32(luma[i] / flatLuma[l])))
      : f32(1 - f32(s * f32(1 - Math.min(1, Math.max(0, f32(luma[i] / midLuma[l]))))));
    for (let c = 0; c < 3; c++) {
      const f = flatColor[3 * l + c];
      flats[3 * i + c] = f;
      if (snap[l]) shade[3 * i + c] = grey;
      else if (keep[l]) shade[3 * i + c] = Math.min(1, Math.max(0, f32(m[3 * i + c] / Math.max(f, f32(1e-3)))));
      else shade[3 * i + c] = 1;
    }
  }
  return { flats, shading: shade, line };
}

/** flats ⊙ shading ⊙ line as 8-bit RGBA (opaque), rounded like the pipeline's images. */
export function composite({ flats, shading, line }) {
  const px = line.length, out = new Uint8ClampedArray(4 * px);
  for (let i = 0; i < px; i++) {
    for (let c = 0; c < 3; c++) out[4 * i + c] = to8(f32(f32(flats[3 * i + c] * shading[3 * i + c]) * line[i]));
    out[4 * i + 3] = 255;
  }
  return out;
}

/** A value in [0, 1] as 0..255, as the pipeline rounds it: floor(clip(v) * 255 + 0.5). */
export function to8(v) { return Math.floor(f32(f32(Math.min(1, Math.max(0, v)) * 255) + 0.5)); }

/** An H×W×3 float layer as 8-bit RGBA (opaque). */
export function rgba8(rgb) {
  const px = rgb.length / 3, out = new Uint8ClampedArray(4 * px);
  for (let i = 0; i < px; i++) {
    for (let c = 0; c < 3; c++) out[4 * i + c] = to8(rgb[3 * i + c]);
    out[4 * i + 3] = 255;
  }
  return out;
}
