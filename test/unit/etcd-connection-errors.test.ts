/** Connection failures said in words, and which of them are configuration mistakes (fatal) or passing (retried). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeConnectionFailure } from '../../src/adapters/etcd/etcd-connection-errors.js';

const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('describeConnectionFailure', () => {
  const cases: Array<[string, string, unknown, boolean, RegExp, boolean]> = [
    ['https:// to a plain port, closed with a FIN', 'https://e:2379', coded('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'), false, /use http:\/\//, true],
    ['https:// to a plain port, closed with a RST', 'https://e:2379', coded('ECONNRESET', 'read ECONNRESET'), false, /use http:\/\//, true],
    ['a reset of an established https connection is passing', 'https://e:2379', coded('ECONNRESET', 'read ECONNRESET'), true, /read ECONNRESET/, false],
    ['a reset of a plain connection is passing', 'http://e:2379', coded('ECONNRESET', 'read ECONNRESET'), false, /read ECONNRESET/, false],
    ['http:// to a TLS port', 'http://e:2379', undefined, false, /use https:\/\//, true],
    ['refused', 'https://e:2379', coded('ECONNREFUSED', 'connect ECONNREFUSED'), false, /connection refused/, false],
    ['untrusted server certificate', 'https://e:2379', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify'), false, /not trusted/, true],
  ];
  for (const [name, endpoint, error, handshakeDone, message, configuration] of cases) {
    it(name, () => {
      const failure = describeConnectionFailure(endpoint, error, handshakeDone);
      assert.match(failure.message, message);
      assert.equal(failure.configuration, configuration);
    });
  }
});
