/** `flannelctl trace` as text: one line per hop, its verdict first, then a summary line. Pure. */
import type { TraceReport } from './trace-facts.js';

const MARKS = { ok: 'ok    ', broken: 'BROKEN', warn: 'warn  ', info: '      ' } as const;

export function renderTraceText(report: TraceReport): string {
  const lines = [`trace ${report.source ? `${report.source} → ` : ''}${report.destination}${report.owner ? ` (lease ${report.owner.key}, ${report.owner.state === 'own' ? 'this host' : `host ${report.owner.publicIP}`})` : ''}`];
  for (const hop of report.hops) lines.push(`  ${MARKS[hop.status]} ${hop.step.padEnd(14)} ${hop.detail}`);
  const broken = report.hops.filter((hop) => hop.status === 'broken');
  lines.push(broken.length === 0 ? 'path ok' : `path broken at: ${broken.map((hop) => hop.step).join(', ')}`);
  return lines.join('\n') + '\n';
}
