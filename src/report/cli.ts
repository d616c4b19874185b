#!/usr/bin/env node
/**
 * `npm run report -- results/<name>.csv [--out FILE]`: a sweep's summary CSV and
 * HTML report from its CSV and manifest (./write.ts). Exit 0 written; 2 bad input
 * (one line naming the file; nothing written); 1 an output that could not be
 * written, or an internal error.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exitCode, usageFailure } from '../errors.js';
import { writeReport } from './write.js';

interface Args {
  csv: string;
  out?: string;
}

async function main(argv: string[]): Promise<number> {
  const args = yargs(argv)
    .scriptName('npm run report --')
    .usage("$0 <csv> [--out FILE]\n\nWrite a sweep's summary over seeds (<name>.summary.csv) and its HTML report.")
    .command('$0 <csv>', false)
    .positional('csv', {
      type: 'string',
      describe: 'the results CSV of a sweep (its manifest <csv>.sweep.json beside it)',
    })
    .option('out', {
      alias: 'o',
      type: 'string',
      requiresArg: true,
      describe: 'the HTML to write (default: <csv> with .html)',
    })
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .fail(usageFailure('no CSV given: npm run report -- results/<name>.csv (see --help)'))
    .parseSync() as unknown as Args;
  const w = await writeReport(args.csv, { out: args.out });
  const partial = w.complete ? '' : ` (partial: ${w.runs} of ${w.total} runs)`;
  const rerun = w.rerun > 0 ? ` (${w.rerun} runs run again for their curves)` : '';
  process.stdout.write(`report${partial} → ${w.html}${rerun}\nsummary → ${w.summary}\n`);
  return 0;
}

main(hideBin(process.argv)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => (process.exitCode = exitCode('report', error)),
);
