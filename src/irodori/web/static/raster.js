// Raster primitives behind regions.js, each reproducing the OpenCV call irodori.colorize.regions makes, so that the
// browser finds the same regions as Python: connected components numbered in raster order, the 5×5 chamfer
// distance (Borgefors, OpenCV's DIST_L2 with mask 5: steps 1, 1.4 and 2.1969 in 16.16 fixed point) with and
// without the label of the nearest seed, the exact Euclidean distance (Felzenszwalb and Huttenlocher; OpenCV's
// DIST_MASK_PRECISE), and a dilation by the 3×3 cross. Images are flat typed arrays in raster order.

const SHIFT = 65536;
const HV = SHIFT;
const DIAG = Math.round(1.4 * SHIFT);
const LONG = Math.round(2.1969 * SHIFT);
const FAR = 0x1fffffff;  // larger than any distance; also what lies outside the image
const PAD = 2;

/** Connected components (4- or 8-connected) of the nonzero pixels of `mask`: {count (background 0 included),
 * labels (Int32Array, 0 = background), area (per label), first (per label: its first pixel in raster order)}.
 * Labels follow the raster order of each component's first pixel. */
export function components(mask, w, h, connectivity = 4) {
  const n = w * h;
  const labels = new Int32Array(n);
  const parent = [0];
  const find = (a) => { while (parent[a] !== a) { parent[a] = parent[parent[a]]; a = parent[a]; } return a; };
  const union = (a, b) => {
    a = find(a); b = find(b);
    if (a !== b) { if (a < b) parent[b] = a; else parent[a] = b; }
  };
  const join = (l, k) => { if (k && l && k !== l) union(l, k); return l || k; };  // the label a pixel takes
  const diagonal = connectivity === 8;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      if (!mask[i]) continue;
      let l = y > 0 ? labels[i - w] : 0;
      if (x > 0) l = join(l, labels[i - 1]);
      if (diagonal && y > 0) {
        if (x > 0) l = join(l, labels[i - w - 1]);
        if (x < w - 1) l = join(l, labels[i - w + 1]);
      }
      if (!l) { l = parent.length; parent.push(l); }
      labels[i] = l;
    }
  }
  // Provisional labels are made in raster order and each root is its component's smallest: numbering the
  // roots in order numbers the components by their first pixel.
  const final = new Int32Array(parent.length);
  let count = 1;
  for (let a = 1; a < parent.length; a++) final[a] = find(a) === a ? count++ : final[find(a)];
  const area = new Int32Array(count);
  const first = new Int32Array(count).fill(-1);
  for (let i = 0; i < n; i++) {
    const l = final[labels[i]];
    labels[i] = l;
    area[l]++;
    if (first[l] < 0) first[l] = i;
  }
  return { count, labels, area, first };
}

// The padded work buffer of the chamfer passes: FAR outside the image and on `nonzero` pixels, 0 on seeds.
function padded(nonzero, w, h) {
  const pw = w + 2 * PAD;
  const t = new Int32Array(pw * (h + 2 * PAD)).fill(FAR);
  for (let y = 0; y < h; y++) {
    const row = (y + PAD) * pw + PAD;
    for (let x = 0; x < w; x++) if (!nonzero[y * w + x]) t[row + x] = 0;
  }
  return { t, pw };
}

// The forward pass's neighbour offsets of the 5×5 mask with their steps, in the order they are tried (a later
// neighbour wins only when strictly nearer); the backward pass mirrors them.
function offsets(pw) {
  return [[-2 * pw - 1, LONG], [-2 * pw + 1, LONG], [-pw - 2, LONG], [-pw - 1, DIAG], [-pw, HV],
    [-pw + 1, DIAG], [-pw + 2, LONG], [-1, HV]];
}

/** Chamfer distance (5×5 mask, in 1/65536 px) of every nonzero pixel of `nonzero` to the nearest zero one;
 * with `seedLabels` also the label of the seed it is nearest to ({dist, labels}). Outside the image counts as
 * far, not as a seed. Compare distances as `dist > r * 65536`. */
export function chamfer(nonzero, w, h, seedLabels = null) {
  const { t, pw } = padded(nonzero, w, h);
  const lab = seedLabels ? new Int32Array(t.length) : null;
  if (lab) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) lab[(y + PAD) * pw + PAD + x] = seedLabels[y * w + x];
  }
  const fwd = offsets(pw);  // the backward pass takes the mirrored neighbours in the same order
  const fo = Int32Array.from(fwd, ([o]) => o), fs = Int32Array.from(fwd, ([, s]) => s);
  for (let y = 0; y < h; y++) {
    for (let x = 0, p = (y + PAD) * pw + PAD; x < w; x++, p++) {
      if (!nonzero[y * w + x]) continue;
      let best = FAR, l = 0;
      for (let k = 0; k < 8; k++) {
        const d = t[p + fo[k]] + fs[k];
        if (d < best) { best = d; if (lab) l = lab[p + fo[k]]; }
      }
      t[p] = best;
      if (lab) lab[p] = l;
    }
  }
  const dist = new Int32Array(w * h);
  const labels = lab ? new Int32Array(w * h) : null;
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1, p = (y + PAD) * pw + PAD + w - 1; x >= 0; x--, p--) {
      const i = y * w + x;
      if (nonzero[i]) {
        let best = t[p], l = lab ? lab[p] : 0;
        for (let k = 0; k < 8; k++) {
          const d = t[p - fo[k]] + fs[k];
          if (d < best) { best = d; if (lab) l = lab[p - fo[k]]; }
        }
        t[p] = best;
        if (lab) lab[p] = l;
      }
      dist[i] = t[p];
      if (labels) labels[i] = lab[p];
    }
  }
  return { dist, labels };
}

// One row or column of the exact transform: squared distances `f` (Infinity where no seed) become the lower
// envelope of the parabolas rooted at each sample.
function envelope1d(f, n, v, z, out) {
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    let s = 0;
    while (k >= 0) {
      s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      if (s > z[k]) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = k === 0 ? -Infinity : s;
    z[k + 1] = Infinity;
  }
  if (k < 0) { out.fill(Infinity, 0, n); return; }
  for (let q = 0, j = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    out[q] = (q - v[j]) * (q - v[j]) + f[v[j]];
  }
}

/** Exact Euclidean distance (Float32Array, px) of every pixel to the nearest pixel where `seed` is set. */
export function euclidean(seed, w, h) {
  const m = Math.max(w, h);
  const f = new Float64Array(m), out = new Float64Array(m), v = new Int32Array(m), z = new Float64Array(m + 1);
  const sq = new Float64Array(w * h);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = seed[y * w + x] ? 0 : Infinity;
    envelope1d(f, h, v, z, out);
    for (let y = 0; y < h; y++) sq[y * w + x] = out[y];
  }
  const dist = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = sq[y * w + x];
    envelope1d(f, w, v, z, out);
    for (let x = 0; x < w; x++) dist[y * w + x] = Math.sqrt(out[x]);
  }
  return dist;
}

/** Dilation of a 0/1 mask by the 3×3 cross (OpenCV's 3×3 ellipse); outside the image adds nothing. */
export function dilateCross(mask, w, h) {
  const out = new Uint8Array(w * h);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      out[i] = mask[i] || (x > 0 && mask[i - 1]) || (x < w - 1 && mask[i + 1]) || (y > 0 && mask[i - w])
        || (y < h - 1 && mask[i + w]) ? 1 : 0;
    }
  }
  return out;
}
