// App-wide settings shared through context: who "you" are (signed in, or the name sent as a
// run's owner when the server has no authentication) and the theme.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Identity } from './api/auth';
import type { Theme, ThemeChoice } from './lib/theme';

export interface Settings {
  /** Signed in (authentication on), or null (off: everyone is an admin on loopback). */
  identity: Identity | null;
  signOut: () => void;
  /** The signed-in user, or the name set in the header when authentication is off. */
  owner: string;
  setOwner: (owner: string) => void;
  themeChoice: ThemeChoice;
  theme: Theme;
  setTheme: (choice: ThemeChoice) => void;
}

export const SettingsContext = createContext<Settings>({
  identity: null,
  signOut: () => {},
  owner: '',
  setOwner: () => {},
  themeChoice: 'system',
  theme: 'light',
  setTheme: () => {},
});

export function useSettings(): Settings {
  return useContext(SettingsContext);
}

export const OWNER_KEY = 'tug.owner';
