/**
 * "Promote to pipeline": the dialog in front of `paved promote`.
 *
 * The browser only collects the command's flags. The server extension (`/paved/promote/inspect` and
 * `/paved/promote/deploy`, see paved_lab/promote.py) reads the notebook's parameters cell with papermill,
 * builds and validates the spec, pins the notebook, deploys through the pipelines API with the server's hub
 * token and writes the spec beside the notebook, all with the Python functions `paved promote` uses.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { PavedError, pavedRequest } from './api';

/** One notebook parameter as the server sees it: spec type and default, and its `--param` text form. */
export interface PromoteParameter {
  name: string;
  type: 'int' | 'float' | 'str' | 'bool' | 'date' | 'list';
  default: unknown;
  help: string;
  text: string;
  in_notebook: boolean;
}

/** The answer of `POST /paved/promote/inspect`: the spec `paved promote` would write, as form fields. */
export interface PromoteInfo {
  notebook: string;
  spec_file: string;
  spec_exists: boolean;
  name: string;
  project: string;
  environment: string;
  environments: string[];
  schedule: string;
  timezone: string | null;
  parameters: PromoteParameter[];
}

/** What the dialog sends: `paved promote`'s flags (`parameters` holds only the values the user changed). */
export interface PromoteValues {
  name: string;
  project: string;
  environment: string;
  schedule: string;
  timezone: string;
  parameters: Record<string, string>;
}

/** The answer of `POST /paved/promote/deploy`. */
export interface PromoteResult {
  pipeline: { project: string; name: string; environment: string };
  version: number;
  new_version: boolean;
  schedule: string;
  timezone: string | null;
  spec_file: string;
  spec_written: string;
  history_url: string;
}

export function inspectNotebook(path: string): Promise<PromoteInfo> {
  return pavedRequest<PromoteInfo>(
    'promote/inspect',
    { method: 'POST', body: JSON.stringify({ path }) },
    'Promote'
  );
}

export function deployNotebook(path: string, values: PromoteValues): Promise<PromoteResult> {
  return pavedRequest<PromoteResult>(
    'promote/deploy',
    { method: 'POST', body: JSON.stringify({ path, ...values }) },
    'Promote'
  );
}

const SCHEDULE_PRESETS: [string, string][] = [
  ['0 6 * * *', 'daily at 06:00'],
  ['0 * * * *', 'every hour'],
  ['0 6 * * 1', 'Mondays at 06:00'],
  ['0 6 1 * *', 'the 1st of each month at 06:00'],
  ['manual', 'no schedule: run now and backfill only']
];

const TYPE_HINTS: Record<string, string> = {
  date: 'date: YYYY-MM-DD, or {{ nominal_date }} = the day the run is for',
  list: 'list: comma-separated, or JSON [..]'
};

const PLACEHOLDERS: Record<string, string> = {
  int: 'a whole number',
  float: 'a number',
  bool: '',
  date: 'YYYY-MM-DD or {{ nominal_date }}',
  list: 'a, b, c or JSON [..]',
  str: 'text'
};

function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function timezones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  } catch {
    return [];
  }
}

/** The form's starting values: the server's view of the spec (the browser's time zone for a first promotion). */
export function initialValues(info: PromoteInfo): PromoteValues {
  return {
    name: info.name,
    project: info.project,
    environment: info.environment,
    schedule: info.schedule,
    timezone: info.timezone ?? browserTimezone(),
    parameters: {}
  };
}

/** The field a problem (`field: what is wrong`) is about, as the form's field key. */
export function problemField(problem: string): string {
  const field = problem.split(':', 1)[0].trim();
  if (field === 'schedule.timezone') {
    return 'timezone';
  }
  if (field.startsWith('schedule')) {
    return 'schedule';
  }
  return field;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value !== undefined) {
      if (key === 'className') {
        node.className = value;
      } else {
        node.setAttribute(key, value);
      }
    }
  }
  node.append(...children);
  return node;
}

/** The dialog's body: the flags of `paved promote` as a form, with the problems of the last attempt. */
export class PromoteForm extends Widget {
  private _inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();

