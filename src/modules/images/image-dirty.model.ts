import mongoose, { Schema } from 'mongoose';

/**
 * Dirty markers of the images' derived state, one per digest: whoever changes what an image shows
 * (findings, a scan job, a suppression, a tag's digest) marks the digest here BEFORE its write, so a
 * crash between the two leaves a marker and the drainer recomputes the digest. `gen` grows with every
 * mark: the drainer deletes a marker only when its `gen` is still the one it read before recomputing.
 */
const imageDirtySchema = new Schema(
  {
    /** The digest. */
    _id: { type: String, required: true },
    /** Last marked. */
    at: { type: Date, required: true },
    gen: { type: Number, default: 0 },
  },
  { versionKey: false },
);

imageDirtySchema.index({ at: 1 });

export interface ImageDirtyDoc {
  _id: string;
  at: Date;
  gen: number;
}

export const ImageDirtyModel = mongoose.model('ImageDirty', imageDirtySchema, 'image_dirty');
