import { ruleInfo } from '../lint/index.js';
import { type CheckFinding, type CheckLevel, type PrCheckReport, repositoryPath } from './report.js';

/** A SARIF message: plain text. */
export interface SarifMessage {
  text: string;
}

/** One rule of the tool's driver (SARIF `reportingDescriptor`). */
export interface SarifRule {
  id: string;
  shortDescription: SarifMessage;
  fullDescription?: SarifMessage;
  help?: SarifMessage;
  defaultConfiguration: { level: CheckLevel };
}

/** Where a result is (SARIF `location`): a file relative to the source root, and a line. */
export interface SarifLocation {
  physicalLocation: {
    artifactLocation: { uri: string; uriBaseId: '%SRCROOT%' };
    region: { startLine: number };
  };
}

/** One finding (SARIF `result`); an acknowledged one carries an accepted external suppression. */
export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: CheckLevel;
  message: SarifMessage;
  locations: SarifLocation[];
  suppressions?: { kind: 'external'; status: 'accepted'; justification: string }[];
}

/** A SARIF 2.1.0 log with one run of ferry. */
export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: {
    tool: { driver: { name: 'ferry'; version: string; rules: SarifRule[] } };
    results: SarifResult[];
  }[];
}

/** What the rules of `ferry check` that are not lint rules stand for. */
const CHECK_RULES: Record<string, { short: string; help: string }> = {
  manifest: {
    short: 'The migration does not load: its manifest or a file it names is invalid.',
    help: 'Fix the manifest and the files it names; `ferry new` writes a valid skeleton.',
  },
  rehearsal: {
    short: 'The migration failed its rehearsal on the scratch database (up → verify → down → up).',
    help: 'Fix the SQL so the rollback restores exactly what up changed; `ferry rehearse <id>` repeats it.',
  },
};

/** The first sentence of a text (a rule's `why`), for a short description. */
const firstSentence = (text: string) => /^.*?[.!?](?=\s|$)/.exec(text)?.[0] ?? text;

function ruleOf(f: CheckFinding): SarifRule {
  const lint = ruleInfo(f.rule);
  const known = CHECK_RULES[f.rule];
  const short = known?.short ?? (lint ? firstSentence(lint.why) : f.rule);
  const help = known?.help ?? lint?.fix ?? f.hint;
  return {
    id: f.rule,
    shortDescription: { text: short },
    ...(lint ? { fullDescription: { text: lint.why } } : {}),
    ...(help ? { help: { text: help } } : {}),
    defaultConfiguration: { level: lint?.severity === 'warning' ? 'warning' : f.level },
  };
}

/**
 * The findings of a check as a SARIF 2.1.0 log, for GitHub code scanning (`upload-sarif`):
 * one rule per rule found, one result per finding, located relative to the repository root (`%SRCROOT%`).
 */
export function renderSarif(report: Pick<PrCheckReport, 'projectPath' | 'findings'>, opts: { version: string }): SarifLog {
  const rules: SarifRule[] = [];
  const index = new Map<string, number>();
  for (const f of report.findings) {
    if (index.has(f.rule)) continue;
    index.set(f.rule, rules.length);
    rules.push(ruleOf(f));
  }
  const results = report.findings.map(
    (f): SarifResult => ({
      ruleId: f.rule,
      ruleIndex: index.get(f.rule) as number,
      level: f.level,
      message: { text: f.hint ? `${f.message}\nfix: ${f.hint}` : f.message },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: encodeURI(repositoryPath(report, f)), uriBaseId: '%SRCROOT%' },
            region: { startLine: Math.max(1, f.line) },
          },
        },
      ],
      ...(f.acknowledged
        ? { suppressions: [{ kind: 'external' as const, status: 'accepted' as const, justification: 'acknowledged in the manifest (lint.acknowledge)' }] }
        : {}),
    }),
  );
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'ferry', version: opts.version, rules } }, results }],
  };
}
