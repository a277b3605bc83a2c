// A few read-only S3 calls, signed with SigV4 from the test's own credentials, to check what
// the bucket really holds — the tests never take the app's word for it.
import { createHash, createHmac } from 'node:crypto';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test.sh`);
  return value;
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
// RFC 3986 encoding, as SigV4 wants it.
const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

async function s3(method: 'GET' | 'HEAD', key: string | null, query: Record<string, string> = {}) {
  const endpoint = new URL(env('HOIST_S3_ENDPOINT'));
  const region = env('HOIST_S3_REGION');
  const bucket = env('HOIST_S3_BUCKET');
  const path = '/' + [bucket, ...(key === null ? [] : key.split('/'))].map(encode).join('/');
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payload = sha256('');
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${encode(k)}=${encode(query[k])}`)
    .join('&');
  const signedHeaders = 'host;x-amz-content-sha256;x-amz-date';
  const canonical = [
    method,
    path,
    canonicalQuery,
    `host:${endpoint.host}\nx-amz-content-sha256:${payload}\nx-amz-date:${amzDate}\n`,
    signedHeaders,
    payload,
  ].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let signingKey = hmac('AWS4' + env('AWS_SECRET_ACCESS_KEY'), day);
  for (const part of [region, 's3', 'aws4_request']) signingKey = hmac(signingKey, part);
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  const url = `${endpoint.origin}${path}${canonicalQuery ? '?' + canonicalQuery : ''}`;
  return fetch(url, {
    method,
    headers: {
      'x-amz-content-sha256': payload,
      'x-amz-date': amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=${env('AWS_ACCESS_KEY_ID')}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
  });
}

/** Incomplete multipart uploads the bucket holds under `prefix` (ListMultipartUploads). */
export async function multipartUploadsUnder(prefix: string): Promise<number> {
  const response = await s3('GET', null, { prefix, uploads: '' });
  if (!response.ok) throw new Error(`ListMultipartUploads: ${response.status} ${await response.text()}`);
  return ((await response.text()).match(/<Upload>/g) ?? []).length;
}

/** Objects the bucket holds under `prefix` (ListObjectsV2). */
export async function objectsUnder(prefix: string): Promise<number> {
  const response = await s3('GET', null, { 'list-type': '2', prefix });
  if (!response.ok) throw new Error(`ListObjectsV2: ${response.status} ${await response.text()}`);
  return ((await response.text()).match(/<Contents>/g) ?? []).length;
}
