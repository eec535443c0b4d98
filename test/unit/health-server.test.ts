import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HealthServer, startHealthServer } from '../../src/adapters/http/health-server.js';
import { bodyOf, rawRequest, statusOf } from '../support/raw-http.js';

const get = (target: string) => [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`];

describe('health server on loopback', () => {
  let server: HealthServer;
  let ready = false;
  before(async () => {
    server = await startHealthServer('127.0.0.1', 0, () => ready);
  });
  after(() => server.close());

  it('answers /healthz and /readyz as upstream', async () => {
    const healthz = await rawRequest('127.0.0.1', server.port, get('/healthz'));
    assert.equal(statusOf(healthz.response), '200');
    assert.equal(bodyOf(healthz.response), 'flanneld is running');
    assert.match(healthz.response, /Content-Type: text\/plain; charset=utf-8/);
    ready = false;
    assert.equal(bodyOf((await rawRequest('127.0.0.1', server.port, get('/readyz'))).response), 'flanneld is not ready yet');
    ready = true;
    const readyz = await rawRequest('127.0.0.1', server.port, get('/readyz'));
    assert.deepEqual([statusOf(readyz.response), bodyOf(readyz.response)], ['200', 'flanneld is ready']);
    const missing = await rawRequest('127.0.0.1', server.port, get('/nope'));
    assert.deepEqual([statusOf(missing.response), bodyOf(missing.response)], ['404', '404 page not found\n']);
  });

  // Regression (issue 7 #1): these targets made `new URL()` throw inside the request handler and the process died.
  for (const [target, status] of [['//x:99999', '301'], ['//%zz', '400'], ['/%zz', '400'], ['//[::1', '301'], ['http://[bad/healthz', '400']] as const) {
    it(`survives the request target ${target} (${status}) and keeps answering`, async () => {
      const reply = await rawRequest('127.0.0.1', server.port, get(target));
      assert.equal(statusOf(reply.response), status, reply.response);
      const healthz = await rawRequest('127.0.0.1', server.port, get('/healthz'));
      assert.equal(statusOf(healthz.response), '200');
    });
  }

  it('answers a malformed request line with 400 and closes, then keeps answering', async () => {
    for (const line of ['GARBAGE\r\n\r\n', 'GET\r\n\r\n', 'GET /healthz HTTP/9.9\r\n\r\n', '\x00\x01\x02 / HTTP/1.1\r\n\r\n']) {
      const reply = await rawRequest('127.0.0.1', server.port, [line]);
      assert.ok(reply.closedByServer, `connection closed after ${JSON.stringify(line)}`);
      assert.match(statusOf(reply.response), /^(400|505|)$/, reply.response);
    }
    assert.equal(statusOf((await rawRequest('127.0.0.1', server.port, get('/healthz'))).response), '200');
  });

  it('refuses huge headers with 431', async () => {
    const huge = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`;
    const reply = await rawRequest('127.0.0.1', server.port, [huge]);
    assert.equal(statusOf(reply.response), '431');
    assert.equal(statusOf((await rawRequest('127.0.0.1', server.port, get('/healthz'))).response), '200');
  });
});

describe('health server with metrics', () => {
  it('serves the metrics page at /metrics, and a page that throws answers 500 without ending the server', async () => {
    let fail = false;
    const errors: string[] = [];
    const server = await startHealthServer('127.0.0.1', 0, () => true, {
      metrics: () => {
        if (fail) throw new Error('collector broke');
        return 'flannel_ready 1\n';
      },
      onError: (message) => errors.push(message),
    });
    try {
      const reply = await rawRequest('127.0.0.1', server.port, get('/metrics'));
      assert.equal(statusOf(reply.response), '200');
      assert.match(reply.response, /Content-Type: text\/plain; version=0\.0\.4; charset=utf-8/);
      assert.equal(bodyOf(reply.response), 'flannel_ready 1\n');
      fail = true;
      assert.equal(statusOf((await rawRequest('127.0.0.1', server.port, get('/metrics'))).response), '500');
      assert.match(errors.join(), /health request "\/metrics": collector broke/);
      assert.equal(statusOf((await rawRequest('127.0.0.1', server.port, get('/healthz'))).response), '200');
    } finally {
      await server.close();
    }
  });
});

describe('health server against slow and greedy clients', () => {
  let server: HealthServer;
  before(async () => {
    server = await startHealthServer('127.0.0.1', 0, () => true, {
      limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, idleSocketTimeoutMs: 600, maxConnections: 8, maxConnectionsPerClient: 4 },
    });
  });
  after(() => server.close());

  it('drops a slowloris client (one header byte at a time) at the headers timeout', async () => {
    const bytes = [...'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100)];
    const started = Date.now();
    const reply = await rawRequest('127.0.0.1', server.port, bytes, { gapMs: 50, timeoutMs: 4000 });
    assert.ok(reply.closedByServer, 'the server closed the connection');
    assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
  });

  it('a flood from one client address does not starve a prober on another', async () => {
    const { connect } = await import('node:net');
    const flood = Array.from({ length: 20 }, () => connect({ host: '127.0.0.1', port: server.port }).on('error', () => undefined));
    await new Promise((resume) => setTimeout(resume, 100));
    try {
      const probe = await rawRequest('127.0.0.1', server.port, get('/healthz'), { localAddress: '127.0.0.2' });
      assert.equal(statusOf(probe.response), '200', 'answered while 20 idle connections come from 127.0.0.1');
    } finally {
      for (const socket of flood) socket.destroy();
    }
  });

  it('caps open connections, and answers again once idle ones are dropped', async () => {
    const { connect } = await import('node:net');
    const idle = Array.from({ length: 6 }, () => connect({ host: '127.0.0.1', port: server.port }).on('error', () => undefined));
    await new Promise((resume) => setTimeout(resume, 100));
    const closed = await Promise.all(idle.map((socket) => new Promise<boolean>((resolve) => {
      if (socket.destroyed) resolve(true);
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000).unref();
    })));
    assert.ok(closed.every(Boolean), 'every idle connection was closed by the server');
    assert.equal(statusOf((await rawRequest('127.0.0.1', server.port, get('/healthz'))).response), '200');
  });
});
