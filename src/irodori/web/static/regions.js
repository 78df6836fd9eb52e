// Line-art regions in the browser: the same trapped-ball segmentation as irodori.colorize.regions (see its docstring
// for the method), on the same primitives (raster.js), so that both find the same regions. A line art is a
// Float32Array of H×W values in [0, 1] (white paper = 1).

import { roundHalfEven } from './hints.js';
import { chamfer, components, dilateCross, euclidean } from './raster.js';

export const MAX_GAP_RANGE = [0, 64];
const MIN_CONTRAST = 0.25;
const f32 = Math.fround;

/** Gap width closed by default: 4 px at 256 px, growing with the image, within 3..12 px. */
export function defaultMaxGap(h, w) {
  return Math.min(12, Math.max(3, roundHalfEven(Math.max(h, w) / 64)));
}

// numpy's percentile (linear interpolation) of sorted values.
function percentile(sorted, q) {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1), t = pos - lo;
  const a = sorted[lo], b = sorted[hi];
  return f32(t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);
}

/** Ink (Uint8Array 0/1): darker than halfway between paper (90th percentile) and ink (0.2th), or than
 * mid-grey when the drawing has less contrast than that. */
export function inkMask(line) {
  const sorted = Float32Array.from(line).sort();
  const paper = sorted.length ? percentile(sorted, 90) : 1, dark = sorted.length ? percentile(sorted, 0.2) : 1;
  const threshold = paper - dark < MIN_CONTRAST ? 0.5 : Math.min(f32(0.5 * f32(paper + dark)), 0.9);
  const ink = new Uint8Array(line.length);
  for (let i = 0; i < line.length; i++) ink[i] = line[i] < threshold ? 1 : 0;
  return ink;
}

// Every pixel takes the label of its nearest labelled pixel (chamfer, as cv2.distanceTransformWithLabels);
// null when all or none are labelled. Returns {labels, dist} with dist in 1/65536 px.
function nearest(labels, w, h) {
  let any = false, all = true;
  for (const l of labels) { if (l > 0) any = true; else all = false; }
  if (all || !any) return null;
  const unseeded = labels.map((l) => (l > 0 ? 0 : 1));
  const { dist, labels: near } = chamfer(unseeded, w, h, labels);
  return { labels: near, dist };
}

// One trapped-ball pass at radius r over the unlabelled free space (irodori.colorize.regions._balls).
function balls(free, labels, w, h, r, nextLabel, minSeed, minTouching) {
  const n = w * h;
  const todo = new Uint8Array(n);
  for (let i = 0; i < n; i++) todo[i] = free[i] && !labels[i] ? 1 : 0;
  let core = todo;
  if (r > 0) {
    const { dist } = chamfer(todo, w, h);
    core = new Uint8Array(n);
    for (let i = 0; i < n; i++) core[i] = dist[i] > r * 65536 ? 1 : 0;
  }
  const cc = components(core, w, h);
  const big = Array.from(cc.area, (a) => a >= minSeed);
  if (nextLabel > 1) {
    const piece = components(todo, w, h);
    const found = dilateCross(labels.map((l) => (l > 0 ? 1 : 0)), w, h);
    const touching = new Uint8Array(piece.count);
    for (let i = 0; i < n; i++) if (found[i] && piece.labels[i]) touching[piece.labels[i]] = 1;
    for (let c = 1; c < cc.count; c++) {
      if (touching[piece.labels[cc.first[c]]] && cc.area[c] < minTouching) big[c] = false;
    }
  }
  const lut = new Int32Array(cc.count);
  let next = nextLabel;
  for (let c = 1; c < cc.count; c++) if (big[c]) lut[c] = next++;
  if (next === nextLabel) return nextLabel;
  let seeds = cc.labels.map((c) => lut[c]);
  if (r > 0) {
    const grown = nearest(seeds, w, h);
    if (grown) {
      const reach = (r + 0.5) * 65536;
      for (let i = 0; i < n; i++) seeds[i] = grown.dist[i] <= reach && todo[i] ? grown.labels[i] : 0;
    }
  }
  for (let i = 0; i < n; i++) if (seeds[i] > 0) labels[i] = seeds[i];
  return next;
}

// Small regions and unlabelled pixels join their nearest region; labels renumbered 1..n by value.
function mergeSmall(labels, w, h, minArea) {
  let max = 0;
  for (const l of labels) if (l > max) max = l;
  const area = new Float64Array(max + 1);
  for (const l of labels) area[l]++;
  const small = Array.from(area, (a) => a < minArea);
  small[0] = true;
  if (small.slice(1).every(Boolean)) {
    let best = 1;
    for (let l = 2; l <= max; l++) if (area[l] > area[best]) best = l;
    small[best] = false;
  }
  let out = labels.map((l) => (small[l] ? 0 : l));
  const grown = nearest(out, w, h);
  if (grown) out = grown.labels;
  const lut = new Int32Array(max + 1);
  for (const l of out) lut[l] = 1;
  for (let l = 0, k = 0; l <= max; l++) { k += lut[l]; lut[l] = k; }
  return out.map((l) => lut[l]);
}

/** Regions of a line art: {labels (Int32Array, 1..count), ink (Uint8Array), border (per label: touches the
 * image edge), area (per label), count, width, height}. Options: maxGap (px), minArea (px). */
export function segment(line, w, h, { maxGap = null, minArea = null } = {}) {
  if (w < 1 || h < 1 || line.length !== w * h) throw new Error(`line art must be ${w}×${h} values`);
  maxGap = maxGap ?? defaultMaxGap(h, w);
  minArea = minArea ?? Math.max(4, roundHalfEven(2e-4 * h * w));
  const ink = inkMask(line);
  const free = ink.map((v) => 1 - v);
  let labels = new Int32Array(w * h);
  let next = 1;
  const bigR = Math.floor((Math.max(maxGap, 0) + 1) / 2);
  const minTouching = Math.max(minArea, (2 * bigR + 1) ** 2);
  for (const r of bigR > 0 ? [bigR, 0] : [0]) {
    const minSeed = r ? Math.max(1, Math.floor(minArea / (4 * r * r + 1))) : minArea;
    next = balls(free, labels, w, h, r, next, minSeed, minTouching);
  }
  if (next === 1) labels.fill(1);
  labels = mergeSmall(labels, w, h, minArea);
  let count = 0;
  for (const l of labels) if (l > count) count = l;
  const area = new Float64Array(count + 1);
  for (const l of labels) area[l]++;
  const border = new Uint8Array(count + 1);
  for (let x = 0; x < w; x++) { border[labels[x]] = 1; border[labels[(h - 1) * w + x]] = 1; }
  for (let y = 0; y < h; y++) { border[labels[y * w]] = 1; border[labels[y * w + w - 1]] = 1; }
  border[0] = 0;
  return { labels, ink, border, area, count, width: w, height: h };
}

/** Distance (px) of every pixel to the nearest ink or region boundary (irodori.colorize.regions.depth). */
export function depth(regions) {
  const { labels, ink, width: w, height: h } = regions;
  const edge = Uint8Array.from(ink);
  let any = false;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      if ((x > 0 && labels[i] !== labels[i - 1]) || (y > 0 && labels[i] !== labels[i - w])) edge[i] = 1;
      if (edge[i]) any = true;
    }
  }
  if (!any) return new Float32Array(w * h).fill(Math.max(w, h));
  return euclidean(edge, w, h);
}
