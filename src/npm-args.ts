/**
 * `npm run sweep configs/x.json --dry-run`, without `--`: npm takes `--dry-run` (and
 * every option it does not know: `--out`, `--workers`, …) for itself, leaves it in an
 * `npm_config_*` variable, and runs sweep without it, which then runs the whole sweep
 * (or takes the option's value for a stray argument). Seen from sweep, the option is
 * in that variable and not in its arguments: say so, and show the command with `--`,
 * before anything runs. `npx sweep …` and the `sweep` bin pass every option through.
 */

/** The CLI's options (cli.ts) as npm would store them; `value`: it takes one. */
export const CLI_OPTIONS: readonly { readonly name: string; readonly value: boolean }[] = [
  { name: 'workers', value: true },
  { name: 'w', value: true },
  { name: 'out', value: true },
  { name: 'o', value: true },
  { name: 'dry-run', value: false },
  { name: 'max-runs', value: true },
  { name: 'curves', value: true },
  { name: 'curve-every', value: true },
  { name: 'resume', value: false },
  { name: 'retry-errors', value: false },
  { name: 'force', value: false },
  { name: 'retries', value: true },
  { name: 'worker-memory', value: true },
  { name: 'executor', value: true },
  { name: 'redis', value: true },
  { name: 'report', value: false },
  { name: 'progress-every', value: true },
  // Not --progress: npm has a `progress` setting of its own, which an .npmrc may set.
];

const envKey = (name: string): string => `npm_config_${name.replace(/-/g, '_')}`;
const flag = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);

/**
 * Why the command cannot run as typed, when npm (`npm run`, whose variables `env`
 * holds) took options meant for sweep; undefined otherwise. `argv` is what reached
 * sweep: the config, and the values of options npm took without theirs (`--out f.csv`
 * leaves `f.csv` here), in the order typed.
 */
export function eatenByNpm(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  // npm 7–10 name the command run-script, npm 11 run.
  if (env.npm_command !== 'run' && env.npm_command !== 'run-script') return undefined;
  const eaten = CLI_OPTIONS.filter((o) => (env[envKey(o.name)] ?? '') !== '');
  if (eaten.length === 0) return undefined;
  const strays = [...argv];
  const at = strays.findIndex((a) => a.endsWith('.json'));
  const config = strays.splice(at >= 0 ? at : 0, 1)[0] ?? '<config>';
  // npm keeps "true" for an option given without `=value`: its value, if it takes
  // one, is among the strays. They pair in order only when they match one to one.
  const missing = eaten.filter((o) => o.value && env[envKey(o.name)] === 'true');
  const paired = missing.length === strays.length;
  const options = eaten.map((o) => {
    const v = env[envKey(o.name)]!;
    if (!o.value) return v === 'false' ? `--no-${o.name}` : flag(o.name);
    if (v !== 'true') return `${flag(o.name)} ${v}`;
    return `${flag(o.name)} ${paired ? strays[missing.indexOf(o)] : '<value>'}`;
  });
  const rest = paired ? [] : strays;
  const names = eaten.map((o) => flag(o.name)).join(', ');
  const command = ['npm run', env.npm_lifecycle_event ?? 'sweep', '--', config, ...rest, ...options].join(' ');
  return `npm took ${names} for itself, so sweep never saw ${eaten.length > 1 ? 'them' : 'it'}; put sweep's options after --: ${command}`;
}
