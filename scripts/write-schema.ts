/** Writes configs/sweep.schema.json from the registries (`npm run schema`). */
import { writeFileSync } from 'node:fs';
import { SCHEMA_FILE, schemaText } from '../src/config/schema.js';

writeFileSync(SCHEMA_FILE, schemaText());
console.log(`wrote ${SCHEMA_FILE}`);
