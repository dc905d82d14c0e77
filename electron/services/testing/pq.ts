/**
 * Test support: a mirror bundle encrypted (whole-file age) for a
 * post-quantum hybrid recipient (`age1pq1…`), its identity file
 * (`AGE-SECRET-KEY-PQ-1…`) and the signing key's public PEM file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { generateSigningKey, type SigningKey } from '../producer/keys';
import { writeMirrorBundle } from '../producer/mirror';
import { samplePayload } from '../producer/samples';

export interface PqBundle {
  /** The .tar.zst.age file. */
  file: string;
  identity: string;
  /** An identity file as age-keygen writes one (comments, then the identity). */
  identityFile: string;
  keyFile: string;
  key: SigningKey;
  tenant: string;
}

export async function writePqBundle(dir: string, opts: { tenant?: string } = {}): Promise<PqBundle> {
  const identity = await generateHybridIdentity();
  const recipient = await identityToRecipient(identity);
  const key = generateSigningKey('ed25519');
  const tenant = opts.tenant ?? 'acme';
  const b = await writeMirrorBundle(join(dir, 'mirror-20251029-full.tar.zst.age'), { key, tenant, files: samplePayload({ parts: 2 }), age: { recipients: [recipient] } });
  const identityFile = join(dir, 'pq-identity.txt');
  writeFileSync(identityFile, `# created: 2025-10-29T00:00:00Z\n# public key: ${recipient.slice(0, 24)}…\n${identity}\n`);
  const keyFile = join(dir, 'signer.pub');
  writeFileSync(keyFile, key.publicPem);
  return { file: b.file, identity, identityFile, keyFile, key, tenant };
}
