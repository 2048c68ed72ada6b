/**
 * paved-lab: adds the Catalog sidebar, the Lineage view and "Promote to pipeline" to JupyterLab.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { CatalogWidget } from './catalog';
import { openDatasetTab } from './datasettab';
import { LineageWidget } from './lineage';
import { promoteNotebook, trackParameterBadges } from './promote';
import statusPlugin from './status';

const CATALOG_ICON = new LabIcon({
  name: 'paved-lab:catalog',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<ellipse cx="12" cy="5" rx="8" ry="3"/>' +
    '<path d="M4 7v4c0 1.7 3.6 3 8 3s8-1.3 8-3V7c0 1.7-3.6 3-8 3S4 8.7 4 7z"/>' +
    '<path d="M4 13v4c0 1.7 3.6 3 8 3s8-1.3 8-3v-4c0 1.7-3.6 3-8 3s-8-1.3-8-3z"/>' +
    '</g></svg>'
});

const PROMOTE_ICON = new LabIcon({
  name: 'paved-lab:promote',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<circle cx="5" cy="12" r="3"/><circle cx="19" cy="5" r="3"/><circle cx="19" cy="19" r="3"/>' +
    '<path d="M7.6 10.6l8.6-4.4.9 1.8-8.6 4.4zM7.6 13.4l.9-1.8 8.6 4.4-.9 1.8z"/>' +
    '</g></svg>'
});

export namespace CommandIDs {
  export const openCatalog = 'paved:open-catalog';
  export const openLineage = 'paved:open-lineage';
  export const promote = 'paved:promote-notebook';
}

/** Insert code into the active cell of the current notebook (into an empty cell, at the cursor otherwise). */
function insertIntoNotebook(app: JupyterFrontEnd, tracker: INotebookTracker, code: string): string {
  const panel = tracker.currentWidget;
  if (!panel) {
    return 'Open a notebook first: the snippet goes into its active cell.';
  }
  const notebook = panel.content;
  if (!notebook.activeCell || notebook.activeCell.model.type !== 'code') {
    NotebookActions.insertBelow(notebook);
    NotebookActions.changeCellType(notebook, 'code');
  }
  const cell = notebook.activeCell;
  if (!cell) {
    return 'The notebook has no cell to insert into.';
  }
  const source = cell.model.sharedModel.getSource();
  if (source.trim() === '') {
    cell.model.sharedModel.setSource(code);
  } else if (cell.editor && cell.editor.replaceSelection) {
    cell.editor.replaceSelection(code);
  } else {
    cell.model.sharedModel.setSource(`${source}\n${code}`);
  }
  app.shell.activateById(panel.id);
  return `Snippet inserted into ${panel.title.label}.`;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'paved-lab:plugin',
  description: 'Catalog sidebar and lineage graph for the Paved catalog service.',
  autoStart: true,
  requires: [ILabShell, INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, shell: ILabShell, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    let lineage: MainAreaWidget<LineageWidget> | null = null;

    const openDataset = (namespace: string, name: string): void => {
      openDatasetTab(shell, namespace, name, {
        insertSnippet: async code => insertIntoNotebook(app, tracker, code),
        copy: text => Clipboard.copyToSystem(text),
        openDataset
      });
    };

    const catalog: CatalogWidget = new CatalogWidget({ openDataset });
    catalog.title.icon = CATALOG_ICON;
    shell.add(catalog, 'left', { rank: 450 });

    app.commands.addCommand(CommandIDs.openCatalog, {
      label: 'Open Data Catalog',
      icon: CATALOG_ICON,
      execute: () => shell.activateById(catalog.id)
    });

    app.commands.addCommand(CommandIDs.openLineage, {
      label: 'Show Lineage',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            nodeId: { type: 'string', description: 'dataset:<ns>:<name> or job:<ns>:<name>' }
          }
        }
      },
      execute: args => {
        const nodeId = typeof args.nodeId === 'string' ? args.nodeId : '';
        if (!lineage || lineage.isDisposed) {
          const content = new LineageWidget(openDataset);
          lineage = new MainAreaWidget({ content });
          lineage.id = 'paved-lineage-panel';
          lineage.title.icon = CATALOG_ICON;
          lineage.title.closable = true;
          content.title.changed.connect(() => {
            if (lineage) {
              lineage.title.label = content.title.label;
            }
          });
        }
        if (!lineage.isAttached) {
          shell.add(lineage, 'main');
        }
        if (nodeId) {
          lineage.content.focusOn(nodeId);
        }
        shell.activateById(lineage.id);
      }
    });

    const promote = (panel: NotebookPanel | null) => {
      if (panel) {
        void promoteNotebook(panel);
      }
    };
    app.commands.addCommand(CommandIDs.promote, {
      label: 'Promote to pipeline',
      caption: 'Schedule this notebook as a pipeline (paved promote): parameters, schedule, deploy',
      icon: PROMOTE_ICON,
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => promote(tracker.currentWidget)
    });
    // A toolbar button on every notebook, acting on that notebook (not whichever is current).
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew(panel: NotebookPanel) {
        const button = new ToolbarButton({
          className: 'paved-promote-button',
          icon: PROMOTE_ICON,
          label: 'Promote',
          tooltip: 'Promote to pipeline: schedule this notebook (paved promote)',
          onClick: () => promote(panel)
        });
        panel.toolbar.insertItem(10, 'pavedPromote', button);
        return button;
      }
    });

    palette?.addItem({ command: CommandIDs.openCatalog, category: 'Paved' });
    palette?.addItem({ command: CommandIDs.promote, category: 'Paved' });
    trackParameterBadges(tracker);
  }
};

export default [plugin, statusPlugin];
