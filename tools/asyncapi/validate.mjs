// Validate an AsyncAPI document with the official parser.
// Usage: node tools/asyncapi/validate.mjs docs/asyncapi.yaml
// Exit 0 and print "valid" unless a diagnostic has error severity (0);
// warnings and hints are printed but do not fail the check.
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.mjs <asyncapi.yaml>');
  process.exit(2);
}

const diagnostics = await new Parser().validate(await readFile(file, 'utf8'), { source: file });
const show = (d) => `${['error', 'warning', 'info', 'hint'][d.severity] ?? d.severity} ${d.code} at /${d.path.join('/')}: ${d.message}`;
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) console.error(show(d));
if (errors.length) {
  console.error(`${file}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log('valid');
