/**
 * DSSE (Dead Simple Signing Envelope) helpers: the pre-authentication encoding
 * (PAE) that DSSE signatures cover, and a strict envelope reader.
 *
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
 * where LEN is the decimal byte length (protocol v1 of the DSSE spec).
 */
import { z } from 'zod';

export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const base64Field = z.string().refine((s) => BASE64.test(s) && s.length % 4 === 0, 'not standard base64');

const EnvelopeSchema = z.object({
  payloadType: z.string().min(1),
  payload: base64Field,
  signatures: z.array(z.object({ keyid: z.string().optional(), sig: base64Field.refine((s) => s.length > 0, 'empty signature') })).min(1),
});

export interface DsseEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: { keyid?: string; sig: Buffer }[];
}

/** Parses a DSSE envelope (JSON bytes); returns null when it is not a well-formed envelope. */
export function parseDsseEnvelope(bytes: Buffer): DsseEnvelope | null {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  const r = EnvelopeSchema.safeParse(json);
  if (!r.success) return null;
  return {
    payloadType: r.data.payloadType,
    payload: Buffer.from(r.data.payload, 'base64'),
    signatures: r.data.signatures.map((s) => ({ ...(s.keyid !== undefined ? { keyid: s.keyid } : {}), sig: Buffer.from(s.sig, 'base64') })),
  };
}
