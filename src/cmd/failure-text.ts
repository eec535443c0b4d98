/**
 * One line saying what went wrong, for a user: the error's message (FlannelErrors already name the field, file
 * or endpoint), Node's system errors rewritten from `ENOENT: no such file or directory, open '/x'` to
 * `cannot open /x: no such file or directory`, a hint when the kernel refused for want of privileges, and
 * never a stack trace. Pure.
 */

const ACTIONS: Readonly<Record<string, string>> = {
  open: 'cannot open', read: 'cannot read', write: 'cannot write', scandir: 'cannot list', mkdir: 'cannot create directory',
  unlink: 'cannot remove', rename: 'cannot rename', stat: 'cannot read', lstat: 'cannot read', access: 'cannot access',
  connect: 'cannot connect to', readlink: 'cannot read link', chmod: 'cannot change mode of',
};
const PRIVILEGE_CODES = new Set(['EPERM', 'EACCES']);

interface SystemErrorFields {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly path?: unknown;
}

export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error)) || 'unknown error';
  const { code, syscall, path } = error as SystemErrorFields;
  let text = error.message;
  if (typeof syscall === 'string' && typeof path === 'string' && typeof code === 'string') {
    // Node: "ENOENT: no such file or directory, open '/x'" → "cannot open /x: no such file or directory".
    const reason = /^[A-Z0-9_]+: (.*?), \w+ '.*'$/s.exec(text)?.[1] ?? text;
    text = `${ACTIONS[syscall] ?? syscall} ${path}: ${reason}`;
  }
  text = oneLine(text) || error.name;
  if (typeof code === 'string' && PRIVILEGE_CODES.has(code) && !/\broot\b/.test(text)) text += ' (are you root?)';
  return text;
}

/** Lines joined with "; ", runs of spaces kept as they are. */
function oneLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '').join('; ');
}
