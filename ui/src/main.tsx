import { render } from 'preact';
import { App } from './app';
import { applyTheme, storedTheme } from './lib/theme';
import './styles/palette.css';
import './styles/base.css';
import './styles/components.css';
import './styles/run.css';
import './styles/panels.css';

applyTheme(storedTheme());
render(<App />, document.getElementById('app')!);
