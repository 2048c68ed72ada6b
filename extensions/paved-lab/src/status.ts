/**
 * Paved inside JupyterLab: a status bar item (project · environment · instance type · lifecycle · idle time
 * left · cost so far) with a panel of links, a "Paved" menu, and the idle warning five minutes before this
 * server would be stopped for inactivity ("Keep running" counts as activity).
 *
 * Activity: a person's input (keys, clicks, scrolling) is reported to this server (`POST paved/activity`,
 * at most once per ACTIVITY_EVERY_MS); the status poll (`GET paved/status`) is a read and does not count,
 * so an untouched tab never keeps the server alive.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Menu, Widget } from '@lumino/widgets';

import { reportActivity as postActivity, serverStatus } from './api';
import { IPavedStatus } from './types';

export type { IPavedStatus } from './types';

const POLL_MS = 15_000;
const ACTIVITY_EVERY_MS = 30_000;

export namespace StatusCommandIDs {
  export const home = 'paved:home';
  export const newNotebook = 'paved:new-notebook';
  export const pipelines = 'paved:pipelines';
  export const costs = 'paved:costs';
  export const keepRunning = 'paved:keep-running';
}

/** "12 min", "1 h 05 min", "45 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} min`;
  }
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function formatCost(status: IPavedStatus): string {
  if (status.cost_so_far === null) {
    return '';
  }
  const symbol = status.currency === 'USD' ? '$' : `${status.currency} `;
  return `${symbol}${status.cost_so_far.toFixed(status.cost_so_far < 1 ? 3 : 2)}`;
}

/** Seconds of idle time left at `nowMs`, from a status fetched at `fetchedAtMs`. */
export function secondsLeft(status: IPavedStatus, fetchedAtMs: number, nowMs: number): number | null {
  if (status.idle_seconds_left === null) {
    return null;
  }
  return Math.max(0, status.idle_seconds_left - (nowMs - fetchedAtMs) / 1000);
}

/** The status bar item's text. */
export function summary(status: IPavedStatus, left: number | null): string {
  const parts = [status.project, status.environment, status.instance_type, status.lifecycle].filter(p => p);
  if (left !== null) {
    parts.push(`idle stop in ${formatDuration(left)}`);
  }
  const cost = formatCost(status);
  if (cost) {
    parts.push(cost);
  }
  return parts.join(' · ');
}

function link(href: string, text: string, id: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  a.id = id;
  a.target = '_blank';
  a.rel = 'noopener';
  return a;
}

/** The small panel the status item opens: the same facts, and links. */
class StatusPanel extends Widget {
  constructor() {
    super();
    this.id = 'paved-status-panel';
    this.addClass('paved-StatusPanel');
    this.hide();
  }

  render(status: IPavedStatus, left: number | null): void {
    const node = this.node;
    node.textContent = '';
    const dl = document.createElement('dl');
    const rows: [string, string][] = [
      ['Project', status.project],
      ['Environment', status.environment],
      ['Instance type', status.instance_type],
      ['Lifecycle', status.lifecycle],
      ['Idle limit', status.idle_minutes ? `${status.idle_minutes} min` : '—'],
      ['Stops if idle in', left === null ? '—' : formatDuration(left)],
      ['Cost so far', formatCost(status) || '—']
    ];
    for (const [label, value] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.textContent = value || '—';
      dl.append(dt, dd);
    }
    const links = document.createElement('div');
    links.className = 'paved-StatusPanel-links';
    links.append(
      link(status.links.pipelines, 'Pipelines', 'paved-status-pipelines'),
      link(status.links.costs, 'Costs', 'paved-status-costs'),
      link(status.links.home, 'Hub home', 'paved-status-home')
    );
    node.append(dl, links);
  }
}

/** The status bar item. */
class StatusItem extends Widget {
  constructor(onClick: () => void) {
    super({ node: document.createElement('button') });
    this.id = 'paved-status';
    this.addClass('paved-StatusItem');
    this.node.setAttribute('type', 'button');
    this.node.title = 'Paved: this server (click for details and links)';
    this.node.addEventListener('click', onClick);
  }

  set text(value: string) {
    this.node.textContent = value;
  }
}

