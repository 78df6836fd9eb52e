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

/** POST api/colorize with layers=1. Resolves to the answer with each image as a Blob; rejects with a
 * ServerError, a TypeError (the server cannot be reached) or an AbortError. */
export async function colorize({ file, hints, flats, resolution, signal }) {
  const body = new FormData();
  body.append('lineart', file, file.name || 'lineart.png');
  body.append('hints', hints, 'hints.png');
  body.append('layers', '1');
  body.append('flats', flats);
  body.append('resolution', String(resolution));
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
  const data = await response.json();
  return {
    width: data.width, height: data.height, seconds: data.seconds,
    image: base64ToBlob(data.image), line: base64ToBlob(data.line), flats: base64ToBlob(data.flats),
    shading: base64ToBlob(data.shading), ora: base64ToBlob(data.ora, 'image/openraster'),
    psd: base64ToBlob(data.psd, 'image/vnd.adobe.photoshop'),
  };
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
