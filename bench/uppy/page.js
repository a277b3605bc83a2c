// Uppy as its documentation sets it up for S3 through a signing backend (Companion's routes,
// served by server.mjs): the file input labelled like Hoist's, and a marker on <body> once
// Uppy reports every file done. `?chunk=MiB` fixes the part size (default: Uppy's own choice).
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { wire } from './markers.js';

const params = new URLSearchParams(location.search);
const chunkMiB = Number(params.get('chunk') ?? 0);
const options = { endpoint: location.origin };
if (chunkMiB > 0) {
  options.getChunkSize = () => chunkMiB * 1024 * 1024;
}
const uppy = new Uppy({ autoProceed: true }).use(AwsS3, options);

wire(uppy, (files) => files.forEach((file) => uppy.addFile(file)));
