// A few read-only S3 calls, signed (SigV4, by aws4fetch) with the test's own credentials, to
// check what the bucket really holds — the tests never take the app's word for it.
import { AwsClient } from 'aws4fetch';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test.sh`);
  return value;
}

/** A GET on the bucket itself (path-style) with `query`, answered as text. */
async function listBucket(query: Record<string, string>, what: string): Promise<string> {
  const client = new AwsClient({
    accessKeyId: env('AWS_ACCESS_KEY_ID'),
    secretAccessKey: env('AWS_SECRET_ACCESS_KEY'),
    region: env('HOIST_S3_REGION'),
    service: 's3',
  });
  const url = new URL(`${env('HOIST_S3_ENDPOINT').replace(/\/$/, '')}/${encodeURIComponent(env('HOIST_S3_BUCKET'))}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const response = await client.fetch(url.toString(), { method: 'GET' });
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return response.text();
}

/** Incomplete multipart uploads the bucket holds under `prefix` (ListMultipartUploads). */
export async function multipartUploadsUnder(prefix: string): Promise<number> {
  const listing = await listBucket({ prefix, uploads: '' }, 'ListMultipartUploads');
  return (listing.match(/<Upload>/g) ?? []).length;
}

/** Objects the bucket holds under `prefix` (ListObjectsV2). */
export async function objectsUnder(prefix: string): Promise<number> {
  const listing = await listBucket({ 'list-type': '2', prefix }, 'ListObjectsV2');
  return (listing.match(/<Contents>/g) ?? []).length;
}
