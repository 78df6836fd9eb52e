// Which regions the hints claim, in the browser: irodori.colorize.claims step by step (its docstring has the rules:
// a piece of its own, depth, agreement, one hue in several tones), and what each hint did. (claims.js draws
// that report over the hints.) Hints are Uint8Array H×W×3 colors (0..255)
// and an H×W mask (nonzero = hinted); regions come from regions.js.

import { components } from './raster.js';
import { depth } from './regions.js';

export const AGREE = 20 / 255;
export const SAME_HUE = 0.04;  // also the model's hue's reach in a toned region (flats.js)
const CHROMA_EPS = 0.05;
const OWN_SHARE = 0.8;
const MIN_TONE = 0.4;
const BACKGROUND_SIDES = 2;
const LUMA = [0.299, 0.587, 0.114].map(Math.fround);
const f32 = Math.fround;

/** How deep (px) a hint pixel must lie to count: 4 px at 256 px, scaling with the image, at least 3. */
export function defaultDepth(h, w) { return Math.max(3, Math.max(h, w) / 64); }

/** Per label: the region touches at least two sides of the image along 2% of each (at least 2 px). */
export function outerBackground({ labels, count: n, width: w, height: h }) {
  const sides = new Int32Array(n + 1);
  const edges = [[0, 1, w], [(h - 1) * w, 1, w], [0, w, h], [w - 1, w, h]];
  for (const [start, step, size] of edges) {
    const contact = new Int32Array(n + 1);
    for (let k = 0; k < size; k++) contact[labels[start + k * step]]++;
    for (let l = 0; l <= n; l++) if (contact[l] >= Math.max(2, 0.02 * size)) sides[l]++;
  }
  return Uint8Array.from(sides, (s, l) => (l > 0 && s >= BACKGROUND_SIDES ? 1 : 0));
}

// Per-label maximum of values ≥ 0, exact to 1/8 px below `cap` and `cap` above it (claims._capped_max).
function cappedMax(values, labels, n, cap) {
  const step = 0.125, bins = Math.ceil(cap / step) + 1;
  const top = new Int32Array(n + 1).fill(-1);
  for (let i = 0; i < labels.length; i++) {
    const q = Math.trunc(Math.min(f32(values[i] * 8), bins - 1));
    if (q > top[labels[i]]) top[labels[i]] = q;
  }
  return Float32Array.from(top, (t) => Math.min((t < 0 ? bins - 1 : t) * step, cap));
}

/** Per label, how deep (px, at least 1) a hint pixel must lie to count (rule 1). */
export function requiredDepth(regions, dep, depthPx = null) {
  depthPx = depthPx ?? defaultDepth(regions.height, regions.width);
  const deepest = cappedMax(dep, regions.labels, regions.count, 2 * depthPx);
  const background = outerBackground(regions);
  return Float32Array.from(deepest, (d, l) => Math.max(Math.min(f32(depthPx), f32(0.5 * d)) * (background[l] ? 2 : 1), 1));
}

/** Uint8 H×W: the pixels of each 8-connected hint piece in the region holding 80% of the piece's pixels
 * off the ink (counted against all its pixels, so a dot on a line, mostly ink, owns nothing); rule 0 counts
 * them where their region holds no deep hint pixel. */
export function ownedPieces({ labels, count: n, ink, width: w, height: h }, mask) {
  const pieces = components(mask, w, h, 8);
  const out = new Uint8Array(w * h);
  if (pieces.count <= 1) return out;
  const inRegion = new Map();  // piece * (n + 1) + label -> pixels off the ink
  for (let i = 0; i < out.length; i++) {
    const p = pieces.labels[i];
    if (p && !ink[i]) { const key = p * (n + 1) + labels[i]; inRegion.set(key, (inRegion.get(key) ?? 0) + 1); }
  }
  const owner = new Int32Array(pieces.count);
  for (const [key, k] of inRegion) {
    const p = Math.floor(key / (n + 1));
    if (k >= OWN_SHARE * pieces.area[p]) owner[p] = key % (n + 1);
  }
  for (let i = 0; i < out.length; i++) out[i] = pieces.labels[i] && owner[pieces.labels[i]] === labels[i] ? 1 : 0;
  return out;
}

// Per-label mean of the values (C per item) and RMS distance from it, summed as numpy's bincount sums.
function labelMean(lab, values, C, n) {
  const count = new Float64Array(n + 1), mean = new Float64Array((n + 1) * C), sq = new Float64Array((n + 1) * C);
  lab.forEach((l, k) => { count[l]++; for (let c = 0; c < C; c++) mean[l * C + c] += values[k * C + c]; });
  for (let l = 0; l <= n; l++) for (let c = 0; c < C; c++) mean[l * C + c] /= Math.max(count[l], 1);
  lab.forEach((l, k) => { for (let c = 0; c < C; c++) sq[l * C + c] += (values[k * C + c] - mean[l * C + c]) ** 2; });
  const spread = new Float64Array(n + 1);
  for (let l = 0; l <= n; l++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += sq[l * C + c];
    spread[l] = Math.sqrt(s / Math.max(count[l], 1));
  }
  return { mean, spread };
}

/** (r, g, b) / (r + g + b) of interleaved colors in [0, 1], with CHROMA_EPS added to each (claims.chromaticity). */
export function chromaticity(rgb) {
  const out = new Float64Array(rgb.length);
  for (let k = 0; k < rgb.length; k += 3) {
    const r = rgb[k] + CHROMA_EPS, g = rgb[k + 1] + CHROMA_EPS, b = rgb[k + 2] + CHROMA_EPS, sum = r + g + b;
    out[k] = r / sum; out[k + 1] = g / sum; out[k + 2] = b / sum;
  }
  return out;
}

