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
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
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
  /** Run the notebook once with its defaults before deploying (a failure deploys nothing). */
  test_run: boolean;
}

/** The failing cell of a test run, as the server read it from the output notebook. */
export interface TestRunFailure {
  cell: number;
  source: string;
  ename: string;
  evalue: string;
  traceback: string;
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
  pipeline_url?: string | null;
  next_run?: string | null;
  failed_runs?: number[];
  test_run?: { status: string; duration: number } | null;
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
    parameters: {},
    test_run: true
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
    message = '',
    failure: TestRunFailure | null = null
  ) {
    super();
    this.addClass('paved-promote');
    const node = this.node;
    if (failure) {
      node.append(
        element(
          'div',
          { className: 'paved-promote-failure', role: 'alert' },
          element('strong', {}, `Test run: cell ${failure.cell} failed with ${failure.ename}: ${failure.evalue}`),
          element('pre', { className: 'paved-promote-failure-source' }, failure.source),
          element('pre', { className: 'paved-promote-failure-traceback' }, failure.traceback)
        )
      );
    }
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

    const testRun = element('input', { type: 'checkbox' });
    testRun.checked = values.test_run;
    field('test_run', 'Test run', testRun, 'run the notebook once with these defaults first; a failure deploys nothing');

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
      parameters,
      test_run: (this._inputs.get('test_run') as HTMLInputElement | undefined)?.checked ?? true
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

/** `2026-12-01 06:00 CET` in the pipeline's time zone (the server gives ISO 8601 with its offset). */
export function nextRunText(iso: string, timezone: string | null): string {
  const when = new Date(iso);
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone || 'UTC', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
      minute: '2-digit', timeZoneName: 'short'
    }).format(when);
  } catch {
    return iso;
  }
}

/** Run now / rerun the failed runs of the pipeline just promoted, through the notebook server. */
function pipelineAction(result: PromoteResult, action: 'run' | 'rerun-failed'): Promise<Record<string, unknown>> {
  return pavedRequest<Record<string, unknown>>(
    `promote/${action}`,
    { method: 'POST', body: JSON.stringify({ project: result.pipeline.project, name: result.pipeline.name }) },
    'Promote'
  );
}

function resultBody(result: PromoteResult): Widget {
  const body = new Widget();
  body.addClass('paved-promote-result');
  const what = result.new_version
    ? `Version ${result.version} is deployed.`
    : `Unchanged: still version ${result.version}.`;
  const tested = result.test_run ? ` The test run succeeded in ${result.test_run.duration.toFixed(1)} s.` : '';
  const when =
    result.schedule === 'manual'
      ? 'No schedule (manual): start a run with Run now.'
      : `Runs on schedule ${result.schedule} (${result.timezone}).`;
  const host = PageConfig.getOption('hubHost') || '';
  const link = element(
    'a',
    {
      href: result.pipeline_url ? `${host}${result.pipeline_url}` : historyLink(result), target: '_blank',
      rel: 'noopener', className: 'paved-promote-history'
    },
    'Open the pipeline'
  );
  body.node.append(
    element('p', { className: 'paved-promote-success' }, element('strong', {}, what), tested, ' ', when)
  );
  if (result.next_run) {
    body.node.append(
      element('p', { className: 'paved-promote-next' }, `Next run: ${nextRunText(result.next_run, result.timezone)}`)
    );
  }
  body.node.append(
    element('p', {}, `Spec ${result.spec_written === 'updated' ? 'updated' : 'written'}: ${result.spec_file}`)
  );
  const status = element('p', { className: 'paved-promote-action-result', role: 'status' });
  const actions = element('p', { className: 'paved-promote-actions' });
  const button = (label: string, className: string, action: 'run' | 'rerun-failed', done: (r: Record<string, unknown>) => string) => {
    const b = element('button', { className: `jp-Button jp-mod-styled jp-mod-reject ${className}`, type: 'button' }, label);
    b.addEventListener('click', () => {
      b.disabled = true;
      pipelineAction(result, action).then(
        r => { status.textContent = done(r); },
        (e: Error) => { status.textContent = e.message; b.disabled = false; }
      );
    });
    actions.append(b);
  };
  if (result.schedule === 'manual') {
    button('Run now', 'paved-promote-run-now', 'run', r => `Run #${String(r.run_id)} queued.`);
  }
  const failed = result.failed_runs ?? [];
  if (failed.length) {
    button(
      `Rerun the ${failed.length} failed run(s) with version ${result.version}`, 'paved-promote-rerun-failed',
      'rerun-failed', r => `Queued again: #${((r.run_ids as number[]) ?? []).join(', #')}`
    );
  }
  actions.append(link);
  body.node.append(actions, status);
  return body;
}