  constructor(
    private readonly _info: PromoteInfo,
    values: PromoteValues,
    problems: string[] = [],
    message = ''
  ) {
    super();
    this.addClass('paved-promote');
    const node = this.node;
    if (problems.length || message) {
      const list = element('ul', { className: 'paved-promote-problems-list' });
      for (const problem of problems) {
        list.append(element('li', {}, problem));
      }
      node.append(
        element(
          'div',
          { className: 'paved-error paved-promote-problems', role: 'alert' },
          element('strong', {}, message || 'Please fix:'),
          list
        )
      );
    }
    const byField = new Map<string, string[]>();
    for (const problem of problems) {
      const key = problemField(problem);
      byField.set(key, [...(byField.get(key) ?? []), problem.slice(problem.indexOf(':') + 1).trim()]);
    }

    const spec = this._info.spec_exists
      ? `updates ${this._info.spec_file}`
      : `writes ${this._info.spec_file}`;
    node.append(
      element(
        'p',
        { className: 'paved-muted paved-promote-intro' },
        `Deploys ${this._info.notebook} to the pipelines service (as paved promote does) and ${spec}.`
      )
    );

    const grid = element('div', { className: 'paved-promote-grid' });
    node.append(grid);
    const field = (
      key: string,
      label: string,
      input: HTMLInputElement | HTMLSelectElement,
      hint = ''
    ) => {
      input.id = `paved-promote-${key}`;
      input.classList.add('paved-promote-input');
      this._inputs.set(key, input);
      const errors = byField.get(key) ?? [];
      const cell = element('div', { className: 'paved-promote-value' }, input);
      if (hint) {
        cell.append(element('div', { className: 'paved-muted paved-promote-hint' }, hint));
      }
      for (const error of errors) {
        input.classList.add('paved-promote-invalid');
        input.setAttribute('aria-invalid', 'true');
        cell.append(element('div', { className: 'paved-promote-field-error', 'data-field': key }, error));
      }
      grid.append(element('label', { for: input.id, className: 'paved-promote-label' }, label), cell);
    };
    const text = (value: string, extra: Record<string, string> = {}) => {
      const input = element('input', { type: 'text', spellcheck: 'false', ...extra });
      input.value = value;
      return input;
    };

    field('name', 'Name', text(values.name), 'lowercase letters, digits and dashes');
    field('project', 'Project', text(values.project));
    const env = element('select');
    for (const name of this._info.environments) {
      env.append(element('option', { value: name }, name));
    }
    env.value = values.environment;
    field('environment', 'Environment', env);

    const presets = element('datalist', { id: 'paved-promote-schedules' });
    for (const [cron, meaning] of SCHEDULE_PRESETS) {
      presets.append(element('option', { value: cron }, meaning));
    }
    node.append(presets);
    field(
      'schedule',
      'Schedule',
      text(values.schedule, { list: 'paved-promote-schedules' }),
      'cron: minute hour day month weekday (0 6 * * * = daily at 06:00), or manual'
    );
    const zones = element('datalist', { id: 'paved-promote-timezones' });
    for (const zone of timezones()) {
      zones.append(element('option', { value: zone }));
    }
    node.append(zones);
    field('timezone', 'Time zone', text(values.timezone, { list: 'paved-promote-timezones' }));

    if (this._info.parameters.length) {
      grid.append(element('div', { className: 'paved-promote-section' }, 'Parameters (defaults of each run)'));
    }
    for (const param of this._info.parameters) {
      const key = `parameters.${param.name}`;
      const current = values.parameters[param.name] ?? param.text;
      let input: HTMLInputElement;
      if (param.type === 'bool') {
        input = element('input', { type: 'checkbox' });
        input.checked = current.trim().toLowerCase() === 'true';
      } else {
        input = text(current, {
          placeholder: PLACEHOLDERS[param.type] ?? '',
          inputmode: param.type === 'int' || param.type === 'float' ? 'decimal' : 'text'
        });
      }
      input.dataset.param = param.name;
      input.dataset.type = param.type;
      const hint = [TYPE_HINTS[param.type] ?? param.type, param.help].filter(Boolean).join(' · ');
      field(key, param.name, input, hint);
    }
  }

  /** The form as `paved promote` flags; only parameter values that differ from the spec's are sent. */
  getValue(): PromoteValues {
    const read = (key: string) => (this._inputs.get(key)?.value ?? '').trim();
    const parameters: Record<string, string> = {};
    for (const param of this._info.parameters) {
      const input = this._inputs.get(`parameters.${param.name}`) as HTMLInputElement | undefined;
      if (!input) {
        continue;
      }
      const value = param.type === 'bool' ? (input.checked ? 'true' : 'false') : input.value.trim();
      if (value !== param.text) {
        parameters[param.name] = value;
      }
    }
    return {
      name: read('name'),
      project: read('project'),
      environment: read('environment'),
      schedule: read('schedule'),
      timezone: read('timezone'),
      parameters
    };
  }
}