/** Which regions the hints claim: per label {claimed, hinted, toned (Uint8Array), color (Float32Array (n+1)×3),
 * need (Float32Array)}, per pixel {deep (Uint8Array), depth}. A toned region's flat is its lightest tone; the
 * model shades it (flats.js). */
export function claimRegions(regions, hintRgb, hintMask, { depthPx = null, agree = AGREE, sameHue = SAME_HUE } = {}) {
  const { labels, count: n } = regions;
  const dep = depth(regions);
  const need = requiredDepth(regions, dep, depthPx);
  const deep = new Uint8Array(labels.length), hasDeep = new Uint8Array(n + 1);
  for (let i = 0; i < labels.length; i++) {
    if (hintMask[i] && dep[i] >= need[labels[i]]) { deep[i] = 1; hasDeep[labels[i]] = 1; }
  }
  const owned = ownedPieces(regions, hintMask), idx = [];
  for (let i = 0; i < labels.length; i++) {
    if (owned[i] && !hasDeep[labels[i]]) deep[i] = 1;
    if (deep[i]) idx.push(i);
  }
  const lab = Int32Array.from(idx, (i) => labels[i]);
  const rgb = new Float64Array(3 * idx.length);
  idx.forEach((i, k) => { for (let c = 0; c < 3; c++) rgb[3 * k + c] = f32(hintRgb[3 * i + c] / 255); });
  const hinted = new Uint8Array(n + 1);
  for (const l of lab) hinted[l] = 1;
  const { mean: color, spread } = labelMean(lab, rgb, 3, n);
  const { spread: hueSpread } = labelMean(lab, chromaticity(rgb), 3, n);
  const agreed = Uint8Array.from(hinted, (h, l) => (h && spread[l] <= agree ? 1 : 0));
  const luma = Float64Array.from(lab, (_, k) => rgb[3 * k] * LUMA[0] + rgb[3 * k + 1] * LUMA[1] + rgb[3 * k + 2] * LUMA[2]);
  const lightest = new Float64Array(n + 1).fill(-1), darkest = new Float64Array(n + 1).fill(2);
  lab.forEach((l, k) => { lightest[l] = Math.max(lightest[l], luma[k]); darkest[l] = Math.min(darkest[l], luma[k]); });
  const toned = Uint8Array.from(hinted, (h, l) => (
    h && !agreed[l] && hueSpread[l] <= sameHue && darkest[l] >= MIN_TONE * lightest[l] ? 1 : 0));
  if (toned.some(Boolean)) lightestTone(lab, rgb, luma, lightest, toned, color, n);
  const claimed = Uint8Array.from(agreed, (a, l) => a | toned[l]);
  return { claimed, hinted, toned, color: Float32Array.from(color), need, deep, depth: dep };
}

// Rule 3: a toned region's flat is the mean of its lightest tone's deep pixels.
function lightestTone(lab, rgb, luma, lightest, toned, color, n) {
  const top = [];
  lab.forEach((l, k) => { if (luma[k] >= lightest[l] - 1 / 255) top.push(k); });
  const base = labelMean(Int32Array.from(top, (k) => lab[k]), Float64Array.from(top.flatMap((k) => [rgb[3 * k], rgb[3 * k + 1], rgb[3 * k + 2]])), 3, n).mean;
  for (let l = 0; l <= n; l++) if (toned[l]) for (let c = 0; c < 3; c++) color[3 * l + c] = base[3 * l + c];
}

/** What each hint did (claims.hint_report): [{x, y, box, regions, reason}] per 8-connected hint piece in
 * reading order (at most `limit`), and the number of pieces. `reason`: null, or why it claimed nothing
 * ('disagree', 'background' or 'shallow'). */
export function hintReport(regions, claims, hintMask, limit = 500) {
  const { labels, width: w, height: h } = regions;
  const pieces = components(hintMask, w, h, 8);
  const shown = Math.min(pieces.count - 1, limit);
  const background = outerBackground(regions);
  const own = Array.from({ length: shown + 1 }, () => new Set());
  const hasHalf = new Uint8Array(pieces.count);
  const box = Array.from({ length: shown + 1 }, () => [w, h, -1, -1]);
  const sum = new Float64Array(2 * (shown + 1));
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      const c = pieces.labels[i];
      if (!c) continue;
      const l = labels[i];
      if (background[l] && claims.depth[i] >= 0.5 * claims.need[l]) hasHalf[c] = 1;
      if (c > shown) continue;
      if (claims.deep[i]) own[c].add(l);
      const b = box[c];
      b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y);
      sum[2 * c] += x; sum[2 * c + 1] += y;
    }
  }
  const report = [];
  for (let c = 1; c <= shown; c++) {
    const mine = [...own[c]].sort((a, b) => a - b);
    const won = mine.filter((l) => claims.claimed[l]);
    const reason = won.length ? null : mine.length ? 'disagree' : hasHalf[c] ? 'background' : 'shallow';
    const [x0, y0, x1, y1] = box[c], cx = sum[2 * c] / pieces.area[c], cy = sum[2 * c + 1] / pieces.area[c];
    let best = Infinity, at = [x0, y0];
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const d = (x - cx) ** 2 + (y - cy) ** 2;
        if (pieces.labels[y * w + x] === c && d < best) { best = d; at = [x, y]; }
      }
    }
    report.push({ x: at[0], y: at[1], box: [x0, y0, x1, y1], regions: won, reason });
  }
  return { report, hintCount: pieces.count - 1 };
}
