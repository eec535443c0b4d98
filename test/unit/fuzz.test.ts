/**
 * A bounded fuzz run (fast-check, a few seconds in all) over everything that parses input from outside:
 * the network config, lease values, subnet keys, CNI stdin and environment, `--iface-regex` patterns, and HTTP
 * request targets sent to the real health server on loopback. Properties: nothing crashes or hangs (every
 * failure is a FlannelError or a CNI error result), and an error names the field or the input that caused it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type HealthServer, startHealthServer } from '../../src/adapters/http/health-server.js';
import { type CniIo, runCniCommand } from '../../src/cni/cni-plugin.js';
import { compileGoRegexp } from '../../src/config/go-regexp.js';
import { parseNetworkConfig } from '../../src/config/network-config.js';
import { parseVxlanOptions } from '../../src/backend/vxlan/vxlan-options.js';
import { decodeLeaseAttrs } from '../../src/lease/lease.js';
import { makeSubnetKey, parseSubnetKey } from '../../src/lease/subnet-key.js';
import { parseStoredLease } from '../../src/subnet/stored-lease.js';
import { FlannelError } from '../../src/support/errors.js';
import { rawRequest, statusOf } from '../support/raw-http.js';

/** Runs `parse`; a throw must be a FlannelError whose message contains one of `names`. */
function failsNaming(parse: () => unknown, names: readonly string[]): void {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof FlannelError, `not a FlannelError: ${String(error)}`);
    assert.ok(names.some((name) => error.message.includes(name)), `${JSON.stringify(error.message)} names none of ${JSON.stringify(names)}`);
  }
}

const anyJson = fc.jsonValue({ maxDepth: 3 });

describe('fuzz: network config', () => {
  const fields = ['Network', 'IPv6Network', 'EnableIPv4', 'EnableIPv6', 'EnableNFTables', 'SubnetLen', 'SubnetMin', 'SubnetMax', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax', 'Backend'];
  const valid = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } };
  // Turning IPv6 on makes a missing IPv6Network the problem: that is the field to name.
  const consequences: Record<string, string[]> = { EnableIPv6: ['IPv6Network'] };
  it('one field replaced by any JSON value: parsed, or an error naming that field', () => {
    fc.assert(fc.property(fc.constantFrom(...fields), anyJson, (field, value) => {
      failsNaming(() => parseNetworkConfig(JSON.stringify({ ...valid, [field]: value })), [field, ...(consequences[field] ?? [])]);
    }), { numRuns: 600 });
  });
  it('vxlan options replaced by any JSON value: decoded, or an error naming Backend.<field>', () => {
    fc.assert(fc.property(fc.constantFrom('VNI', 'Port', 'MTU', 'GBP', 'Learning', 'DirectRouting'), anyJson, (field, value) => {
      failsNaming(() => parseVxlanOptions({ Type: 'vxlan', [field]: value }), [`Backend.${field}`]);
    }), { numRuns: 300 });
  });
  it('any text: a config or a FlannelError', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), anyJson.map((value) => JSON.stringify(value))), (text) => {
      failsNaming(() => parseNetworkConfig(text), ['network config']);
    }), { numRuns: 400 });
  });
});

describe('fuzz: leases and subnet keys', () => {
  const valid = { PublicIP: '198.18.0.12', PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0a:58:0a:f4:01:00' } };
  it('one lease field replaced by any JSON value: decoded, or an error naming that field', () => {
    fc.assert(fc.property(fc.constantFrom('PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data'), anyJson, (field, value) => {
      failsNaming(() => decodeLeaseAttrs(JSON.stringify({ ...valid, [field]: value })), [field]);
    }), { numRuns: 500 });
  });
  it('any lease value under any key: a lease, or a malformed entry carrying that key and a reason', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), fc.oneof(fc.string({ maxLength: 120 }), anyJson.map((value) => JSON.stringify(value))), (key, value) => {
      const result = parseStoredLease(key, value, undefined);
      if ('malformed' in result) {
        assert.equal(result.malformed.key, key);
        assert.ok(result.malformed.reason.length > 0);
      }
    }), { numRuns: 500 });
  });
  it('subnet keys: any string parses to nothing or to a pair that writes back to a key parsing the same', () => {
    const keyish = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(40)).map(([a, b, c, d, len]) => `/coreos.com/network/subnets/${a}.${b}.${c}.${d}-${len}`),
      fc.tuple(fc.ipV4(), fc.nat(40), fc.ipV6(), fc.nat(140)).map(([v4, len, v6, len6]) => `${v4}-${len}&${v6}-${len6}`),
    );
    fc.assert(fc.property(keyish, (key) => {
      const pair = parseSubnetKey(key);
      if (!pair) return;
      assert.deepEqual(parseSubnetKey(makeSubnetKey(pair.subnet, pair.ipv6Subnet)), pair);
    }), { numRuns: 800 });
  });
});

