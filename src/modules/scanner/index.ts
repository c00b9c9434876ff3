export { scannerRouter, registerScannerOpenApi, scannerFrom, clairFrom, type Scanner } from './scanner.router';
export { createScannerService, literal, type ScannerService, type DiscoveryResult } from './scanner.service';
export { createScanWorker, type ScanWorker } from './scan.worker';
export { createRefresher, type Refresher } from './refresh';
export { storeReport, applySummary, recordScanResult, dedupeFindings, type DigestSummary } from './findings.store';
export { FindingModel, FINDING_SORT_FIELDS, type FindingDoc } from './finding.model';
export { ScanJobModel, JOB_STATES, type ScanJobDoc, type JobState } from './scan-job.model';
