#!/usr/bin/env node
/*
 * Stamp (or check) the hash of the extension's sources into the committed build, so a test can tell
 * when src/ or style/ changed without `npm run build` refreshing paved_lab/labextension.
 *   node scripts/source-hash.js --write   (run by `npm run build`)
 *   node scripts/source-hash.js --check   (exit 1 when the build is stale)
 * The same hash is computed in Python by tests/test_lab_extension.py (sorted relative paths + contents).
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const inputs = ['src', 'style', 'package.json', 'tsconfig.json'];
const stamp = path.join(root, 'paved_lab', 'labextension', 'source-hash.txt');

function files(rel) {
  const full = path.join(root, rel);
  if (fs.statSync(full).isDirectory()) {
    return fs.readdirSync(full).flatMap(name => files(path.posix.join(rel, name)));
  }
  return [rel];
}

function sourceHash() {
  const hash = crypto.createHash('sha256');
  for (const rel of inputs.flatMap(files).sort()) {
    hash.update(rel + '\n');
    hash.update(fs.readFileSync(path.join(root, rel)));
    hash.update('\n');
  }
  return hash.digest('hex');
}

const current = sourceHash();
if (process.argv.includes('--write')) {
  fs.writeFileSync(stamp, current + '\n');
  console.log(`source hash ${current} -> ${path.relative(root, stamp)}`);
} else {
  const built = fs.existsSync(stamp) ? fs.readFileSync(stamp, 'utf8').trim() : '(none)';
  if (built !== current) {
    console.error(`paved_lab/labextension is stale (built from ${built}, sources are ${current}): run npm run build`);
    process.exit(1);
  }
  console.log('paved_lab/labextension is up to date');
}