const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'paved-lab:status',
  description: 'Paved status bar item, Paved menu and the idle warning.',
  autoStart: true,
  optional: [IStatusBar, IMainMenu, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    mainMenu: IMainMenu | null,
    palette: ICommandPalette | null
  ) => {
    let status: IPavedStatus | null = null;
    let fetchedAt = 0;
    let warningId: string | null = null;
    let lastReport = 0;

    const panel = new StatusPanel();
    const item = new StatusItem(() => {
      if (panel.isHidden) {
        if (status) {
          panel.render(status, secondsLeft(status, fetchedAt, Date.now()));
        }
        panel.show();
      } else {
        panel.hide();
      }
    });
    Widget.attach(panel, document.body);

    const open = (key: keyof IPavedStatus['links']) => {
      if (status) {
        window.open(status.links[key], '_blank', 'noopener');
      }
    };

    const update = () => {
      if (!status) {
        return;
      }
      const left = secondsLeft(status, fetchedAt, Date.now());
      item.text = summary(status, left);
      if (!panel.isHidden) {
        panel.render(status, left);
      }
      const warnBefore = status.warn_before ?? 0;
      if (left !== null && left <= warnBefore) {
        if (warningId === null) {
          const minutes = Math.max(1, Math.round(left / 60));
          warningId = Notification.warning(
            `This server stops in ${minutes} minute${minutes === 1 ? '' : 's'} for inactivity`,
            {
              autoClose: false,
              actions: [
                {
                  label: 'Keep running',
                  caption: 'Counts as activity: the idle limit starts again',
                  callback: () => void app.commands.execute(StatusCommandIDs.keepRunning)
                }
              ]
            }
          );
        }
      } else if (warningId !== null) {
        Notification.dismiss(warningId);
        warningId = null;
      }
    };

    const accept = (next: IPavedStatus) => {
      status = next;
      fetchedAt = Date.now();
      update();
    };

    const poll = async () => {
      try {
        accept(await serverStatus());
      } catch {
        // the server may be stopping; the next poll tries again
      }
    };

    const reportActivity = async (force = false) => {
      const now = Date.now();
      if (!force && now - lastReport < ACTIVITY_EVERY_MS) {
        return;
      }
      lastReport = now;
      try {
        accept(await postActivity());
      } catch {
        lastReport = 0;
      }
    };

    app.commands.addCommand(StatusCommandIDs.keepRunning, {
      label: 'Keep this server running',
      execute: async () => {
        await reportActivity(true);
        if (warningId !== null) {
          Notification.dismiss(warningId);
          warningId = null;
        }
      }
    });
    app.commands.addCommand(StatusCommandIDs.home, { label: 'Hub home', execute: () => open('home') });
    app.commands.addCommand(StatusCommandIDs.newNotebook, {
      label: 'New notebook',
      execute: () => open('new_notebook')
    });
    app.commands.addCommand(StatusCommandIDs.pipelines, { label: 'Pipelines', execute: () => open('pipelines') });
    app.commands.addCommand(StatusCommandIDs.costs, { label: 'Costs', execute: () => open('costs') });

    // A person's input is activity; trusted events only (not scripted ones), reported at most every 30 s.
    for (const type of ['keydown', 'pointerdown', 'wheel']) {
      document.addEventListener(
        type,
        event => {
          if (event.isTrusted) {
            void reportActivity();
          }
        },
        { capture: true, passive: true }
      );
    }

    if (statusBar) {
      statusBar.registerStatusItem('paved-lab:status', { item, align: 'left', rank: 0 });
    }
    if (mainMenu) {
      const menu = new Menu({ commands: app.commands });
      menu.id = 'paved-menu';
      menu.title.label = 'Paved';
      for (const command of [
        StatusCommandIDs.home,
        StatusCommandIDs.newNotebook,
        StatusCommandIDs.pipelines,
        StatusCommandIDs.costs,
        'paved:open-catalog',
        'paved:promote-notebook'
      ]) {
        menu.addItem({ command });
      }
      mainMenu.addMenu(menu, true, { rank: 1000 });
    }
    for (const command of [
      StatusCommandIDs.home,
      StatusCommandIDs.newNotebook,
      StatusCommandIDs.pipelines,
      StatusCommandIDs.costs,
      StatusCommandIDs.keepRunning
    ]) {
      palette?.addItem({ command, category: 'Paved' });
    }

    void poll();
    window.setInterval(() => void poll(), POLL_MS);
    window.setInterval(update, 1000);
  }
};

export default statusPlugin;