/** A dialog without buttons saying what is happening; `close()` it when done. */
function showProgress(title: string, text: string): { close: () => void } {
  const body = new Widget();
  body.addClass('paved-promote-progress');
  body.node.append(element('div', { className: 'paved-spinner', 'aria-hidden': 'true' }), element('span', {}, text));
  const dialog = new Dialog({ title, body, buttons: [], hasClose: false });
  dialog.addClass('paved-promote-progress-dialog');
  void dialog.launch().catch(() => undefined);
  return { close: () => dialog.reject() };
}

/** Where the run history page is, for a link in the browser (the hub may serve users on another host). */
export function historyLink(result: PromoteResult): string {
  const host = PageConfig.getOption('hubHost') || '';
  const base = result.history_url || '/services/pipelines/';
  return `${host}${base}?project=${encodeURIComponent(result.pipeline.project)}`;
}

function resultBody(result: PromoteResult): Widget {
  const body = new Widget();
  body.addClass('paved-promote-result');
  const what = result.new_version
    ? `Version ${result.version} is deployed.`
    : `Unchanged: still version ${result.version}.`;
  const when =
    result.schedule === 'manual'
      ? 'No schedule (manual): start runs from the run history page.'
      : `Runs on schedule ${result.schedule} (${result.timezone}).`;
  const link = element(
    'a',
    { href: historyLink(result), target: '_blank', rel: 'noopener', className: 'paved-promote-history' },
    'Open the run history'
  );
  body.node.append(
    element('p', { className: 'paved-promote-success' }, element('strong', {}, what), ' ', when),
    element('p', {}, `Spec ${result.spec_written === 'updated' ? 'updated' : 'written'}: ${result.spec_file}`),
    element('p', {}, link)
  );
  return body;
}

function errorBody(error: PavedError): Widget {
  const body = new Widget();
  body.addClass('paved-promote-error');
  const how = typeof error.body?.how_to_tag === 'string' ? error.body.how_to_tag : '';
  const what = how ? error.message.replace(how, '').trim() : error.message;
  body.node.append(element('p', { className: 'paved-error' }, what));
  if (how) {
    body.node.append(element('p', { className: 'paved-promote-how' }, how));
  }
  return body;
}

/** The whole flow for one notebook: save, inspect, dialog, deploy (again with the problems shown), result. */
export async function promoteNotebook(panel: NotebookPanel): Promise<void> {
  const context = panel.context;
  await context.ready;
  const label = panel.title.label || context.path;
  let progress = showProgress('Promote to pipeline', `Saving ${label} and reading its parameters…`);
  let info: PromoteInfo;
  try {
    await context.save();
    info = await inspectNotebook(context.path);
  } catch (error) {
    progress.close();
    if (error instanceof PavedError) {
      await showDialog({
        title: `Cannot promote ${label}`,
        body: errorBody(error),
        buttons: [Dialog.okButton()]
      });
    } else {
      await showErrorMessage(`Cannot promote ${label}`, String(error));
    }
    return;
  }
  progress.close();

  let values = initialValues(info);
  let problems: string[] = [];
  let message = '';
  for (;;) {
    const form = new Dialog<PromoteValues>({
      title: `Promote ${label} to a pipeline`,
      body: new PromoteForm(info, values, problems, message),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })],
      focusNodeSelector: '#paved-promote-name'
    });
    form.addClass('paved-promote-dialog'); // taller than JupyterLab's 500px: the parameters fit
    const answer = await form.launch();
    if (!answer.button.accept || !answer.value) {
      return;
    }
    values = answer.value;
    progress = showProgress('Promote to pipeline', `Validating and deploying ${values.name}…`);
    try {
      const result = await deployNotebook(context.path, values);
      progress.close();
      await showDialog({
        title: `Promoted ${result.pipeline.project}/${result.pipeline.name}`,
        body: resultBody(result),
        buttons: [Dialog.okButton()]
      });
      return;
    } catch (error) {
      progress.close();
      if (error instanceof PavedError) {
        const listed = error.body?.problems;
        problems = Array.isArray(listed) ? listed.map(String) : [];
        message = problems.length ? error.message : '';
        if (!problems.length) {
          problems = [error.message];
        }
      } else {
        problems = [String(error)];
        message = 'Promote failed';
      }
    }
  }
}
