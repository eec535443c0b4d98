import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanPath, healthAnswer } from '../../src/adapters/http/health-routes.js';

describe('health answers (Go ServeMux behaviour, observed on upstream v0.20.2)', () => {
  // [method, target, ready, status, Location or body]
  const table: Array<[string, string, boolean, number, string]> = [
    ['GET', '/healthz', false, 200, 'flanneld is running'],
    ['POST', '/healthz', false, 200, 'flanneld is running'],
    ['GET', '/healthz?x=1', false, 200, 'flanneld is running'],
    ['GET', '/health%7A', false, 200, 'flanneld is running'],
    ['GET', 'http://foo/healthz', false, 200, 'flanneld is running'],
    ['GET', '/readyz', false, 503, 'flanneld is not ready yet'],
    ['GET', '/readyz', true, 200, 'flanneld is ready'],
    ['GET', '/healthz/', false, 404, '404 page not found\n'],
    ['GET', '/healthz#frag', false, 404, '404 page not found\n'],
    ['GET', '/healthz%3F', false, 404, '404 page not found\n'],
    ['GET', '/%00', false, 404, '404 page not found\n'],
    ['GET', '//x:99999', false, 301, '/x:99999'],
    ['GET', '//healthz', false, 301, '/healthz'],
    ['GET', '//healthz?a=1', false, 301, '/healthz?a=1'],
    ['GET', '/./healthz', false, 301, '/healthz'],
    ['GET', '/%2e/healthz', false, 301, '/healthz'],
    ['GET', '/a/../healthz', false, 301, '/healthz'],
    ['GET', '/a//b', false, 301, '/a/b'],
    ['GET', '/healthz/..', false, 301, '/'],
    ['GET', '/..', false, 301, '/'],
    ['GET', '//a b<', false, 301, '/a%20b%3C'],
    ['GET', '//%zz', false, 400, '400 Bad Request'],
    ['GET', '/%zz', false, 400, '400 Bad Request'],
    ['GET', '/%2', false, 400, '400 Bad Request'],
    ['GET', 'healthz', false, 400, '400 Bad Request'],
    ['GET', 'http://[bad/healthz', false, 400, '400 Bad Request'],
    ['GET', 'http://h:99999/healthz', false, 400, '400 Bad Request'],
    ['GET', '*', false, 400, ''],
    ['GET', '', false, 400, '400 Bad Request'],
  ];
  for (const [method, target, ready, status, expected] of table) {
    it(`${method} ${JSON.stringify(target)}${ready ? ' (ready)' : ''} → ${status}`, () => {
      const answer = healthAnswer(method, target, ready);
      assert.equal(answer.status, status);
      if (status === 301) assert.equal(answer.headers.Location, expected);
      else assert.equal(answer.body, expected);
    });
  }
  it('404 carries nosniff, 400 closes the connection, a redirect of GET has Go\'s HTML body', () => {
    assert.equal(healthAnswer('GET', '/x', false).headers['X-Content-Type-Options'], 'nosniff');
    assert.equal(healthAnswer('GET', '/%zz', false).headers.Connection, 'close');
    assert.equal(healthAnswer('GET', '//healthz', false).body, '<a href="/healthz">Moved Permanently</a>.\n\n');
    assert.equal(healthAnswer('POST', '//healthz', false).body, '');
  });
  it('serves /metrics only when a metrics page is given, after the same path cleaning', () => {
    const routes = { '/metrics': () => '# HELP a b\n' };
    assert.equal(healthAnswer('GET', '/metrics', false).status, 404);
    const page = healthAnswer('GET', '/metrics?x=1', false, routes);
    assert.deepEqual([page.status, page.headers['Content-Type'], page.body], [200, 'text/plain; version=0.0.4; charset=utf-8', '# HELP a b\n']);
    assert.equal(healthAnswer('GET', '/./metrics', false, routes).status, 301);
    assert.equal(healthAnswer('GET', '/metrics/', false, routes).status, 404);
    assert.equal(healthAnswer('GET', '/toString', false, routes).status, 404);
  });
  it('cleans paths as Go path.Clean, keeping a trailing slash', () => {
    assert.deepEqual(['/', '', '/a/', '/a/./b/../c', '//', '/a/b/..'].map(cleanPath), ['/', '/', '/a/', '/a/c', '/', '/a']);
  });
});
