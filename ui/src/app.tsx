// The shell: header with navigation, who you are and the theme; the page for the hash route.
// With authentication on, nothing but the sign-in page shows until a token is accepted.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type AuthConfig,
  type Identity,
  can,
  describeIdentity,
  forgetToken,
  setUnauthorizedHandler,
  storedToken,
} from './api/auth';
import { ApiError, authConfig, whoami } from './api/client';
import { readStored, writeStored } from './api/hooks';
import { Loading } from './components/common';
import { type Route, definitionsHref, parseRoute, queuesHref, runsHref, submitHref } from './lib/route';
import { type ThemeChoice, applyTheme, nextTheme, resolveTheme, storedTheme } from './lib/theme';
import { DefinitionPage } from './pages/DefinitionPage';
import { DefinitionsPage } from './pages/DefinitionsPage';
import { QueuesPage } from './pages/QueuesPage';
import { RunPage } from './pages/RunPage';
import { RunsPage } from './pages/RunsPage';
import { SignInPage } from './pages/SignInPage';
import { SubmitPage } from './pages/SubmitPage';
import { OWNER_KEY, type Settings, SettingsContext, useSettings } from './settings';

function useRoute(): Route {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return useMemo(() => parseRoute(hash), [hash]);
}

function useThemeState(): [ThemeChoice, 'light' | 'dark', (c: ThemeChoice) => void] {
  const [choice, setChoice] = useState<ThemeChoice>(storedTheme);
  const [system, setSystem] = useState(() => resolveTheme('system'));
  useEffect(() => {
    const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
    if (!mq) return undefined;
    const on = () => setSystem(mq.matches ? 'dark' : 'light');
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  // Applied before the state changes, so charts re-created for the new theme read its colours.
  const set = (c: ThemeChoice) => {
    applyTheme(c);
    setChoice(c);
  };
  return [choice, choice === 'system' ? system : choice, set];
}

type AuthState =
  | { phase: 'loading' }
  | { phase: 'signin'; config: AuthConfig; message: string }
  | { phase: 'ready'; config: AuthConfig | null; identity: Identity | null };

/**
 * Asks the server whether it wants a token (GET /api/v1/auth/config, open), then who the kept
 * token is. Any 401 later (an expired or revoked token) signs out with the server's message.
 */
function useAuth(): [AuthState, (s: AuthState) => void] {
  const [state, setState] = useState<AuthState>({ phase: 'loading' });
  useEffect(() => {
    let gone = false;
    void (async () => {
      const config = await authConfig();
      if (gone) return;
      if (!config?.enabled) {
        setState({ phase: 'ready', config, identity: null });
        return;
      }
      setUnauthorizedHandler((message) => {
        forgetToken();
        setState((s) => (s.phase === 'signin' ? s : { phase: 'signin', config, message }));
      });
      const token = storedToken();
      if (!token) {
        setState({ phase: 'signin', config, message: '' });
        return;
      }
      try {
        const identity = await whoami(token);
        if (!gone) setState({ phase: 'ready', config, identity });
      } catch (e) {
        if (gone) return;
        if (e instanceof ApiError && e.status === 401) forgetToken();
        setState({ phase: 'signin', config, message: e instanceof ApiError ? e.message : String(e) });
      }
    })();
    return () => {
      gone = true;
      setUnauthorizedHandler(null);
    };
  }, []);
  return [state, setState];
}

export function App() {
  const route = useRoute();
  const [themeChoice, theme, setTheme] = useThemeState();
  const [auth, setAuth] = useAuth();
  const [storedOwner, setOwnerState] = useState(() => readStored(OWNER_KEY) ?? '');
  const identity = auth.phase === 'ready' ? auth.identity : null;
  const settings: Settings = useMemo(
    () => ({
      identity,
      signOut: () => {
        forgetToken();
        if (auth.phase === 'ready' && auth.config) setAuth({ phase: 'signin', config: auth.config, message: '' });
      },
      owner: identity ? identity.user : storedOwner,
      setOwner: (o: string) => {
        setOwnerState(o);
        writeStored(OWNER_KEY, o);
      },
      themeChoice,
      theme,
      setTheme,
    }),
    [auth, storedOwner, themeChoice, theme],
  );
  const main = useRef<HTMLElement>(null);

  // Each new page starts at the top with a title of its own.
  const pageKey = route.page === 'run' ? `run:${route.id}` : route.page;
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [pageKey]);
  useEffect(() => {
    document.title = auth.phase === 'signin' ? 'Sign in · Tugboat' : title(route);
  }, [route, auth.phase]);

  let body;
  if (auth.phase === 'loading') {
    body = <Loading what="the server's sign-in settings" />;
  } else if (auth.phase === 'signin') {
    body = (
      <SignInPage
        key={auth.message}
        config={auth.config}
        message={auth.message}
        onSignedIn={(who) => setAuth({ phase: 'ready', config: auth.config, identity: who })}
      />
    );
  } else {
    body = <Page route={route} />;
  }
  return (
    <SettingsContext.Provider value={settings}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        Skip to content
      </a>
      <Header route={route} ready={auth.phase === 'ready'} authEnabled={auth.phase !== 'ready' || auth.identity !== null} />
      <main id="main" ref={main} tabIndex={-1}>
        {body}
      </main>
    </SettingsContext.Provider>
  );
}

function title(r: Route): string {
  switch (r.page) {
    case 'runs':
      return 'Runs · Tugboat';
    case 'run':
      return `Run ${r.id} · Tugboat`;
    case 'definitions':
      return 'Definitions · Tugboat';
    case 'definition':
      return `${r.name} · Tugboat`;
    case 'submit':
      return 'Submit · Tugboat';
    case 'queues':
      return 'Queues · Tugboat';
    default:
      return 'Not found · Tugboat';
  }
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'runs':
      return <RunsPage params={route.params} />;
    case 'run':
      return <RunPage key={route.id} id={route.id} tab={route.tab} params={route.params} />;
    case 'definitions':
      return <DefinitionsPage />;
    case 'definition':
      return <DefinitionPage key={route.name} name={route.name} />;
    case 'submit':
      return <SubmitPage key={route.params.toString()} params={route.params} />;
    case 'queues':
      return <QueuesPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>#{route.path}</code>. Go to the <a href={runsHref()}>runs</a>.
          </p>
        </section>
      );
  }
}

