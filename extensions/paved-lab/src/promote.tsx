/**
 * "Promote to pipeline": the dialog in front of `paved promote`.
 *
 * The browser only collects the command's options. The server extension (`/paved/promote/inspect` and
 * `/paved/promote/deploy`, see paved_lab/promote.py) reads the notebook's parameters cell with papermill,
 * builds and validates the spec, pins the notebook, deploys through the pipelines API with the server's hub
 * token and writes the spec beside the notebook, all through the use case `paved promote` calls
 * (paved.pipelines.promotion). A refusal comes back as problems `{field, message}`, each shown next to its field.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { deployNotebook, inspectNotebook, PavedError, pipelineAction, promoteRefusal } from './api';
import { Problem, PromoteInfo, PromoteParameter, PromoteResult, PromoteValues, TestRunFailure } from './types';

export type { PromoteInfo, PromoteResult, PromoteValues } from './types';

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

/** The form input that shows problems about spec field `field` (a dotted path), or '' when none does. The time
 * zone has an input of its own; every other schedule field shows at the schedule; a parameter's fields
 * (`parameters.x.default`) at the parameter. */
export function inputOf(field: string, info: PromoteInfo): string {
  if (field === 'schedule.timezone') {
    return 'timezone';
  }
  if (field === 'schedule' || field.startsWith('schedule.')) {
    return 'schedule';
  }
  if (['name', 'project', 'environment', 'test_run'].includes(field)) {
    return field;
  }
  const param = info.parameters.find(
    p => field === `parameters.${p.name}` || field.startsWith(`parameters.${p.name}.`)
  );
  return param ? `parameters.${param.name}` : '';
}

/** The text of a parameter's value as the form holds it: what the user typed, else the spec's default. */
function parameterText(param: PromoteParameter, values: PromoteValues): string {
  return values.parameters[param.name] ?? param.text;
}

interface FieldProps {
  id: string;
  label: string;
  hint?: string;
  problems: string[];
  children: (props: { id: string; className: string; 'aria-invalid'?: boolean }) => React.ReactNode;
}

/** One row of the form: label, input, hint and the problems about this field right under the input. */
function Field(props: FieldProps): JSX.Element {
  const invalid = props.problems.length > 0;
  const id = `paved-promote-${props.id}`;
  return (
    <>
      <label htmlFor={id} className="paved-promote-label">
        {props.label}
      </label>
      <div className="paved-promote-value">
        {props.children({
          id,
          className: `paved-promote-input${invalid ? ' paved-promote-invalid' : ''}`,
          ...(invalid ? { 'aria-invalid': true } : {})
        })}
        {props.hint ? <div className="paved-muted paved-promote-hint">{props.hint}</div> : null}
        {props.problems.map((message, i) => (
          <div key={i} className="paved-promote-field-error" data-field={props.id}>
            {message}
          </div>
        ))}
      </div>
    </>
  );
}

export interface PromoteFormProps {
  info: PromoteInfo;
  values: PromoteValues;
  onChange: (values: PromoteValues) => void;
  /** The problems of the last attempt, each shown next to its field (the rest above the form). */
  problems?: Problem[];
  message?: string;
  failure?: TestRunFailure | null;
}

