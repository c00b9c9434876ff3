export {
  vulnerabilitiesRouter,
  scannerIntelRouter,
  registerVulnerabilitiesOpenApi,
  vulnerabilitiesFrom,
  type Vulnerabilities,
} from './vulnerabilities.router';
export { createVulnerabilitiesService, type VulnerabilitiesService } from './vulnerabilities.service';
export {
  createCveSummarizer,
  drainDirty,
  recomputeCve,
  markCvesDirty,
  markDigestsDirty,
  markCvesOfDigestsDirty,
  type CveSummarizer,
} from './cve-summaries';
export { recordScan } from './image-history';
export {
  CveSummaryModel,
  CveDirtyModel,
  CVE_SORT_FIELDS,
  ALL_REGISTRIES,
  type CveSummaryDoc,
} from './cve-summary.model';
export { ImageHistoryModel, type ImageHistoryDoc } from './image-history.model';
export { csvField } from './export-format';
