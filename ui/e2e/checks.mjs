// Checks that say what was expected and what was found.

export class CheckFailure extends Error {
  constructor(what, expected, found) {
    super(`${what}\n    expected: ${expected}\n    found:    ${found}`);
    this.name = 'CheckFailure';
  }
}

export class Checks {
  passed = 0;

  /** Records a passed check, or throws a CheckFailure. */
  ok(cond, what, expected, found) {
    if (!cond) throw new CheckFailure(what, expected, found);
    this.passed++;
    console.log(`  ok  ${what}`);
  }

  equal(found, expected, what) {
    this.ok(found === expected, what, JSON.stringify(expected), JSON.stringify(found));
  }

  /** Waits until `locator` is visible; fails with what the page shows instead. */
  async visible(locator, what, timeout = 15_000) {
    try {
      await locator.first().waitFor({ state: 'visible', timeout });
    } catch {
      const count = await locator.count().catch(() => 0);
      throw new CheckFailure(what, 'a visible element', `${count} matching elements (none visible within ${timeout} ms)`);
    }
    this.ok(true, what);
  }

  /** Polls `fn` until it returns a truthy value; fails with the last value. */
  async until(fn, what, expected, timeout = 15_000) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      last = await fn();
      if (last) {
        this.ok(true, what);
        return last;
      }
      if (Date.now() > deadline) throw new CheckFailure(what, expected, JSON.stringify(last));
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
