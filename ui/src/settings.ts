// App-wide settings shared through context: who "you" are (sent as a run's owner) and the theme.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Theme, ThemeChoice } from './lib/theme';

export interface Settings {
  owner: string;
  setOwner: (owner: string) => void;
  themeChoice: ThemeChoice;
  theme: Theme;
  setTheme: (choice: ThemeChoice) => void;
}

export const SettingsContext = createContext<Settings>({
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
