// Layered files made in the browser, the same stack as irodori.colorize.layerfile: top to bottom `hints` (hidden),
// `lines` (multiply), `shading` (multiply), `flats` (normal). OpenRaster is zipped with fflate (mimetype first,
// stored); PSD is written by ag-psd. Both packages are vendored into the site by `irodori export-web`.

import { strToU8, zipSync } from '../vendor/fflate/fflate.js';

const AG_PSD = new URL('../vendor/ag-psd/ag-psd.js', import.meta.url).href;
let agPsd = null;

const escapeXml = (s) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The stack of a result: [{name, rgba (Uint8ClampedArray), blend, visible}], top to bottom. */
export function resultLayers({ hints, line, shading, flats }) {
  return [{ name: 'hints', rgba: hints, blend: 'normal', visible: false },
    { name: 'lines', rgba: line, blend: 'multiply', visible: true },
    { name: 'shading', rgba: shading, blend: 'multiply', visible: true },
    { name: 'flats', rgba: flats, blend: 'normal', visible: true }];
}

async function pngBytes(rgba, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
}

async function thumbnailBytes(merged, width, height) {
  const scale = Math.min(1, 256 / Math.max(width, height));
  const tw = Math.max(1, Math.round(width * scale)), th = Math.max(1, Math.round(height * scale));
  const src = new OffscreenCanvas(width, height);
  src.getContext('2d').putImageData(new ImageData(merged, width, height), 0, 0);
  const canvas = new OffscreenCanvas(tw, th);
  canvas.getContext('2d').drawImage(src, 0, 0, tw, th);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
}

/** An OpenRaster document (Blob) of `layers` (top to bottom) with `merged` (RGBA) as its flattened image. */
export async function oraBlob(layers, merged, width, height) {
  const ops = { normal: 'svg:src-over', multiply: 'svg:multiply' };
  const names = layers.map((l, i) => `data/${String(i).padStart(2, '0')}-${l.name}.png`);
  const rows = layers.map((l, i) => `  <layer name="${escapeXml(l.name)}" src="${names[i]}" x="0" y="0" opacity="1.0" `
    + `visibility="${l.visible ? 'visible' : 'hidden'}" composite-op="${ops[l.blend]}"/>`);
  const stack = `<?xml version='1.0' encoding='UTF-8'?>\n<image version="0.0.3" w="${width}" h="${height}">\n <stack>\n`
    + `${rows.join('\n')}\n </stack>\n</image>\n`;
  const pngs = await Promise.all([...layers.map((l) => pngBytes(l.rgba, width, height)),
    pngBytes(merged, width, height), thumbnailBytes(merged, width, height)]);
  const files = { mimetype: [strToU8('image/openraster'), { level: 0 }], 'stack.xml': strToU8(stack) };
  names.forEach((name, i) => { files[name] = [pngs[i], { level: 0 }]; });
  files['mergedimage.png'] = [pngs[layers.length], { level: 0 }];
  files['Thumbnails/thumbnail.png'] = [pngs[layers.length + 1], { level: 0 }];
  return new Blob([zipSync(files)], { type: 'image/openraster' });
}

function loadAgPsd() {
  agPsd ??= new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement('script'), { src: AG_PSD });
    script.onload = () => resolve(globalThis.agPsd);
    script.onerror = () => reject(new Error(`cannot load ${AG_PSD}`));
    document.head.append(script);
  });
  return agPsd;
}

/** A layered PSD (Blob) of `layers` (top to bottom) with `merged` (RGBA) as its flattened preview. */
export async function psdBlob(layers, merged, width, height) {
  const lib = await loadAgPsd();
  const image = (rgba) => ({ width, height, data: rgba });
  const psd = {
    width, height, imageData: image(merged),
    children: [...layers].reverse().map((l) => ({ name: l.name, imageData: image(l.rgba), blendMode: l.blend,
      hidden: !l.visible, top: 0, left: 0, right: width, bottom: height })),
  };
  return new Blob([lib.writePsd(psd, { generateThumbnail: false })], { type: 'image/vnd.adobe.photoshop' });
}
