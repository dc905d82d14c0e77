/**
 * Writes one benchmark corpus (bench/corpora.ts) as a signed bundle, for
 * profiling by hand: npx tsx bench/make-corpus.ts <512m|100k|1m> <dir> [member order]
 * Prints the bundle path and writes k.pub beside it. The member order is the
 * producer's (payload-first by default, as the Export Center writes; also
 * control-first, sorted, shuffle).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, writeMirrorBundle } from '../electron/services/producer/index';
import { CORPORA } from './corpora';

const [name, dir, order] = process.argv.slice(2);
const ORDERS = ['payload-first', 'control-first', 'sorted', 'shuffle'] as const;
const c = CORPORA[name ?? ''];
if (!c || !dir || (order !== undefined && !(ORDERS as readonly string[]).includes(order))) {
  console.error(`usage: npx tsx bench/make-corpus.ts <${Object.keys(CORPORA).join('|')}> <dir> [${ORDERS.join('|')}]`);
  process.exit(4);
}
mkdirSync(dir, { recursive: true });
const key = generateSigningKey('ecdsa-p256');
writeFileSync(join(dir, 'k.pub'), key.publicPem);
const r = await writeMirrorBundle(join(dir, 'mirror-20251029-full.tar.zst'), { key, files: c.files(), compressionLevel: 3, order: order as (typeof ORDERS)[number] | undefined });
console.log(r.file);
