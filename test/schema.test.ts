/**
 * The shipped JSON Schema is current (`npm run schema` was run after the registries
 * changed), and every shipped config is valid.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { CONFIG_SCHEMA, SCHEMA_FILE, schemaText } from '../src/config/schema.js';
import { OPTIMIZER_NAMES } from '../src/optimizers/index.js';
import { PROBLEM_NAMES } from '../src/problems/index.js';

const CONFIGS = fileURLToPath(new URL('../configs/', import.meta.url));
const configFiles = readdirSync(CONFIGS)
  .filter((f) => f.endsWith('.json') && f !== 'sweep.schema.json')
  .sort();

describe('configs/sweep.schema.json', () => {
  it('is where the code says it is', () => {
    expect(SCHEMA_FILE).toBe(join(CONFIGS, 'sweep.schema.json'));
  });

  it('equals schemaText() byte for byte (run `npm run schema` after changing a registry)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaText());
  });

  it('names every optimizer and every problem', () => {
    const text = schemaText();
    for (const name of [...OPTIMIZER_NAMES, ...PROBLEM_NAMES]) expect(text).toContain(`"${name}"`);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(CONFIG_SCHEMA)));
  });
});

describe('every shipped config is valid', () => {
  it('there are configs to check', () => {
    expect(configFiles).toEqual(expect.arrayContaining(['grid.json', 'book-bowl.json']));
  });

  it.each(configFiles)('configs/%s', async (file) => {
    const path = join(CONFIGS, file);
    const plan = await loadConfig(path);
    expect(plan.total).toBeGreaterThan(0);
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { name: string; $schema?: string };
    expect(plan.name).toBe(raw.name);
    // Editors find the schema from the config itself.
    if (raw.$schema !== undefined) expect(raw.$schema).toBe('./sweep.schema.json');
  });
});
