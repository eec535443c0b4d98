/**
 * `flannelctl status [--socket PATH] [--json]`: flanneld's view of this host, read from its status socket.
 * Text by default (status-text.ts), the document itself with --json. Exit 0 when everything is in order, 1 when
 * something is not (not ready, peers not programmed, a failing pass…), 2 on bad arguments, 3 when flanneld
 * cannot be reached.
 */
import { parseArgs } from 'node:util';
import { getJsonFromStatusSocket } from '../adapters/http/status-client.js';
import { DEFAULT_STATUS_SOCKET } from '../adapters/http/status-socket.js';
import { checkStatusDocument, renderStatusText, statusHealthy } from '../ops/status-text.js';
import { errorMessage } from '../support/errors.js';

export const STATUS_USAGE = '  flannelctl status [--socket PATH] [--json]   flanneld\'s view of this host (lease, devices, peers, reconcile, firewall, subnet.env)\n';

export async function statusCommand(args: string[]): Promise<number> {
  let values: { socket?: string; json?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { socket: { type: 'string', default: DEFAULT_STATUS_SOCKET }, json: { type: 'boolean', default: false } } }));
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n${STATUS_USAGE}`);
    return 2;
  }
  try {
    const document = checkStatusDocument(await getJsonFromStatusSocket(values.socket ?? DEFAULT_STATUS_SOCKET, '/status'));
    process.stdout.write(values.json ? JSON.stringify(document, null, 2) + '\n' : renderStatusText(document));
    return statusHealthy(document) ? 0 : 1;
  } catch (error) {
    process.stderr.write(`flannelctl status: ${errorMessage(error)}\n`);
    return 3;
  }
}