const PARAMETERS_TAG = 'parameters';

function cellTags(cell: { model: { getMetadata(key: string): unknown } }): string[] {
  const tags = cell.model.getMetadata('tags');
  return Array.isArray(tags) ? tags.map(String) : [];
}

/** Tag the active cell `parameters` (or insert a tagged cell at the top): the one-click fix for Promote. */
export function tagParametersCell(panel: NotebookPanel, insert: boolean): void {
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return;
  }
  if (insert || !notebook.activeCell || notebook.activeCell.model.type !== 'code') {
    model.sharedModel.insertCell(0, {
      cell_type: 'code', source: '# Parameters: a pipeline run replaces these values\n',
      metadata: { tags: [PARAMETERS_TAG] }
    });
    notebook.activeCellIndex = 0;
    return;
  }
  const cell = notebook.activeCell;
  const tags = cellTags(cell);
  if (!tags.includes(PARAMETERS_TAG)) {
    cell.model.setMetadata('tags', [...tags, PARAMETERS_TAG]);
  }
}

/** Show a `parameters` badge on the cell tagged for papermill, kept in step as tags change. */
export function trackParameterBadges(tracker: INotebookTracker): void {
  const mark = (panel: NotebookPanel) => {
    for (const cell of panel.content.widgets) {
      cell.toggleClass('paved-parameters-cell', cellTags(cell).includes(PARAMETERS_TAG));
    }
  };
  tracker.widgetAdded.connect((_, panel) => {
    void panel.context.ready.then(() => {
      mark(panel);
      panel.content.model?.contentChanged.connect(() => mark(panel));
      panel.content.model?.cells.changed.connect(() => mark(panel));
      panel.content.model?.sharedModel.changed.connect(() => mark(panel));
    });
  });
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
      const untagged = typeof error.body?.how_to_tag === 'string';
      const answer = await showDialog({
        title: `Cannot promote ${label}`,
        body: errorBody(error),
        buttons: untagged
          ? [
              Dialog.cancelButton(),
              Dialog.createButton({ label: 'Insert a parameters cell', displayType: 'default', actions: ['insert'] }),
              Dialog.okButton({ label: 'Use the selected cell as parameters', actions: ['use'] })
            ]
          : [Dialog.okButton()]
      });
      if (untagged && (answer.button.actions.includes('use') || answer.button.actions.includes('insert'))) {
        tagParametersCell(panel, answer.button.actions.includes('insert'));
        return promoteNotebook(panel);
      }
    } else {
      await showErrorMessage(`Cannot promote ${label}`, String(error));
    }
    return;
  }
  progress.close();

  let values = initialValues(info);
  let problems: string[] = [];
  let message = '';
  let failure: TestRunFailure | null = null;
  for (;;) {
    const form = new Dialog<PromoteValues>({
      title: `Promote ${label} to a pipeline`,
      body: new PromoteForm(info, values, problems, message, failure),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })],
      focusNodeSelector: '#paved-promote-name'
    });
    form.addClass('paved-promote-dialog'); // taller than JupyterLab's 500px: the parameters fit
    const answer = await form.launch();
    if (!answer.button.accept || !answer.value) {
      return;
    }
    values = answer.value;
    progress = showProgress(
      'Promote to pipeline',
      values.test_run
        ? `Running ${label} once with its defaults (test run), then deploying ${values.name}…`
        : `Validating and deploying ${values.name}…`
    );
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
        const test = error.body?.test_run as { failure?: TestRunFailure | null } | undefined;
        failure = test?.failure ?? null;
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