/** The dialog's body: `paved promote`'s options as a form, with the problems of the last attempt. */
export function PromoteForm(props: PromoteFormProps): JSX.Element {
  const { info, values, onChange } = props;
  const problems = props.problems ?? [];
  const byInput = new Map<string, string[]>();
  const general: Problem[] = [];
  for (const problem of problems) {
    const input = inputOf(problem.field, info);
    if (input) {
      byInput.set(input, [...(byInput.get(input) ?? []), problem.message]);
    } else {
      general.push(problem);
    }
  }
  const at = (key: string) => byInput.get(key) ?? [];
  const set = (change: Partial<PromoteValues>) => onChange({ ...values, ...change });
  const setParameter = (param: PromoteParameter, text: string) => {
    const parameters = { ...values.parameters };
    if (text === param.text) {
      delete parameters[param.name]; // only values that differ from the spec's are sent
    } else {
      parameters[param.name] = text;
    }
    onChange({ ...values, parameters });
  };
  // A text input of one of the form's own fields, for a Field's children.
  const text = (key: 'name' | 'project' | 'schedule' | 'timezone', list?: string) =>
    function PromoteTextInput(p: { id: string; className: string }) {
      return (
        <input
          {...p}
          type="text"
          spellCheck={false}
          list={list}
          value={values[key]}
          onChange={e => set({ [key]: e.currentTarget.value })}
        />
      );
    };
  const failure = props.failure;
  return (
    <div className="paved-promote">
      {failure ? (
        <div className="paved-promote-failure" role="alert">
          <strong>{`Test run: ${failure.label ?? `cell ${failure.cell + 1}`} failed with ${failure.ename}: ${failure.evalue}`}</strong>
          <pre className="paved-promote-failure-source">{failure.source}</pre>
          <pre className="paved-promote-failure-traceback">{failure.traceback}</pre>
        </div>
      ) : null}
      {general.length || props.message ? (
        <div className="paved-error paved-promote-problems" role="alert">
          <strong>{props.message || 'Please fix:'}</strong>
          <ul className="paved-promote-problems-list">
            {general.map((p, i) => (
              <li key={i} data-field={p.field}>
                {p.field && p.field !== 'notebook' ? `${p.field}: ${p.message}` : p.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <p className="paved-muted paved-promote-intro">
        {`Deploys ${info.notebook} to the pipelines service (as paved promote does) and ` +
          `${info.spec_exists ? 'updates' : 'writes'} ${info.spec_file}.`}
      </p>
      <datalist id="paved-promote-schedules">
        {SCHEDULE_PRESETS.map(([cron, meaning]) => (
          <option key={cron} value={cron}>
            {meaning}
          </option>
        ))}
      </datalist>
      <datalist id="paved-promote-timezones">
        {timezones().map(zone => (
          <option key={zone} value={zone} />
        ))}
      </datalist>
      <div className="paved-promote-grid">
        <Field id="name" label="Name" hint="lowercase letters, digits and dashes" problems={at('name')}>
          {text('name')}
        </Field>
        <Field id="project" label="Project" problems={at('project')}>
          {text('project')}
        </Field>
        <Field id="environment" label="Environment" problems={at('environment')}>
          {p => (
            <select {...p} value={values.environment} onChange={e => set({ environment: e.currentTarget.value })}>
              {info.environments.map(name => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          id="schedule"
          label="Schedule"
          hint="cron: minute hour day month weekday (0 6 * * * = daily at 06:00), or manual"
          problems={at('schedule')}
        >
          {text('schedule', 'paved-promote-schedules')}
        </Field>
        <Field id="timezone" label="Time zone" problems={at('timezone')}>
          {text('timezone', 'paved-promote-timezones')}
        </Field>
        <Field
          id="test_run"
          label="Test run"
          hint="run the notebook once with these defaults first; a failure deploys nothing"
          problems={at('test_run')}
        >
          {p => (
            <input
              {...p}
              type="checkbox"
              checked={values.test_run}
              onChange={e => set({ test_run: e.currentTarget.checked })}
            />
          )}
        </Field>
        {info.parameters.length ? <div className="paved-promote-section">Parameters (defaults of each run)</div> : null}
        {info.parameters.map(param => {
          const current = parameterText(param, values);
          const hint = [TYPE_HINTS[param.type] ?? param.type, param.help].filter(Boolean).join(' · ');
          return (
            <Field
              key={param.name}
              id={`parameters.${param.name}`}
              label={param.name}
              hint={hint}
              problems={at(`parameters.${param.name}`)}
            >
              {p =>
                param.type === 'bool' ? (
                  <input
                    {...p}
                    type="checkbox"
                    data-param={param.name}
                    data-type={param.type}
                    checked={current.trim().toLowerCase() === 'true'}
                    onChange={e => setParameter(param, e.currentTarget.checked ? 'true' : 'false')}
                  />
                ) : (
                  <input
                    {...p}
                    type="text"
                    spellCheck={false}
                    data-param={param.name}
                    data-type={param.type}
                    placeholder={PLACEHOLDERS[param.type] ?? ''}
                    inputMode={param.type === 'int' || param.type === 'float' ? 'decimal' : 'text'}
                    value={current}
                    onChange={e => setParameter(param, e.currentTarget.value)}
                  />
                )
              }
            </Field>
          );
        })}
      </div>
    </div>
  );
}

/** The values as the server reads them: text fields trimmed. */
export function submitted(values: PromoteValues): PromoteValues {
  const parameters: Record<string, string> = {};
  for (const [name, text] of Object.entries(values.parameters)) {
    parameters[name] = text.trim();
  }
  return {
    ...values,
    name: values.name.trim(),
    project: values.project.trim(),
    environment: values.environment.trim(),
    schedule: values.schedule.trim(),
    timezone: values.timezone.trim(),
    parameters
  };
}

/** The form holding its values in React state (an edit re-renders at once, so no keystroke is lost) and telling
 * `onChange` each new set of values. */
export function EditablePromoteForm(props: Omit<PromoteFormProps, 'values'> & { initial: PromoteValues }): JSX.Element {
  const { initial, onChange, ...rest } = props;
  const [values, setValues] = React.useState(initial);
  return (
    <PromoteForm
      {...rest}
      values={values}
      onChange={next => {
        setValues(next);
        onChange(next);
      }}
    />
  );
}

/** The form as a dialog body: `getValue()` is what Promote sends, the values as the user last edited them. */
export class PromoteFormWidget extends ReactWidget {
  private _values: PromoteValues;

  constructor(
    private readonly _info: PromoteInfo,
    values: PromoteValues,
    private readonly _problems: Problem[] = [],
    private readonly _message = '',
    private readonly _failure: TestRunFailure | null = null
  ) {
    super();
    this._values = values;
  }

  getValue(): PromoteValues {
    return submitted(this._values);
  }

  protected render(): JSX.Element {
    return (
      <EditablePromoteForm
        info={this._info}
        initial={this._values}
        problems={this._problems}
        message={this._message}
        failure={this._failure}
        onChange={values => {
          this._values = values;
        }}
      />
    );
  }
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
      timeZone: timezone || 'UTC',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      timeZoneName: 'short'
    }).format(when);
  } catch {
    return iso;
  }
}

/** A button that starts a pipeline action once, showing its outcome (or its error, and then may be tried again). */
function ActionButton(props: {
  label: string;
  className: string;
  run: () => Promise<string>;
  onDone: (text: string) => void;
}): JSX.Element {
  const [busy, setBusy] = React.useState(false);
  return (
    <button
      type="button"
      className={`jp-Button jp-mod-styled jp-mod-reject ${props.className}`}
      disabled={busy}
      onClick={() => {
        setBusy(true);
        props.run().then(props.onDone, (e: Error) => {
          props.onDone(e.message);
          setBusy(false);
        });
      }}
    >
      {props.label}
    </button>
  );
}

/** What a successful promotion shows: the version, when it runs, Run now / rerun the failed runs, the link. */
export function PromoteResultView(props: { result: PromoteResult }): JSX.Element {
  const { result } = props;
  const [status, setStatus] = React.useState('');
  const what = result.new_version
    ? `Version ${result.version} is deployed.`
    : `Unchanged: still version ${result.version}.`;
  const tested = result.test_run ? ` The test run succeeded in ${result.test_run.duration.toFixed(1)} s.` : '';
  const when =
    result.schedule === 'manual'
      ? 'No schedule (manual): start a run with Run now.'
      : `Runs on schedule ${result.schedule} (${result.timezone}).`;
  const host = PageConfig.getOption('hubHost') || '';
  const failed = result.failed_runs ?? [];
  return (
    <div className="paved-promote-result">
      <p className="paved-promote-success">
        <strong>{what}</strong>
        {tested} {when}
      </p>
      {result.next_run ? (
        <p className="paved-promote-next">{`Next run: ${nextRunText(result.next_run, result.timezone)}`}</p>
      ) : null}
      <p>{`Spec ${result.spec_written === 'updated' ? 'updated' : 'written'}: ${result.spec_file}`}</p>
      <p className="paved-promote-actions">
        {result.schedule === 'manual' ? (
          <ActionButton
            label="Run now"
            className="paved-promote-run-now"
            run={() => pipelineAction(result.pipeline, 'run').then(r => `Run #${String(r.run_id)} queued.`)}
            onDone={setStatus}
          />
        ) : null}
        {failed.length ? (
          <ActionButton
            label={`Rerun the ${failed.length} failed run(s) with version ${result.version}`}
            className="paved-promote-rerun-failed"
            run={() =>
              pipelineAction(result.pipeline, 'rerun-failed').then(
                r => `Queued again: #${(r.run_ids ?? []).join(', #')}`
              )
            }
            onDone={setStatus}
          />
        ) : null}
        <a
          href={result.pipeline_url ? `${host}${result.pipeline_url}` : historyLink(result)}
          target="_blank"
          rel="noopener noreferrer"
          className="paved-promote-history"
        >
          Open the pipeline
        </a>
      </p>
      <p className="paved-promote-action-result" role="status">
        {status}
      </p>
    </div>
  );
}

/** Why a notebook cannot be promoted (e.g. no parameters cell: then how to tag one). */
export function PromoteErrorView(props: { message: string; howToTag: string }): JSX.Element {
  const what = props.howToTag ? props.message.replace(props.howToTag, '').trim() : props.message;
  return (
    <div className="paved-promote-error">
      <p className="paved-error">{what}</p>
      {props.howToTag ? <p className="paved-promote-how">{props.howToTag}</p> : null}
    </div>
  );
}

/** A spinner and what is happening. */
export function PromoteProgress(props: { text: string }): JSX.Element {
  return (
    <div className="paved-promote-progress">
      <div className="paved-spinner" aria-hidden="true" />
      <span>{props.text}</span>
    </div>
  );
}

/** A dialog without buttons saying what is happening; `close()` it when done. */
function showProgress(title: string, text: string): { close: () => void } {
  const body = ReactWidget.create(<PromoteProgress text={text} />);
  const dialog = new Dialog({ title, body, buttons: [], hasClose: false });
  dialog.addClass('paved-promote-progress-dialog');
  void dialog.launch().catch(() => undefined);
  return { close: () => dialog.reject() };
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
      cell_type: 'code',
      source: '# Parameters: a pipeline run replaces these values\n',
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
      const { message, howToTag } = promoteRefusal(error);
      const answer = await showDialog({
        title: `Cannot promote ${label}`,
        body: ReactWidget.create(<PromoteErrorView message={message} howToTag={howToTag} />),
        buttons: howToTag
          ? [
              Dialog.cancelButton(),
              Dialog.createButton({ label: 'Insert a parameters cell', displayType: 'default', actions: ['insert'] }),
              Dialog.okButton({ label: 'Use the selected cell as parameters', actions: ['use'] })
            ]
          : [Dialog.okButton()]
      });
      const actions = answer.button.actions;
      if (howToTag && (actions.includes('use') || actions.includes('insert'))) {
        tagParametersCell(panel, actions.includes('insert'));
        return promoteNotebook(panel);
      }
    } else {
      await showErrorMessage(`Cannot promote ${label}`, String(error));
    }
    return;
  }
  progress.close();

  let values = initialValues(info);
  let problems: Problem[] = [];
  let message = '';
  let failure: TestRunFailure | null = null;
  for (;;) {
    const form = new Dialog<PromoteValues>({
      title: `Promote ${label} to a pipeline`,
      body: new PromoteFormWidget(info, values, problems, message, failure),
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
        body: ReactWidget.create(<PromoteResultView result={result} />),
        buttons: [Dialog.okButton()]
      });
      return;
    } catch (error) {
      progress.close();
      const refusal = promoteRefusal(error);
      problems = refusal.problems;
      failure = refusal.failure;
      // With problems listed field by field the sentence heads them; alone it is the problem.
      message = refusal.message;
      if (!problems.length) {
        problems = [{ field: '', message: refusal.message }];
        message = '';
      }
    }
  }
}
