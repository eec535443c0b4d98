/**
 * `flannelctl status [--socket PATH] [--json]`: flanneld's view of this host, read from its status socket.
 * Text by default (status-text.ts), the document itself with --json. Exit 0 when everything is in order, 1 when
 * something is not (not ready, peers not programmed, a failing pass…), 2 on bad arguments, 3 when flanneld
 * cannot be reached.
 */
import { getJsonFromStatusSocket } from '../adapters/http/status-client.js';
import { checkStatusDocument, renderStatusText, statusHealthy } from '../ops/status-text.js';
import { errorMessage } from '../support/errors.js';
import type { CommandSpec } from './cli.js';
import { booleanValue, stringValue } from './cli-parse.js';
import { JSON_OPTION, SOCKET_OPTION } from './common-options.js';

export const statusCommand: CommandSpec = {
  path: ['status'],
  summary: "flanneld's view of this host (lease, devices, peers, reconcile, firewall, subnet.env)",
  options: { socket: SOCKET_OPTION, json: JSON_OPTION },
  details: 'Exit status: 0 everything in order, 1 something is not, 2 bad usage, 3 flanneld cannot be reached.',
  async run({ values }) {
    try {
      const document = checkStatusDocument(await getJsonFromStatusSocket(stringValue(values, 'socket'), '/status'));
      process.stdout.write(booleanValue(values, 'json') ? JSON.stringify(document, null, 2) + '\n' : renderStatusText(document));
      return statusHealthy(document) ? 0 : 1;
    } catch (error) {
      process.stderr.write(`flannelctl status: ${errorMessage(error)}\n`);
      return 3;
    }
  },
};
