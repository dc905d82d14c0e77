/**
 * Writes one benchmark corpus (bench/corpora.ts) as a signed bundle, for
 * profiling by hand: npx tsx bench/make-corpus.ts <512m|100k|1m> <dir>
 * Prints the bundle path and writes k.pub beside it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, writeMirrorBundle } from '../electron/services/producer/index';
import { CORPORA } from './corpora';

const [name, dir] = process.argv.slice(2);
const c = CORPORA[name ?? ''];
if (!c || !dir) {
  console.error(`usage: npx tsx bench/make-corpus.ts <${Object.keys(CORPORA).join('|')}> <dir>`);
  process.exit(4);
}
mkdirSync(dir, { recursive: true });
const key = generateSigningKey('ecdsa-p256');
writeFileSync(join(dir, 'k.pub'), key.publicPem);
const r = await writeMirrorBundle(join(dir, 'mirror-20251029-full.tar.zst'), { key, files: c.files(), compressionLevel: 3 });
console.log(r.file);
