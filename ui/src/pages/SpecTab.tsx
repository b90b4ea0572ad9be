// The definition as this run used it (overrides applied), the overrides and the plan.
import type { Run } from '../api/types';
import { Notice } from '../components/common';
import { SpecView } from '../components/SpecView';
import { definitionHref } from '../lib/route';

export function SpecTab({ run }: { run: Run }) {
  const overrides = run.overrides ?? {};
  return (
    <section class="spec-tab" aria-label="Definition snapshot">
      <p>
        The definition <a href={definitionHref(run.definition)}>{run.definition}</a> at version {run.definition_version}, as
        this run used it{Object.keys(overrides).length > 0 ? ', with the overrides below applied' : ''}.
      </p>
      {run.spec ? (
        <SpecView value={run.spec} label="Definition snapshot" testid="spec-snapshot" />
      ) : (
        <Notice>The server did not send the definition snapshot.</Notice>
      )}
      {Object.keys(overrides).length > 0 ? <SpecView value={overrides} label="Overrides given at submit" /> : null}
      {run.plan ? <SpecView value={run.plan} label="Plan for the first attempt" /> : null}
    </section>
  );
}
