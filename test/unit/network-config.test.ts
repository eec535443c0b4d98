import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeNetworkConfigChanges, networkConfigToJson, parseNetworkConfig } from '../../src/config/network-config.js';
import { ValidationError } from '../../src/support/errors.js';

function effective(text: string) {
  return networkConfigToJson(parseNetworkConfig(text));
}

function problems(text: string): readonly string[] {
  try {
    parseNetworkConfig(text);
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    return error.problems;
  }
  assert.fail('expected a validation error');
}

describe('network config defaulting (upstream CheckNetworkConfig)', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['{"Network":"10.1.0.0/16"}', { SubnetLen: 24, SubnetMin: '10.1.1.0', SubnetMax: '10.1.255.0', BackendType: 'udp' }],
    ['{"Network":"10.1.0.0/22"}', { SubnetLen: 24, SubnetMin: '10.1.1.0', SubnetMax: '10.1.3.0' }],
    ['{"Network":"10.1.0.0/24"}', { SubnetLen: 26, SubnetMin: '10.1.0.64', SubnetMax: '10.1.0.192' }],
    ['{"Network":"10.1.0.0/28"}', { SubnetLen: 30, SubnetMin: '10.1.0.4', SubnetMax: '10.1.0.12' }],
    ['{"Network":"10.1.0.0/16","SubnetLen":20}', { SubnetLen: 20, SubnetMin: '10.1.16.0', SubnetMax: '10.1.240.0' }],
    ['{"Network":"10.3.1.5/16","SubnetMin":"10.3.5.0","SubnetMax":"10.3.10.0"}', { Network: '10.3.0.0/16', SubnetMin: '10.3.5.0', SubnetMax: '10.3.10.0' }],
    ['{"network":"10.1.0.0/16","backend":{"type":"HOST-GW"}}', { Network: '10.1.0.0/16', BackendType: 'host-gw' }],
    ['{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan","VNI":4}}', { BackendType: 'vxlan', Backend: { Type: 'vxlan', VNI: 4 } }],
    ['{"Network":"10.1.0.0/16","Backend":{}}', { BackendType: 'udp' }],
    ['{"EnableIPv6":true,"Network":"10.1.0.0/16","IPv6Network":"fd00:10:244::/56"}',
      { IPv6SubnetLen: 64, IPv6SubnetMin: 'fd00:10:244:1::', IPv6SubnetMax: 'fd00:10:244:ff::' }],
    ['{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/120"}', { IPv6SubnetLen: 122, IPv6SubnetMin: 'fd00::40', IPv6SubnetMax: 'fd00::c0' }],
    ['{"Network":"10.1.0.0/16","EnableNFTables":true}', { EnableNFTables: true }],
  ];
  for (const [input, expected] of cases) {
    it(input, () => {
      const actual = effective(input);
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(actual[key], value, key);
    });
  }
  it('keeps EnableIPv4 true by default and prints upstream field names', () => {
    assert.deepEqual(Object.keys(effective('{"Network":"10.1.0.0/16"}')), [
      'EnableIPv4', 'EnableIPv6', 'EnableNFTables', 'Network', 'SubnetMin', 'SubnetMax', 'SubnetLen', 'IPv6SubnetLen', 'BackendType',
    ]);
  });
});

describe('network config validation', () => {
  const cases: Array<[string, RegExp]> = [
    ['{}', /Network: please define a correct Network parameter/],
    ['{"Network":"10.1.0.0/29"}', /Minimum useful network prefix is \/28/],
    ['{"Network":"10.1.0.0/16","SubnetLen":31}', /SubnetLen: 31: SubnetLen must be less than \/31/],
    ['{"Network":"10.1.0.0/16","SubnetLen":17}', /at least four subnets/],
    ['{"Network":"10.1.0.0/16","SubnetMin":"10.2.0.0"}', /SubnetMin: 10.2.0.0: SubnetMin is not in the range/],
    ['{"Network":"10.1.0.0/16","SubnetMax":"10.1.0.7"}', /SubnetMax is not on a SubnetLen boundary: 10.1.0.7/],
    ['{"Network":"fd00::/64"}', /Network: invalid IPv4 CIDR format "fd00::\/64"/],
    ['{"Network":"10.1.0.0/16","SubnetLen":"24"}', /SubnetLen: expected a non-negative integer, got "24"/],
    ['{"Network":"10.1.0.0/16","SubnetLen":-1}', /SubnetLen: expected a non-negative integer/],
    ['{"Network":"10.1.0.0/16","EnableIPv6":true}', /IPv6Network: please define a correct IPv6Network/],
    ['{"Network":"10.1.0.0/16","Backend":{"Type":"bogus"}}', /unknown backend type "bogus"/],
    ['{"Network":"10.1.0.0/16","Backend":"vxlan"}', /error decoding Backend property/],
    ['{"EnableIPv4":false}', /none defined stack/],
    ['not json', /not valid JSON/],
    ['{"Network":"10.1.0.0/16","SubnetMin":"10.1.200.0","SubnetMax":"10.1.100.0"}', /SubnetMin: 10\.1\.200\.0 is above SubnetMax 10\.1\.100\.0/],
    ['{"EnableIPv6":true,"Network":"10.1.0.0/16","IPv6Network":"fd00:10:244::/56","IPv6SubnetMin":"fd00:10:244:90::","IPv6SubnetMax":"fd00:10:244:10::"}',
      /IPv6SubnetMin: fd00:10:244:90:: is above IPv6SubnetMax fd00:10:244:10::/],
  ];
  for (const [input, pattern] of cases) {
    it(`${input} → ${pattern}`, () => assert.ok(problems(input).some((p) => pattern.test(p)), problems(input).join(' | ')));
  }
  it('reports every problem at once', () => {
    const found = problems('{"Network":"10.1.0.0/16","SubnetMin":"10.9.0.0","SubnetMax":"10.1.0.3","EnableNFTables":"yes"}');
    assert.equal(found.length, 3, found.join(' | '));
  });
});

describe('network config changes', () => {
  const cases: Array<[string, string, string[]]> = [
    ['{"Network":"10.1.0.0/16"}', '{"network":"10.1.0.0/16","SubnetLen":24}', []],
    ['{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}', '{"Network":"10.2.0.0/16","Backend":{"Type":"vxlan","VNI":2}}', [
      'Network: "10.1.0.0/16" → "10.2.0.0/16"', 'SubnetMin: "10.1.1.0" → "10.2.1.0"', 'SubnetMax: "10.1.255.0" → "10.2.255.0"',
      'Backend: {"Type":"vxlan"} → {"Type":"vxlan","VNI":2}',
    ]],
    ['{"Network":"10.1.0.0/16"}', '{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56"}', [
      'EnableIPv6: false → true', 'IPv6Network: (unset) → "fd00::/56"', 'IPv6SubnetMin: (unset) → "fd00:0:0:1::"',
      'IPv6SubnetMax: (unset) → "fd00:0:0:ff::"', 'IPv6SubnetLen: 0 → 64',
    ]],
  ];
  for (const [from, to, expected] of cases) {
    it(`${from} → ${to}`, () => assert.deepEqual(describeNetworkConfigChanges(parseNetworkConfig(from), parseNetworkConfig(to)), expected));
  }
});
