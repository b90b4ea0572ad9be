// Sign in with a bearer token (tug token create, or one an admin gave you). The token is checked
// with GET /api/v1/whoami before it is kept; a refusal shows the server's message. Shown instead
// of every page while the server has authentication on and nobody is signed in, so the page
// the URL names opens right after.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type AuthConfig, type Identity, cleanToken, saveToken } from '../api/auth';
import { ApiError, whoami } from '../api/client';

export function SignInPage({
  config,
  message,
  onSignedIn,
}: {
  config: AuthConfig;
  /** Why the last session ended (the server's 401 message), shown above the form. */
  message: string;
  onSignedIn: (identity: Identity) => void;
}) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState(message);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const alert = useRef<HTMLDivElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    if (error && !busy) alert.current?.focus();
  }, [error, busy]);

  const submit = async () => {
    const t = cleanToken(token);
    if (!t) {
      setError('paste your access token first');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const who = await whoami(t);
      saveToken(t, remember);
      onSignedIn(who);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      setBusy(false);
    }
  };

  return (
    <section class="signin-page" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p>This server needs you to sign in. Paste an access token:</p>
      <form
        class="signin-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        data-testid="signin-form"
      >
        {error ? (
          <div class="notice notice-error" role="alert" tabIndex={-1} ref={alert} data-testid="signin-error">
            <strong>Not signed in: </strong>
            {error}
          </div>
        ) : null}
        <div class="field">
          <label for="signin-token">Access token</label>
          <input
            id="signin-token"
            ref={input}
            type="password"
            class="mono"
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            autoComplete="off"
            spellcheck={false}
            placeholder="tug_…"
            data-testid="signin-token"
            aria-describedby="signin-hint"
          />
          <p class="hint" id="signin-hint">
            Create one with <code>tug token create</code> (or ask an admin). It is sent as{' '}
            <code>Authorization: Bearer</code> with every request of this page.
            {config.oidc ? (
              <>
                {' '}
                A JWT from <code>{config.oidc.issuer}</code> works too.
              </>
            ) : null}
          </p>
        </div>
        <label class="checkbox">
          <input
            type="checkbox"
            checked={remember}
            onChange={(e) => setRemember(e.currentTarget.checked)}
            data-testid="signin-remember"
          />{' '}
          Keep me signed in on this browser (otherwise until this tab closes)
        </label>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy} data-testid="signin-button">
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </div>
      </form>
    </section>
  );
}
