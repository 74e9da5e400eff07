/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped", after vitest's own summary.
 *
 * "failed" counts failed tests, plus every file that failed without a failed test of its own (it
 * did not load, or a beforeAll/afterAll hook threw: vitest then reports its tests as skipped), plus
 * every unhandled error. So the line says "0 failed" only when vitest itself passed the run.
 */
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node';

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
}

export function summarize(
  testModules: ReadonlyArray<TestModule>,
  unhandledErrors: ReadonlyArray<SerializedError>,
  reason: TestRunEndReason,
): Summary {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const module of testModules) {
    let failedHere = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed' || state === 'skipped') counts[state]++;
      else if (state === 'failed') failedHere++;
    }
    // A file that failed to load or whose hook threw has no failed test, but failed all the same.
    if (module.state() === 'failed' && failedHere === 0) failedHere = 1;
    counts.failed += failedHere;
  }
  counts.failed += unhandledErrors.length;
  // Anything else vitest counts as a failure (a failed project setup, say) is still one.
  if (reason === 'failed' && counts.failed === 0) counts.failed = 1;
  return counts;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    const { passed, failed, skipped } = summarize(testModules, unhandledErrors, reason);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