describe('fuzz: CNI stdin and environment', () => {
  const envNames = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS', 'CNI_PATH'];
  const envValue = fc.oneof(fc.constantFrom('ADD', 'DEL', 'CHECK', 'VERSION', 'c1', 'eth0', '/n', '../../x', '', '.', 'a/b'), fc.string({ maxLength: 20 }));
  const netconf = fc.oneof(
    fc.string({ maxLength: 100 }),
    fc.record({
      cniVersion: fc.oneof(fc.constantFrom('0.1.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0', '', '1.x'), anyJson),
      name: fc.oneof(fc.constantFrom('cbr0', '', '../n'), anyJson),
      delegate: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 }), anyJson),
      ipam: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 }), anyJson),
      dataDir: fc.constantFrom('/d', '/d/', ''),
      subnetFile: fc.constant('/s.env'),
    }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  );
  it('never throws; every failure is a CNI error with a code and a message; scratch files stay inside dataDir', () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...envNames), envValue), netconf, (env, stdin) => {
      const written: string[] = [];
      const io: CniIo = {
        readText: (path) => (path === '/s.env' ? 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n' : undefined),
        writeScratch: (path) => void written.push(path),
        removeScratch: () => undefined,
        runDelegate: () => ({ exitCode: 0, stdout: '{"cniVersion":"1.0.0"}', stderr: '' }),
        debug: () => undefined,
      };
      const outcome = runCniCommand(env, stdin, io);
      if (outcome.exitCode !== 0) {
        const error = JSON.parse(outcome.stdout) as { code?: unknown; msg?: unknown };
        assert.equal(typeof error.code, 'number');
        assert.ok(typeof error.msg === 'string' && error.msg.length > 0);
      }
      // dataDir as given (without a trailing slash), or the plugin's default when absent or empty.
      const given = (() => {
        try {
          const value = (JSON.parse(stdin) as { dataDir?: unknown } | null)?.dataDir;
          return typeof value === 'string' && value !== '' ? value.replace(/\/$/, '') : undefined;
        } catch {
          return undefined;
        }
      })();
      const dir = (given ?? '/var/lib/cni/flannel').replace(/[/.]/g, (char) => `\\${char}`);
      for (const path of written) assert.match(path, new RegExp(`^${dir}/[a-zA-Z0-9][a-zA-Z0-9_.-]*$`), `scratch file ${path}`);
    }), { numRuns: 800 });
  });
});

describe('fuzz: --iface-regex patterns', () => {
  it('any pattern compiles or is refused with BAD_REGEX (never a raw SyntaxError)', () => {
    const patternish = fc.stringMatching(/^[\\()[\]{}|^$.*+?:=!<>PpQEAzbdsw0-9a-z,-]{0,16}$/);
    fc.assert(fc.property(fc.oneof(patternish, fc.string({ maxLength: 16 })), (pattern) => {
      try {
        compileGoRegexp(pattern);
      } catch (error) {
        assert.ok(error instanceof FlannelError && error.code === 'BAD_REGEX', `${JSON.stringify(pattern)}: ${String(error)}`);
      }
    }), { numRuns: 1500 });
  });
});

describe('fuzz: HTTP request targets against the health server on loopback', () => {
  let server: HealthServer;
  before(async () => {
    server = await startHealthServer('127.0.0.1', 0, () => true);
  });
  after(() => server.close());
  it('any target gets an answer or a closed connection, and /healthz answers after it', async () => {
    const target = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: fc.constantFrom('/', '%', '.', ':', '?', '#', '[', ']', '@', 'a', 'z', '9', 'F', ' ', '\t', '\x00', 'é'), maxLength: 20 }),
      fc.webUrl(),
    );
    await fc.assert(fc.asyncProperty(target, async (text) => {
      const reply = await rawRequest('127.0.0.1', server.port, [`GET ${text} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { timeoutMs: 2000 });
      assert.ok(reply.closedByServer, `the server answered and closed for ${JSON.stringify(text)}`);
      assert.match(statusOf(reply.response), /^(200|301|400|404|)$/, JSON.stringify(text));
      const healthz = await rawRequest('127.0.0.1', server.port, ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      assert.equal(statusOf(healthz.response), '200');
    }), { numRuns: 60 });
  });
});
