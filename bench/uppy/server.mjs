// The backend an Uppy user writes (or runs as Companion): a page with Uppy, and Companion's S3
// routes, signing with the store's credentials. For the side-by-side benchmark only.
//   node bench/uppy/server.mjs PORT BUCKET
// Reads HOIST_S3_ENDPOINT, HOIST_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { AwsClient } from 'aws4fetch';

const [port, bucket] = process.argv.slice(2);
const endpoint = process.env.HOIST_S3_ENDPOINT.replace(/\/$/, '');
const s3 = new AwsClient({
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  service: 's3',
  region: process.env.HOIST_S3_REGION,
});
const URL_TTL = 900;

const bundle = await build({
  entryPoints: [fileURLToPath(new URL('page.js', import.meta.url))],
  bundle: true,
  minify: true,
  format: 'esm',
  write: false,
});
const script = bundle.outputFiles[0].text;
const html = `<!doctype html><html><head><meta charset="utf-8"><title>Uppy</title></head>
<body><input type="file" multiple aria-label="Choose files"><script type="module" src="/uppy.js"></script></body></html>`;

const objectUrl = (key, query = '') =>
  `${endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}${query}`;
const presign = async (url, method) =>
  (await s3.sign(`${url}${url.includes('?') ? '&' : '?'}X-Amz-Expires=${URL_TTL}`, { method, aws: { signQuery: true } })).url;
const between = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);

async function store(url, init) {
  const response = await s3.fetch(url, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method} ${url}: ${response.status} ${text}`);
  return text;
}

async function route(req, url, body) {
  const key = url.searchParams.get('key');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (req.method === 'GET' && url.pathname === '/s3/params') {
    const name = url.searchParams.get('filename');
    return {
      method: 'PUT',
      url: await presign(objectUrl(`uppy/${randomUUID()}/${name}`), 'PUT'),
      fields: {},
      headers: { 'content-type': url.searchParams.get('type') },
    };
  }
  if (req.method === 'POST' && url.pathname === '/s3/multipart') {
    const newKey = `uppy/${randomUUID()}/${body.filename}`;
    const xml = await store(objectUrl(newKey, '?uploads'), { method: 'POST', headers: { 'content-type': body.type } });
    return { key: newKey, uploadId: between(xml, 'UploadId')[0] };
  }
  if (parts[0] === 's3' && parts[1] === 'multipart' && parts.length === 4 && req.method === 'GET') {
    const query = `?partNumber=${parts[3]}&uploadId=${encodeURIComponent(parts[2])}`;
    return { url: await presign(objectUrl(key, query), 'PUT'), expires: URL_TTL };
  }
  if (parts[0] === 's3' && parts[1] === 'multipart' && parts.length === 3 && req.method === 'GET') {
    const xml = await store(objectUrl(key, `?uploadId=${encodeURIComponent(parts[2])}`), { method: 'GET' });
    const numbers = between(xml, 'PartNumber');
    const sizes = between(xml, 'Size');
    const etags = between(xml, 'ETag');
    return numbers.map((n, i) => ({ PartNumber: Number(n), Size: Number(sizes[i]), ETag: etags[i] }));
  }
  if (parts[3] === 'complete' && req.method === 'POST') {
    const list = body.parts
      .map((p) => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag></Part>`)
      .join('');
    await store(objectUrl(key, `?uploadId=${encodeURIComponent(parts[2])}`), {
      method: 'POST',
      body: `<CompleteMultipartUpload>${list}</CompleteMultipartUpload>`,
    });
    return { location: objectUrl(key) };
  }
  if (req.method === 'DELETE' && parts.length === 3) {
    await store(objectUrl(key, `?uploadId=${encodeURIComponent(parts[2])}`), { method: 'DELETE' });
    return {};
  }
  return null;
}

// What Uppy's documentation asks of the bucket: the page's origin may PUT, and read the ETag.
const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>http://127.0.0.1:${port}</AllowedOrigin>
<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
await store(`${endpoint}/${bucket}?cors`, { method: 'PUT', body: cors });

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const send = (status, type, text) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(text);
  };
  if (url.pathname === '/') return send(200, 'text/html', html);
  if (url.pathname === '/uppy.js') return send(200, 'text/javascript', script);
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString();
  try {
    const answer = await route(req, url, raw ? JSON.parse(raw) : {});
    if (answer === null) return send(404, 'text/plain', 'not found');
    send(200, 'application/json', JSON.stringify(answer));
  } catch (e) {
    console.error(e);
    send(500, 'application/json', JSON.stringify({ message: String(e) }));
  }
}).listen(Number(port), '127.0.0.1', () => console.log(`uppy page on http://127.0.0.1:${port}`));
