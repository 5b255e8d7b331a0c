import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { CredentialsPanel } from './panel';

const BADGE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<path class="jp-icon3" fill="#616161" d="M12 1.5 20.5 6.4v9.8L12 21.1 3.5 16.2V6.4z M12 4 5.7 7.6v7.3L12 18.6l6.3-3.7V7.6z"/>
<path class="jp-icon3" fill="#616161" d="m10.6 14.6-3-3 1.4-1.4 1.6 1.6 4.3-4.3 1.4 1.4z"/>
</svg>`;

export const credentialsIcon = new LabIcon({
  name: 'credkit:credentials',
  svgstr: BADGE_ICON
});

/** How often the panel looks for newly released credentials while JupyterLab is open. */
const REFRESH_MS = 5 * 60 * 1000;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'credkit-jupyter:credentials',
  description: 'The learner’s Credentials panel: signed skill credentials, verified, downloadable, shareable.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const panel = new CredentialsPanel();
    panel.title.icon = credentialsIcon;
    app.shell.add(panel, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(panel, 'credkit-credentials');
    }
    app.commands.addCommand('credkit:open', {
      label: 'Show My Credentials',
      icon: credentialsIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand('credkit:refresh', {
      label: 'Fetch and Verify My Credentials',
      execute: () => panel.refresh()
    });
    if (palette) {
      palette.addItem({ command: 'credkit:open', category: 'Credentials' });
      palette.addItem({ command: 'credkit:refresh', category: 'Credentials' });
    }
    void app.restored.then(() => panel.refresh());
    window.setInterval(() => void panel.refresh(), REFRESH_MS);
  }
};

export default plugin;
