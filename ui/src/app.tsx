// The shell: header with navigation, who you are and the theme; the page for the hash route.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { readStored, writeStored } from './api/hooks';
import { type Route, definitionsHref, parseRoute, runsHref, submitHref } from './lib/route';
import { type ThemeChoice, applyTheme, nextTheme, resolveTheme, storedTheme } from './lib/theme';
import { DefinitionPage } from './pages/DefinitionPage';
import { DefinitionsPage } from './pages/DefinitionsPage';
import { RunPage } from './pages/RunPage';
import { RunsPage } from './pages/RunsPage';
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

export function App() {
  const route = useRoute();
  const [themeChoice, theme, setTheme] = useThemeState();
  const [owner, setOwnerState] = useState(() => readStored(OWNER_KEY) ?? '');
  const settings: Settings = useMemo(
    () => ({
      owner,
      setOwner: (o: string) => {
        setOwnerState(o);
        writeStored(OWNER_KEY, o);
      },
      themeChoice,
      theme,
      setTheme,
    }),
    [owner, themeChoice, theme],
  );
  const main = useRef<HTMLElement>(null);

  // Each new page starts at the top with a title of its own.
  const pageKey = route.page === 'run' ? `run:${route.id}` : route.page;
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [pageKey]);
  useEffect(() => {
    document.title = title(route);
  }, [route]);

  return (
    <SettingsContext.Provider value={settings}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        Skip to content
      </a>
      <Header route={route} />
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} />
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

function Header({ route }: { route: Route }) {
  const section = route.page === 'run' ? 'runs' : route.page === 'definition' ? 'definitions' : route.page;
  const links = [
    { id: 'runs', label: 'Runs', href: runsHref() },
    { id: 'definitions', label: 'Definitions', href: definitionsHref() },
    { id: 'submit', label: 'Submit', href: submitHref() },
  ];
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
      <OwnerBox />
      <ThemeToggle />
    </header>
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
