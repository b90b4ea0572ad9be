// A definition (or any JSON) as YAML-like text, with a copy-as-JSON button.
import { useState } from 'preact/hooks';
import { readableSpec, toYaml } from '../lib/yamlish';

export function SpecView({ value, label, testid }: { value: unknown; label: string; testid?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(value, null, 2));
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div class="spec">
      <div class="spec-bar">
        <span class="muted small">{label}</span>
        <button type="button" class="small" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy as JSON'}
        </button>
      </div>
      <pre class="code" tabIndex={0} aria-label={label} data-testid={testid}>
        {toYaml(readableSpec(value))}
      </pre>
    </div>
  );
}
