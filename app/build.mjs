// Builds the web app into app/dist/: type-checks app/src with `tsc --noEmit` (strict), bundles
// app/src/main.ts with esbuild and copies index.html. Skips everything when no input changed
// since the last build (a digest of the inputs is kept in app/dist/.inputs), so set-up stays fast.
// `--force` rebuilds anyway.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = dirname(fileURLToPath(import.meta.url));
const ROOT = join(APP, '..');
const DIST = join(APP, 'dist');
const STAMP = join(DIST, '.inputs');

/** Every file under `dir`, sorted, as paths relative to the repository root. */
function files(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    })
    .sort();
}

const inputs = [
  ...files(join(APP, 'src')),
  join(APP, 'index.html'),
  join(APP, 'build.mjs'),
  join(APP, 'tsconfig.json'),
  join(ROOT, 'package-lock.json'),
];
const digest = createHash('sha256');
for (const path of inputs) {
  digest.update(relative(ROOT, path)).update('\0').update(readFileSync(path)).update('\0');
}
const want = digest.digest('hex');
if (!process.argv.includes('--force') && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === want) {
  process.exit(0);
}

const bin = (tool) => join(ROOT, 'node_modules', '.bin', tool);
/** Runs a build tool; its own output says what went wrong. */
function run(tool, args) {
  try {
    execFileSync(bin(tool), args, { stdio: 'inherit' });
  } catch {
    process.stderr.write(`web app build failed: ${tool} (see above)\n`);
    process.exit(1);
  }
}
run('tsc', ['--project', join(APP, 'tsconfig.json')]);
rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });
run(
  'esbuild',
  [
    join(APP, 'src', 'main.ts'),
    '--bundle',
    '--format=esm',
    '--target=es2022',
    '--minify',
    '--legal-comments=none',
    `--outfile=${join(DIST, 'app.js')}`,
    '--log-level=warning',
  ],
);
copyFileSync(join(APP, 'index.html'), join(DIST, 'index.html'));
writeFileSync(STAMP, want);
process.stderr.write(`web app built into ${relative(ROOT, DIST)}/\n`);
