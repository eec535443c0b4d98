/**
 * The flannel CNI plugin's commands (reference §9) over injected I/O, so that the logic tests without root:
 * ADD builds the delegate config from subnet.env, saves it under `<dataDir>/<containerID>` before calling the
 * delegate, and returns the delegate's result; DEL replays the saved config to the delegate; CHECK succeeds
 * (from CNI 0.4.0 on); VERSION lists the spec versions. Requests are validated first (cni-request.ts).
 *
 * Difference from upstream: when the delegate's DEL fails, the saved config is kept and the error returned,
 * so the runtime's retry can still release the pod's address (upstream deletes it and leaks the IP).
 */
import { join } from 'node:path';
import { errorMessage } from '../support/errors.js';
import { goJson } from '../support/go-json.js';
import { parseCniRequest } from './cni-request.js';
import { PREFERRED_VERSION, SUPPORTED_VERSIONS } from './cni-versions.js';
import {
  CNI_ERROR, CniConfigError, buildDelegateConfig, parseNetConf, requireCompleteSubnetEnv,
} from './delegate-config.js';
import { parseSubnetEnv } from './subnet-env.js';

export { SUPPORTED_VERSIONS } from './cni-versions.js';

export interface DelegateOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The plugin's I/O. `writeScratch` and `readText` may throw; an I/O failure becomes CNI error 5 naming the
 * path (never a stack trace).
 */
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

/** Runs one command; never throws: every failure is a CNI error result (exit code 1). */
export function runCniCommand(env: Readonly<Record<string, string | undefined>>, stdin: string, io: CniIo): CniOutcome {
  let version = PREFERRED_VERSION;
  try {
    if (env.CNI_COMMAND === 'VERSION') {
      return success({ cniVersion: PREFERRED_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] });
    }
    const request = parseCniRequest(env, stdin);
    version = request.cniVersion || version;
    const netconf = parseNetConf(stdin);
    const scratch = join(netconf.dataDir, request.containerId);
    switch (request.command) {
      case 'ADD': {
        const text = ioStep(`read ${netconf.subnetFile}`, () => io.readText(netconf.subnetFile));
        if (text === undefined) {
          throw new CniConfigError(CNI_ERROR.tryAgainLater, `failed to load flannel 'subnet.env' file: open ${netconf.subnetFile}: no such file or directory. Check the flannel pod log for this node.`);
        }
        const subnetEnv = parseSubnetEnv(text);
        requireCompleteSubnetEnv(subnetEnv, netconf.subnetFile);
        const delegate = buildDelegateConfig(netconf, subnetEnv);
        const delegateText = goJson(delegate, { sortKeys: true });
        io.debug(`delegate config: ${delegateText}`);
        ioStep(`save the delegate config to ${scratch} (dataDir ${netconf.dataDir})`, () => io.writeScratch(scratch, delegateText));
        return delegateResult(io.runDelegate(delegate.type as string, delegateText), version);
      }
      case 'DEL': {
        const saved = ioStep(`read ${scratch}`, () => io.readText(scratch));
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
        ioStep(`remove ${scratch}`, () => io.removeScratch(scratch));
        return { exitCode: 0, stdout: '' };
      }
      case 'CHECK':
        return { exitCode: 0, stdout: '' };
    }
  } catch (error) {
    const code = error instanceof CniConfigError ? error.cniCode : CNI_ERROR.internal;
    return failure(version, code, errorMessage(error), error instanceof CniConfigError ? error.details : undefined);
  }
}

/** Runs an I/O step; its failure becomes CNI error 5 saying what was being done. */
function ioStep<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    throw new CniConfigError(CNI_ERROR.ioFailure, `failed to ${what}: ${errorMessage(error)}`);
  }
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

function failure(cniVersion: string, code: number, msg: string, details?: string): CniOutcome {
  return { exitCode: 1, stdout: JSON.stringify({ cniVersion, code, msg, ...(details ? { details } : {}) }) };
}
