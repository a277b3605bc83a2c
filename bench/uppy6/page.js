// Uppy 6 (@uppy/core + @uppy/aws-s3 6.x, its current release) as its documentation sets it up
// for S3 through Companion's routes (bench/uppy/server.mjs): headless, or with its Dashboard
// drawing every file (`?dashboard=1`). `?chunk=MiB` fixes the part size. The same markers on
// <body> as the Uppy 5 page.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import Dashboard from '@uppy/dashboard';
import { wire } from '../uppy/markers.js';

const params = new URLSearchParams(location.search);
const chunkMiB = Number(params.get('chunk') ?? 0);
const options = { companionEndpoint: location.origin };
if (chunkMiB > 0) {
  options.getChunkSize = () => chunkMiB * 1024 * 1024;
}
const uppy = new Uppy({ autoProceed: true }).use(AwsS3, options);
if (params.get('dashboard')) {
  uppy.use(Dashboard, { inline: true, target: '#dashboard', hideUploadButton: true, width: '100%', height: 550 });
}

// One call for the whole picking, as the Dashboard's own picker does.
wire(uppy, (files) => uppy.addFiles(files));
