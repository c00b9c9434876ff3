export { ImageModel, IMAGE_SORT_FIELDS, SCAN_STATUSES, type ImageDoc, type ScanStatus } from './image.model';
export { ImageDirtyModel, type ImageDirtyDoc } from './image-dirty.model';
export { rescoreAll } from './images.service';
export {
  markImagesDirty,
  recomputeImages,
  drainImageMarkers,
  reconcileImages,
  deriveImageState,
  statusOf,
  noDigestState,
  DERIVED_FIELDS,
  type DerivedImageState,
} from './image-state';
export { createImageOwner, type ImageOwner } from './image-owner';
