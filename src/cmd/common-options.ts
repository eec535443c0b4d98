/** Options several flannelctl commands share, defined once so that they read and default alike. */
import { DEFAULT_STATUS_SOCKET } from '../adapters/http/status-socket.js';
import { DEFAULT_SUBNET_FILE } from '../cni/delegate-config.js';
import type { OptionSpec } from './cli-parse.js';

/** `--socket PATH`: flanneld's status socket (status, trace, doctor, uninstall). */
export const SOCKET_OPTION: OptionSpec = { type: 'string', default: DEFAULT_STATUS_SOCKET, placeholder: 'PATH', help: "flanneld's status socket" };
/** `--json`: the document instead of text. */
export const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'print JSON instead of text' };
/** `--subnet-file PATH`: flanneld's subnet.env (trace, doctor). */
export const SUBNET_FILE_OPTION: OptionSpec = { type: 'string', default: DEFAULT_SUBNET_FILE, placeholder: 'PATH', help: "flanneld's subnet.env" };
