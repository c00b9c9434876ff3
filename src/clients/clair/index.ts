export { createClairClient } from './clair.client';
export type { ClairClientOptions, RetryPolicy } from './clair-http';
export type { ClairPsk } from './clair-psk';
export type { ClairClient, Finding, ScanInput, ScanReport } from './clair.types';
