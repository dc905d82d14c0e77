/**
 * The project's own producer of Export Center bundles and offline kits, to the
 * contract in ../shared/spec/bundle-format.md. Used by tests, benchmarks and
 * the demo kit; `tamper` options make each refusal case on purpose.
 */
export { generateSigningKey, signBlob, signRaw, signatureFile, dsseEnvelope, keyFingerprint, SIGNING_ALGORITHMS } from './keys';
export type { SigningAlgorithm, SigningKey } from './keys';
export { contentBytes, contentSize, digestContent, plaintextChunks, isGenerated } from './content';
export type { Content, GeneratedContent, Digests } from './content';
export { stateDigest, nextState, stateSummary } from './state';
export type { StateEntry } from './state';
export { writeMirrorBundle, bundleFileName, jsonBytes, mediaTypeFor, sha256File } from './mirror';
export type {
  MirrorBundleSpec,
  MirrorBundleResult,
  MirrorTamper,
  PayloadFile,
  BaseRef,
  RawMember,
  ExportJsonDoc,
  PerFileEncryptionSpec,
  WholeFileAgeSpec,
} from './mirror';
export { writeTrivyBundle, minimalJavaDb } from './trivy';
export type { TrivyBundleSpec, TrivyBundleResult, TrivyKind } from './trivy';
export { minimalBbolt, fnv1a64 } from './bbolt';
export { writeKit } from './kit';
export type { KitSpec, KitResult, KitMirrorSpec, KitTrivySpec, KitManifestEntry } from './kit';
export { tarHeader, padding, TAR_END } from './tar';
export type { TarType, TarHeaderInput } from './tar';
export { samplePayload, generatedPayload } from './samples';
