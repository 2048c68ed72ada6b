/**
 * Open a dataset as a main-area tab (one tab per dataset: opening it again brings its tab forward).
 */
import { ILabShell } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';

import { DatasetActions, DatasetPanel } from './dataset';

const open = new Map<string, MainAreaWidget<DatasetPanel>>();

/** The DOM id of a dataset's tab: stable for the same dataset, safe as an id. */
export function datasetTabId(namespace: string, name: string): string {
  let hash = 0;
  for (const c of `${namespace}\u0000${name}`) {
    hash = (Math.imul(hash, 31) + c.charCodeAt(0)) | 0;
  }
  return `paved-dataset-${(hash >>> 0).toString(36)}`;
}

export function openDatasetTab(
  shell: ILabShell,
  namespace: string,
  name: string,
  actions: DatasetActions
): DatasetPanel {
  const key = `${namespace}\u0000${name}`;
  let widget = open.get(key);
  if (!widget || widget.isDisposed) {
    const content = new DatasetPanel(namespace, name, actions);
    widget = new MainAreaWidget({ content });
    widget.id = datasetTabId(namespace, name);
    widget.addClass('paved-dataset-main');
    widget.title.label = content.title.label;
    widget.title.caption = content.title.caption;
    widget.title.closable = true;
    content.title.changed.connect(() => {
      if (widget) {
        widget.title.label = content.title.label;
      }
    });
    open.set(key, widget);
    widget.disposed.connect(() => open.delete(key));
    shell.add(widget, 'main');
  }
  shell.activateById(widget.id);
  return widget.content;
}
