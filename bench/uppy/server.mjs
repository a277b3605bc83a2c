// The backend an Uppy user writes (or runs as Companion): a page with Uppy, and Companion's S3
// routes, signing with the store's credentials. For the side-by-side benchmark only.
//   node bench/uppy/server.mjs PORT BUCKET
// Reads HOIST_S3_ENDPOINT, HOIST_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
import { createServer } from 'node:http';
import { createHmac, randomUUID } from 'node:crypto';
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

// Uppy 5 (this folder) and Uppy 6 (../uppy6, its own node_modules: the two majors cannot share
// one), each bundled as a user's build would.
const bundle = async (dir) => {
  const out = await build({
    entryPoints: [fileURLToPath(new URL(`../${dir}/page.js`, import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    outdir: 'out',
    loader: { '.css': 'css' },
  });
  const text = (ext) => out.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  return { js: text('.js'), css: text('.css') };
};
const pages = { 5: await bundle('uppy'), 6: await bundle('uppy6') };
const html = (major) => `<!doctype html><html><head><meta charset="utf-8"><title>Uppy ${major}</title>
<link rel="stylesheet" href="/uppy${major}.css"></head>
<body><input type="file" multiple aria-label="Choose files"><div id="dashboard"></div>
<script type="module" src="/uppy${major}.js"></script></body></html>`;

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

// An S3 POST policy (SigV4) for one key, as Companion 6 signs it.
function postPolicy(key, type) {
  const now = new Date();
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = stamp.slice(0, 8);
  const region = process.env.HOIST_S3_REGION;
  const credential = `${process.env.AWS_ACCESS_KEY_ID}/${day}/${region}/s3/aws4_request`;
  const fields = {
    key,
    'Content-Type': type,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': credential,
    'x-amz-date': stamp,
  };
  const policy = Buffer.from(JSON.stringify({
    expiration: new Date(now.getTime() + URL_TTL * 1000).toISOString(),
    conditions: [{ bucket }, ...Object.entries(fields).map(([k, v]) => ({ [k]: v }))],
  })).toString('base64');
  const hmac = (k, v) => createHmac('sha256', k).update(v).digest();
  let signing = hmac(`AWS4${process.env.AWS_SECRET_ACCESS_KEY}`, day);
  for (const part of [region, 's3', 'aws4_request']) signing = hmac(signing, part);
  return {
    method: 'POST',
    url: `${endpoint}/${bucket}`,
    fields: { ...fields, policy, 'x-amz-signature': createHmac('sha256', signing).update(policy).digest('hex') },
  };
}

async function route(req, url, body, major) {
  const key = url.searchParams.get('key');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (req.method === 'GET' && url.pathname === '/s3/params' && major === '6') {
    // Uppy 6 sends a small file as a browser form POST with a signed policy (Companion 6).
    return postPolicy(`uppy/${randomUUID()}/${url.searchParams.get('filename')}`, url.searchParams.get('type'));
  }
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
<AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
await store(`${endpoint}/${bucket}?cors`, { method: 'PUT', body: cors });

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const send = (status, type, text) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(text);
  };
  // Which page the request came from: Uppy 6's small-file route differs from Uppy 5's.
  const major = /\/uppy6\b|[?&]v=6\b/.test(req.headers.referer ?? '') ? '6' : '5';
  if (url.pathname === '/') return send(200, 'text/html', html(url.searchParams.get('v') === '6' ? 6 : 5));
  const asset = url.pathname.match(/^\/uppy([56])\.(js|css)$/);
  if (asset) return send(200, asset[2] === 'js' ? 'text/javascript' : 'text/css', pages[asset[1]][asset[2]]);
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString();
  try {
    const answer = await route(req, url, raw ? JSON.parse(raw) : {}, major);
    if (answer === null) return send(404, 'text/plain', 'not found');
    send(200, 'application/json', JSON.stringify(answer));
  } catch (e) {
    console.error(e);
    send(500, 'application/json', JSON.stringify({ message: String(e) }));
  }
}).listen(Number(port), '127.0.0.1', () => console.log(`uppy page on http://127.0.0.1:${port}`));
