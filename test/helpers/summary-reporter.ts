// A vitest reporter that ends the run with one plain line, "tests: N passed,
// N failed", which CI reads to know how many tests ran, preceded by one
// "failed: file > test: first line of the error" line per failure, which CI
// repeats at the end of its log. Vitest main process.
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

function firstLine(errors: ReadonlyArray<{ message?: string }> | undefined): string {
  const message = errors?.[0]?.message ?? 'no error reported';
  return message.split('\n')[0].slice(0, 300);
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string }>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const lines: string[] = [];
    for (const m of modules) {
      const file = relative(process.cwd(), m.moduleId);
      for (const t of m.children.allTests()) {
        const result = t.result();
        if (result.state === 'passed') passed++;
        else if (result.state === 'failed') {
          failed++;
          lines.push(`failed: ${file} > ${t.fullName}: ${firstLine(result.errors)}`);
        } else skipped++;
      }
      // A file whose hooks or imports failed has no failed test to show it.
      const errors = m.errors();
      if (errors.length > 0) {
        failed++;
        lines.push(`failed: ${file}: ${firstLine(errors)}`);
      }
    }
    for (const e of unhandled) lines.push(`failed: unhandled error: ${firstLine([e])}`);
    failed += unhandled.length;
    process.stdout.write(`\n${lines.map((l) => `${l}\n`).join('')}tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
