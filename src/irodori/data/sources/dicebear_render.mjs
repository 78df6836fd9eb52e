// Render DiceBear avatars to SVG files for `irodori prepare dicebear`.
//
// Usage: node dicebear_render.mjs JOBS.json
// JOBS.json: {"modules": DIR, "out": DIR, "jobs": [{"style": "adventurer", "seed": "s1", "name": "x", "flip": false}]}
// DIR/node_modules/@dicebear/{core,STYLE} must hold the unpacked packages. Each job writes OUT/NAME.svg
// (no background; the Python side composes and rasterizes). Prints one line per finished job.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const load = (name) => import(pathToFileURL(join(spec.modules, 'node_modules', '@dicebear', name, 'lib', 'index.js')).href);
const core = await load('core');
const styles = {};
for (const job of spec.jobs) {
  styles[job.style] ??= await load(job.style);
  const svg = core.createAvatar(styles[job.style], { ...(job.options ?? {}), seed: job.seed, flip: !!job.flip }).toString();
  const target = join(spec.out, `${job.name}.svg`);
  writeFileSync(`${target}.tmp`, svg);
  renameSync(`${target}.tmp`, target);
  console.log(job.name);
}
