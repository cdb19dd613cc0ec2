import type { Command } from 'commander';
import { configJsonSchema, manifestJsonSchema } from '../../migration/json-schema.js';
import { writeSchema } from '../../project/scaffold.js';
import type { GlobalOptions } from '../context.js';
import { pc, processOutput } from '../output.js';

/** `ferry schema`: the JSON Schema of migration.json (or ferry.config.json), for editors and CI. */
export function registerSchemaCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('schema')
    .description('print the JSON Schema of migration.json (with --config: of ferry.config.json), generated from the schemas ferry validates with')
    .option('--config', 'the schema of ferry.config.json instead of migration.json')
    .option('--output <file>', 'write it to this file instead of printing it')
    .addHelpText(
      'after',
      '\nA manifest whose "$schema" names the file gets completion and checks in editors; `ferry init` and `ferry new`\nwrite migrations/migration.schema.json and point new manifests at it. The fields are described in docs/manifest.md.\n\nExamples:\n  ferry schema --output migrations/migration.schema.json\n  ferry schema --config --output ferry.config.schema.json\n  ferry schema > migration.schema.json',
    )
    .action((o: { config?: boolean; output?: string }) => {
      const out = processOutput(Boolean(globals().json));
      const which = o.config ? 'config' : 'manifest';
      if (o.output === undefined) {
        const schema = which === 'config' ? configJsonSchema() : manifestJsonSchema();
        out.line(JSON.stringify(schema, null, 2));
        out.result(schema);
        return;
      }
      const file = writeSchema(o.output, which);
      out.line(`${pc.green('wrote')} ${file} ${pc.dim(`(JSON Schema of ${which === 'config' ? 'ferry.config.json' : 'migration.json'})`)}`);
      out.result({ file, schema: which });
    });
}
