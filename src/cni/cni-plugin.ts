/**
 * The flannel CNI plugin's commands (reference §9) over injected I/O, so that the logic tests without root:
 * ADD builds the delegate config from subnet.env, saves it under `<dataDir>/<containerID>` before calling the
 * delegate, and returns the delegate's result; DEL replays the saved config to the delegate; CHECK succeeds;
 * VERSION lists the spec versions.
 *
 * Difference from upstream: when the delegate's DEL fails, the saved config is kept and the error returned,
 * so the runtime's retry can still release the pod's address (upstream deletes it and leaks the IP).
 */
import { join } from 'node:path';
import { errorMessage } from '../support/errors.js';
import {
  CNI_ERROR, CniConfigError, buildDelegateConfig, parseNetConf, requireCompleteSubnetEnv,
} from './delegate-config.js';
import { parseSubnetEnv } from './subnet-env.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

export interface DelegateOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CniIo {
  readText(path: string): string | undefined;
  writeScratch(path: string, contents: string): void;
  removeScratch(path: string): void;
  runDelegate(type: string, stdin: string): DelegateOutcome;
  debug(message: string): void;
}

export interface CniOutcome {
  readonly exitCode: number;
  readonly stdout: string;
}

export function runCniCommand(env: Readonly<Record<string, string | undefined>>, stdin: string, io: CniIo): CniOutcome {
  const command = env.CNI_COMMAND ?? '';
  let version = '1.0.0';
  try {
    if (command === 'VERSION') {
      return success({ cniVersion: '1.0.0', supportedVersions: [...SUPPORTED_VERSIONS] });
    }
    const netconf = parseNetConf(stdin);
    version = netconf.cniVersion || version;
    if (netconf.cniVersion && !(SUPPORTED_VERSIONS as readonly string[]).includes(netconf.cniVersion)) {
      throw new CniConfigError(CNI_ERROR.incompatibleVersion, `incompatible CNI versions: config is ${JSON.stringify(netconf.cniVersion)}, plugin supports ${SUPPORTED_VERSIONS.join(', ')}`);
    }
    const containerId = requireEnv(env, 'CNI_CONTAINERID');
    const scratch = join(netconf.dataDir, containerId);
    switch (command) {
      case 'ADD': {
        requireEnv(env, 'CNI_IFNAME');
        const text = io.readText(netconf.subnetFile);
        if (text === undefined) {
          throw new CniConfigError(CNI_ERROR.tryAgainLater, `failed to load flannel 'subnet.env' file: open ${netconf.subnetFile}: no such file or directory. Check the flannel pod log for this node.`);
        }
        const subnetEnv = parseSubnetEnv(text);
        requireCompleteSubnetEnv(subnetEnv, netconf.subnetFile);
        const delegate = buildDelegateConfig(netconf, subnetEnv);
        const delegateText = JSON.stringify(delegate);
        io.debug(`delegate config: ${delegateText}`);
        io.writeScratch(scratch, delegateText);
        return delegateResult(io.runDelegate(delegate.type as string, delegateText), version);
      }
      case 'DEL': {
        const saved = io.readText(scratch);
        if (saved === undefined) return { exitCode: 0, stdout: '' };
        let type: unknown;
        try {
          type = (JSON.parse(saved) as { type?: unknown }).type;
        } catch (error) {
          io.debug(`failed to parse netconf: ${errorMessage(error)}`);
          return { exitCode: 0, stdout: '' };
        }
        if (typeof type !== 'string') {
          io.debug(`saved delegate config ${scratch} has no type`);
          return { exitCode: 0, stdout: '' };
        }
        const outcome = io.runDelegate(type, saved);
        if (outcome.exitCode !== 0) return delegateResult(outcome, version);
        io.removeScratch(scratch);
        return { exitCode: 0, stdout: '' };
      }
      case 'CHECK':
        return { exitCode: 0, stdout: '' };
      default:
        throw new CniConfigError(CNI_ERROR.invalidEnvironment, `unknown CNI_COMMAND: ${JSON.stringify(command)}`);
    }
  } catch (error) {
    const code = error instanceof CniConfigError ? error.cniCode : CNI_ERROR.internal;
    return failure(version, code, errorMessage(error));
  }
}

function requireEnv(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (!value) throw new CniConfigError(CNI_ERROR.invalidEnvironment, `required env variable ${name} is missing`);
  return value;
}

/** The delegate's stdout is passed on as is: its result on success, its error object on failure. */
function delegateResult(outcome: DelegateOutcome, version: string): CniOutcome {
  if (outcome.exitCode === 0) return { exitCode: 0, stdout: outcome.stdout };
  try {
    const parsed = JSON.parse(outcome.stdout) as { code?: unknown };
    if (typeof parsed.code === 'number') return { exitCode: 1, stdout: outcome.stdout };
  } catch {
    // not an error object: wrap it below
  }
  return failure(version, CNI_ERROR.internal, `delegate failed (exit ${outcome.exitCode}): ${(outcome.stderr || outcome.stdout).trim()}`);
}

function success(body: unknown): CniOutcome {
  return { exitCode: 0, stdout: JSON.stringify(body) };
}

function failure(cniVersion: string, code: number, msg: string): CniOutcome {
  return { exitCode: 1, stdout: JSON.stringify({ cniVersion, code, msg }) };
}
