// Talking to the server: one colorize request, the server's limits and the model card.

import { renderMarkdown } from './markdown.js';

/** A request the server answered with an error (`status`, its `detail`, `retryAfter` seconds for 503). */
export class ServerError extends Error {
  constructor(status, detail, retryAfter = 0) {
    super(`${detail} (HTTP ${status})`);
    Object.assign(this, { status, detail, retryAfter });
  }
}

function base64ToBlob(b64, type = 'image/png') {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
}

/** POST api/colorize. One object of named options, so that more can come without breaking callers:
 *   file, hints (Blobs), signal (AbortSignal);
 *   flats ('regions' | 'hints-only' | 'model'), resolution (px), shading (0..1), maxGap (px; omitted: the
 *   server's default), as the CLI's --flats, --resolution, --shading, --max-gap;
 *   claims (default true: what each hint claimed), layers (default false: the layer PNGs and ORA/PSD files,
 *   which make a preview slow; ask for them when they are shown or downloaded).
 * Resolves to {width, height, seconds, resolution, image, claims?: {hints, count, unclaimed, regions},
 * line?, flats?, shading?, ora?, psd?} with each image as a Blob; rejects with a ServerError, a TypeError
 * (the server cannot be reached) or an AbortError. */
export async function colorize({ file, hints, signal, flats = 'regions', resolution, shading, maxGap,
  claims = true, layers = false }) {
  const body = new FormData();
  body.append('lineart', file, file.name || 'lineart.png');
  body.append('hints', hints, 'hints.png');
  body.append('flats', flats);
  if (resolution !== undefined) body.append('resolution', String(resolution));
  if (shading !== undefined) body.append('shading', String(shading));
  if (maxGap !== undefined && maxGap !== null) body.append('max_gap', String(maxGap));
  body.append('claims', claims ? '1' : '0');
  body.append('layers', layers ? '1' : '0');
  const response = await fetch('api/colorize', { method: 'POST', body, signal });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const data = await response.json();
      detail = typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail);
    } catch { /* not JSON */ }
    const retryAfter = parseInt(response.headers.get('Retry-After') || '', 10) || 0;
    throw new ServerError(response.status, detail, retryAfter);
  }
  if (!claims && !layers) {
    const seconds = parseFloat(response.headers.get('X-Colorize-Seconds') || '0');
    return { seconds, resolution: parseInt(response.headers.get('X-Working-Size') || '0', 10),
      image: await response.blob() };
  }
  const data = await response.json();
  const out = { width: data.width, height: data.height, seconds: data.seconds, resolution: data.resolution,
    image: base64ToBlob(data.image) };
  if (data.claims) out.claims = { ...data.claims, regions: base64ToBlob(data.claims.regions) };
  const types = { line: 'image/png', flats: 'image/png', shading: 'image/png', ora: 'image/openraster',
    psd: 'image/vnd.adobe.photoshop' };
  for (const [key, type] of Object.entries(types)) if (data[key]) out[key] = base64ToBlob(data[key], type);
  return out;
}

/** {limits, model} from api/health and api/model; rejects when the server cannot be reached. */
export async function serverInfo() {
  const [health, model] = await Promise.all([fetch('api/health'), fetch('api/model')]);
  return { limits: health.ok ? (await health.json()).limits : null, model: model.ok ? await model.json() : null };
}

/** Fill the model dialog: a few facts, then the card (Markdown, rendered as DOM nodes). */
export function renderModel(m, { title, facts, card }) {
  title.textContent = `Model: ${m.name}`;
  const g = m.config?.generator ?? {};
  const rows = [
    ['Preset', m.config?.name], ['Description', m.config?.description], ['Training step', m.meta?.step],
    ['Generator', g.arch && `${g.arch}, ${g.block} blocks ×${g.num_blocks}, ${g.hint_encoder} hint encoder`],
    ['Trained at', m.native_size && `${m.native_size} px (long side)`], ['Weights', m.meta?.dtype],
    ['Source', m.meta?.source],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '');
  facts.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    return [dt, dd];
  }));
  card.replaceChildren(renderMarkdown(m.card ?? '', { headingOffset: 2 }));
}
