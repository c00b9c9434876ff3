export { ImageModel, IMAGE_SORT_FIELDS, SCAN_STATUSES, type ImageDoc, type ScanStatus } from './image.model';
export { rescoreAll } from './images.service';
