// A deliberately hostile file server on loopback: what a customer (or a compromised provider) could point the
// gateway at. Redirects, HTML posing as media, endless and oversized bodies, stalls and errors. Every request is
// recorded, and the endless body counts how much of it the client actually pulled before it hung up.
import { createServer } from 'node:http';
import { padded, png } from './media.mjs';

const MiB = 1024 * 1024;

/** A real PCM WAV file (16 kHz mono 16-bit) of `ms` milliseconds of silence. */
export function wav(ms = 100) {
  const samples = Math.round(16 * ms);
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

/**
 * @param {{ port?: number }} [opts]
 * @returns {Promise<{ url: string, stats: () => { requests: string[], endlessBytes: number }, close: () => Promise<void> }>}
 */
export async function startFiles({ port = 0 } = {}) {
  const requests = [];
  let endlessBytes = 0;
  const image = png(4, 4, [10, 200, 30]);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ requests, endlessBytes }));
    }
    requests.push(url.pathname + url.search);
    const send = (status, type, body, extra = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': body.length, ...extra });
      res.end(body);
    };
    const hops = url.pathname.match(/^\/hops\/(\d+)$/);
    if (hops) {
      const n = Number(hops[1]);
      if (n === 0) return send(200, 'image/png', image);
      res.writeHead(302, { location: `/hops/${n - 1}` });
      return res.end();
    }
    switch (url.pathname) {
      case '/png':
        return send(200, 'image/png', image);
      case '/sized.png':
        return send(200, 'image/png', padded(image, Number(url.searchParams.get('bytes') ?? 0)));
      case '/png-as-octets':
        return send(200, 'application/octet-stream', image);
      case '/wav':
        return send(200, 'audio/wav', wav());
      case '/html':
        return send(200, 'image/png', Buffer.from('<!doctype html><script>alert(document.cookie)</script>'));
      case '/redirect': {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/png' });
        return res.end();
      }
      case '/endless': {
        // Starts like a PNG, then never stops (no Content-Length): a streamed cap must cut it off.
        res.writeHead(200, { 'content-type': 'image/png' });
        const chunk = Buffer.concat([image, Buffer.alloc(256 * 1024 - image.length)]);
        const pump = () => {
          while (endlessBytes < 400 * MiB) {
            endlessBytes += chunk.length;
            if (!res.write(chunk)) return res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => res.removeAllListeners('drain'));
        return pump();
      }
      case '/big-declared':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(200 * MiB) });
        return res.end(image); // declares 200 MiB, sends a few bytes
      case '/stall':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(image.subarray(0, 20));
        return; // never finishes
      default: {
        const status = url.pathname.match(/^\/status\/(\d{3})$/);
        return send(status ? Number(status[1]) : 404, 'text/plain', Buffer.from('nope'));
      }
    }
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve(undefined)));
  const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return {
    url,
    stats: () => ({ requests: [...requests], endlessBytes }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
