// Which colorizer the page talks to. Served by `irodori serve`, the server (server.js); in the static site
// `irodori export-web` writes, whose index.html carries <meta name="irodori-backend" content="browser">, the
// browser itself (local.js). Both give `colorize(...)` and `serverInfo()` with the same answers.

import * as server from './server.js';

export { ServerError, renderModel } from './server.js';

/** 'browser' in the exported site, 'server' otherwise. */
export const backend = document.querySelector('meta[name="irodori-backend"]')?.content === 'browser' ? 'browser' : 'server';
const impl = backend === 'browser' ? await import('./local.js') : server;
document.body.dataset.backend = backend;
if (backend === 'browser') document.querySelector('a[href="docs"]')?.remove();  // no API without a server

export const colorize = (options) => impl.colorize(options);
export const serverInfo = () => impl.serverInfo();
