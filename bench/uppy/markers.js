// What both Uppy pages (Uppy 5 here, Uppy 6 in ../uppy6) share: the file input labelled like
// Hoist's feeding Uppy through `add`, and the markers on <body> the benchmark reads — `ready`,
// `done` (files that succeeded) and `failed` once Uppy reports every file, `error` on a failure.
export function wire(uppy, add) {
  uppy.on('complete', (result) => {
    document.body.dataset.done = String(result.successful.length);
    document.body.dataset.failed = String(result.failed.length);
  });
  uppy.on('upload-error', (file, error) => {
    document.body.dataset.error = `${file?.name}: ${error?.message}`;
  });
  const input = document.querySelector('input[type=file]');
  input.addEventListener('change', () => {
    add([...input.files].map((file) => ({ name: file.name, type: file.type || 'application/octet-stream', data: file, source: 'input' })));
  });
  document.body.dataset.ready = 'true';
}