function Header({ route, ready, authEnabled }: { route: Route; ready: boolean; authEnabled: boolean }) {
  const { identity } = useSettings();
  const section = route.page === 'run' ? 'runs' : route.page === 'definition' ? 'definitions' : route.page;
  const links = ready
    ? [
        { id: 'runs', label: 'Runs', href: runsHref() },
        { id: 'definitions', label: 'Definitions', href: definitionsHref() },
        { id: 'queues', label: 'Queues', href: queuesHref() },
        ...(can(identity, 'submit') ? [{ id: 'submit', label: 'Submit', href: submitHref() }] : []),
      ]
    : [];
  return (
    <header class="topbar">
      <a class="brand" href={runsHref()} aria-label="Tugboat home">
        <span class="logo" aria-hidden="true">
          ⚓
        </span>
        Tugboat
      </a>
      <nav aria-label="Main">
        {links.map((l) => (
          <a key={l.id} href={l.href} class={section === l.id ? 'active' : ''} aria-current={section === l.id ? 'page' : undefined}>
            {l.label}
          </a>
        ))}
      </nav>
      <span class="spacer" />
      {identity ? <SignedIn identity={identity} /> : ready && !authEnabled ? <OwnerBox /> : null}
      <ThemeToggle />
    </header>
  );
}

function SignedIn({ identity }: { identity: Identity }) {
  const { signOut } = useSettings();
  return (
    <span class="signed-in">
      <span class="who" data-testid="whoami" data-user={identity.user} data-role={identity.role} title={`Signed in as ${describeIdentity(identity)}`}>
        {identity.user} <span class="muted">· {identity.role}{identity.groups.length > 0 ? ` · ${identity.groups.join(', ')}` : ''}</span>
      </span>
      <button type="button" class="small" onClick={signOut} data-testid="signout">
        Sign out
      </button>
    </span>
  );
}

function OwnerBox() {
  const { owner, setOwner } = useSettings();
  const [editing, setEditing] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  if (editing) {
    return (
      <form
        class="owner-form"
        onSubmit={(e) => {
          e.preventDefault();
          setOwner(input.current?.value.trim() ?? '');
          setEditing(false);
        }}
      >
        <label for="owner-input" class="sr-only">
          Your name
        </label>
        <input id="owner-input" ref={input} defaultValue={owner} placeholder="your name" autoFocus />
        <button type="submit" class="small">
          Save
        </button>
        <button type="button" class="small" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </form>
    );
  }
  return (
    <button
      type="button"
      class="owner"
      onClick={() => setEditing(true)}
      title="Your name, sent as the owner of runs you submit"
      data-testid="owner-button"
    >
      {owner ? `You: ${owner}` : 'Set your name'}
    </button>
  );
}

function ThemeToggle() {
  const { themeChoice, setTheme } = useSettings();
  const next = nextTheme(themeChoice);
  return (
    <button
      type="button"
      class="theme-toggle"
      onClick={() => setTheme(next)}
      aria-label={`Theme: ${themeChoice}. Switch to ${next}`}
      title={`Theme: ${themeChoice}`}
      data-testid="theme-toggle"
      data-theme-choice={themeChoice}
    >
      <span aria-hidden="true">{themeChoice === 'dark' ? '☾' : themeChoice === 'light' ? '☀' : '◐'}</span>
      <span class="theme-name">{themeChoice}</span>
    </button>
  );
}
