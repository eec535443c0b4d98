#!/usr/bin/env node
/**
 * Abusive HTTP clients for the end-to-end tests, run inside a lab namespace (the test process cannot reach the
 * underlay): `node health-probe.js <mode> <host> <port> [seconds]`, printing one JSON line.
 * - battery: malformed and oversized requests one after another, each followed by a GET /healthz;
 * - siege: slowloris connections (a byte every 250 ms) and a flood of idle connections, for `seconds`;
 * - poll: GET /healthz every 200 ms for `seconds` (the well-behaved prober, from another address).
 */
import { connect } from 'node:net';
import { rawRequest, statusOf } from './raw-http.js';

const [mode = 'battery', host = '127.0.0.1', portText = '8471', secondsText = '6'] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText);
const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
const healthy = async () => statusOf((await rawRequest(host, port, [get('/healthz')])).response) === '200';

async function battery(): Promise<unknown> {
  const requests: Array<[string, Array<string | Buffer>, { timeoutMs?: number }?]> = [
    ['target //x:99999', [get('//x:99999')]],
    ['target //%zz', [get('//%zz')]],
    ['target /%zz', [get('/%zz')]],
    ['target *', [get('*')]],
    ['bad request line', ['GARBAGE\r\n\r\n']],
    ['binary request line', [Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])]],
    ['unknown HTTP version', ['GET /healthz HTTP/7.0\r\n\r\n']],
    ['1 MiB header', [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`]],
    ['10,000 headers', [`GET /healthz HTTP/1.1\r\nHost: x\r\n${'X: y\r\n'.repeat(10_000)}\r\n`]],
    ['negative content length', ['POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n']],
    ['chunked garbage', ['POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']],
  ];
  const results = [];
  for (const [sent, chunks, options] of requests) {
    const reply = await rawRequest(host, port, chunks, options ?? {});
    results.push({ sent, answer: statusOf(reply.response) || (reply.closedByServer ? 'closed' : 'no answer'), healthzAfter: await healthy() });
  }
  return { results };
}

async function siege(): Promise<unknown> {
  const slow = Array.from({ length: 20 }, () =>
    rawRequest(host, port, [...`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}`], { gapMs: 250, timeoutMs: seconds * 1000 }));
  const flood = Array.from({ length: 300 }, () => connect({ host, port }).on('error', () => undefined));
  const slowResults = await Promise.all(slow);
  for (const socket of flood) socket.destroy();
  return { slowTotal: slowResults.length, slowClosedByServer: slowResults.filter((result) => result.closedByServer).length };
}

async function poll(): Promise<unknown> {
  let ok = 0;
  let failed = 0;
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    if (await healthy()) ok++;
    else failed++;
    await new Promise((resume) => setTimeout(resume, 200));
  }
  return { ok, failed };
}

const run = { battery, siege, poll }[mode as 'battery' | 'siege' | 'poll'];
if (!run) throw new Error(`unknown mode ${mode}`);
console.log(JSON.stringify(await run()));
