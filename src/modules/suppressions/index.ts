export { suppressionsRouter, registerSuppressionsOpenApi, suppressionsFrom } from './suppressions.router';
export { createSuppressionsService, type SuppressionsService } from './suppressions.service';
export { SuppressionModel, SUPPRESSION_SCOPES, type SuppressionDoc, type SuppressionScope } from './suppression.model';
export { ADVISORY_PATTERNS, CveId, type SuppressionBody, type SuppressionView } from './suppressions.schemas';
export { loadActiveSuppressions, suppressedCves, coversImage, type ActiveSuppression } from './suppression.match';
export { recountCves, recountDigests, markCvesImagesDirty } from './suppressions.recount';
