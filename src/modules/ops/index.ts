export { databaseGate } from './database-gate';
export { opsRouter, registerOpsOpenApi } from './ops.router';
export * as opsService from './ops.service';
