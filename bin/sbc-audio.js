#!/usr/bin/env node
// Entry point. The published package ships the compiled JavaScript (dist/, `npm run build`) and no
// TypeScript sources: it runs that as it is. A checkout has src/cli/main.ts: tsx runs the sources
// (no build step while developing, and a stale dist/ is never run by mistake).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL('../dist/src/cli/main.js', import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));
