import { fireEvent, render, screen, within } from '@testing-library/react';
import * as React from 'react';
import { describe, expect, it, vi } from 'vitest';

import { deployNotebook, PavedError, pavedRequest, promoteRefusal } from './api';
import { EditablePromoteForm, initialValues, inputOf, PromoteFormWidget, PromoteResultView } from './promote';
import { mockFetch, mount } from './testing/fetch';
import { Problem, PromoteInfo, PromoteResult, PromoteValues } from './types';

const INFO: PromoteInfo = {
  notebook: 'reports/Price Forecast.ipynb',
  spec_file: 'reports/Price Forecast.pipeline.yaml',
  spec_exists: false,
  name: 'price-forecast',
  project: 'imbalance-price-forecast',
  environment: 'dev',
  environments: ['dev', 'acc', 'prd'],
  schedule: '0 6 * * *',
  timezone: 'Europe/Amsterdam',
  parameters: [
    { name: 'horizon', type: 'int', default: 24, help: 'hours ahead', text: '24', in_notebook: true },
    { name: 'areas', type: 'list', default: ['NL', 'BE'], help: '', text: 'NL, BE', in_notebook: true },
    { name: 'verbose', type: 'bool', default: false, help: '', text: 'false', in_notebook: true }
  ]
};

function input(id: string): HTMLInputElement {
  return document.getElementById(`paved-promote-${id}`) as HTMLInputElement;
}

function Form(props: { problems?: Problem[]; message?: string; onChange?: (v: PromoteValues) => void }) {
  return (
    <EditablePromoteForm
      info={INFO}
      initial={initialValues(INFO)}
      problems={props.problems}
      message={props.message}
      onChange={props.onChange ?? (() => undefined)}
    />
  );
}

describe('PromoteForm', () => {
  it('renders the fields prefilled from the inspected notebook', () => {
    render(<Form />);
    expect(input('name').value).toBe('price-forecast');
    expect(input('project').value).toBe('imbalance-price-forecast');
    expect(input('environment').value).toBe('dev');
    expect(input('schedule').value).toBe('0 6 * * *');
    expect(input('timezone').value).toBe('Europe/Amsterdam');
    expect(input('parameters.horizon').value).toBe('24');
    expect(input('parameters.areas').value).toBe('NL, BE');
    expect(input('parameters.verbose').checked).toBe(false);
    expect(input('test_run').checked).toBe(true);
    expect(screen.getByLabelText('Time zone')).toBe(input('timezone'));
    expect(screen.getByText(/writes reports\/Price Forecast\.pipeline\.yaml/)).toBeTruthy();
  });

  it('shows each problem next to its field and the rest above the form', () => {
    const problems = [
      { field: 'schedule.timezone', message: "unknown time zone 'Mars/Base'" },
      { field: 'parameters.horizon', message: "expected an int, got 'soon'" },
      { field: 'parameters.areas.default', message: 'expected a list' },
      { field: 'inputs[0]', message: 'belongs to another project' }
    ];
    render(<Form problems={problems} message="Price Forecast.pipeline.yaml: 4 problem(s)" />);
    const at = (field: string) =>
      Array.from(document.querySelectorAll(`.paved-promote-field-error[data-field="${field}"]`)).map(
        e => e.textContent
      );
    expect(at('timezone')).toEqual(["unknown time zone 'Mars/Base'"]);
    expect(at('parameters.horizon')).toEqual(["expected an int, got 'soon'"]);
    expect(at('parameters.areas')).toEqual(['expected a list']);
    expect(at('name')).toEqual([]);
    expect(input('timezone').getAttribute('aria-invalid')).toBe('true');
    expect(input('name').getAttribute('aria-invalid')).toBeNull();
    const alert = screen.getByRole('alert');
    expect(within(alert).getByText('Price Forecast.pipeline.yaml: 4 problem(s)')).toBeTruthy();
    expect(
      within(alert)
        .getAllByRole('listitem')
        .map(li => li.textContent)
    ).toEqual(['inputs[0]: belongs to another project']);
  });

  it('sends only the parameters that differ from the spec', () => {
    const changes: PromoteValues[] = [];
    render(<Form onChange={v => changes.push(v)} />);
    fireEvent.change(input('parameters.horizon'), { target: { value: '48' } });
    fireEvent.click(input('parameters.verbose'));
    expect(changes[changes.length - 1].parameters).toEqual({ horizon: '48', verbose: 'true' });
    fireEvent.change(input('parameters.horizon'), { target: { value: '24' } });
    expect(changes[changes.length - 1].parameters).toEqual({ verbose: 'true' });
    fireEvent.change(input('environment'), { target: { value: 'prd' } });
    expect(changes[changes.length - 1].environment).toBe('prd');
  });

  it('as a dialog body, answers the edited values trimmed', async () => {
    const widget = mount(new PromoteFormWidget(INFO, initialValues(INFO)));
    await vi.waitFor(() => expect(input('name')).toBeTruthy());
    fireEvent.change(input('name'), { target: { value: '  daily-prices ' } });
    fireEvent.change(input('schedule'), { target: { value: 'manual' } });
    expect(input('name').value).toBe('  daily-prices '); // kept at once, before the next edit
    expect(widget.getValue()).toMatchObject({ name: 'daily-prices', schedule: 'manual', test_run: true });
    widget.dispose();
  });
});

describe('inputOf', () => {
  it.each([
    ['schedule.timezone', 'timezone'],
    ['schedule.cron', 'schedule'],
    ['schedule', 'schedule'],
    ['name', 'name'],
    ['environment', 'environment'],
    ['parameters.horizon', 'parameters.horizon'],
    ['parameters.horizon.default', 'parameters.horizon'],
    ['parameters.nope', ''],
    ['notebook', ''],
    ['', '']
  ])('shows %j at the %j input', (field, key) => {
    expect(inputOf(field, INFO)).toBe(key);
  });
});

const RESULT: PromoteResult = {
  pipeline: { project: 'imbalance-price-forecast', name: 'price-forecast', environment: 'dev' },
  version: 2,
  new_version: true,
  schedule: 'manual',
  timezone: null,
  spec_file: 'reports/Price Forecast.pipeline.yaml',
  spec_written: 'updated',
  history_url: '/services/pipelines/',
  pipeline_url: '/services/pipelines/pipelines/imbalance-price-forecast/price-forecast',
  failed_runs: [11, 12],
  test_run: { status: 'succeeded', duration: 1.25 }
};

describe('PromoteResultView', () => {
  it('says what was deployed and links the pipeline', () => {
    render(<PromoteResultView result={RESULT} />);
    expect(screen.getByText('Version 2 is deployed.')).toBeTruthy();
    expect(document.querySelector('.paved-promote-success')?.textContent).toContain(
      'The test run succeeded in 1.3 s. No schedule (manual)'
    );
    expect(screen.getByText('Open the pipeline').getAttribute('href')).toBe(RESULT.pipeline_url);
  });

  it('runs the pipeline now through the server with its project and name', async () => {
    const calls = mockFetch(() => ({ body: { run_id: 7 } }));
    render(<PromoteResultView result={RESULT} />);
    fireEvent.click(screen.getByText('Run now'));
    expect(await screen.findByText('Run #7 queued.')).toBeTruthy();
    expect(calls).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: 'promote/run',
        body: { project: 'imbalance-price-forecast', name: 'price-forecast' }
      })
    ]);
  });

  it('reruns the failed runs and shows a refusal', async () => {
    mockFetch(() => ({ status: 404, body: { message: 'No pipeline price-forecast' } }));
    render(<PromoteResultView result={RESULT} />);
    const button = screen.getByText('Rerun the 2 failed run(s) with version 2') as HTMLButtonElement;
    fireEvent.click(button);
    expect(await screen.findByText('No pipeline price-forecast')).toBeTruthy();
    expect(button.disabled).toBe(false); // may be tried again
  });
});

describe('the promote API', () => {
  it('deploys with the notebook path and the form values as the body', async () => {
    const calls = mockFetch(() => ({ body: RESULT }));
    const values = { ...initialValues(INFO), parameters: { horizon: '48' } };
    const answer = await deployNotebook('reports/Price Forecast.ipynb', values);
    expect(answer.version).toBe(2);
    expect(calls[0].method).toBe('POST');
    expect(calls[0].path).toBe('promote/deploy');
    expect(calls[0].body).toEqual({ path: 'reports/Price Forecast.ipynb', ...values });
  });

  it('reads a refusal as structured problems, the failing cell and how to tag', async () => {
    mockFetch(() => ({
      status: 400,
      body: {
        message: 'The test run failed in cell 2: nothing was deployed',
        problems: ['notebook: the test run failed in cell 2'],
        field_problems: [{ field: 'notebook', message: 'the test run failed in cell 2' }],
        test_run: { failure: { cell: 2, source: 'raise X', ename: 'X', evalue: 'x', traceback: '' } }
      }
    }));
    const error = await pavedRequest('promote/deploy', { method: 'POST', body: '{}' }).catch(e => e);
    expect(error).toBeInstanceOf(PavedError);
    const refusal = promoteRefusal(error);
    expect(refusal.message).toBe('The test run failed in cell 2: nothing was deployed');
    expect(refusal.problems).toEqual([{ field: 'notebook', message: 'the test run failed in cell 2' }]);
    expect(refusal.failure?.cell).toBe(2);
    expect(refusal.howToTag).toBe('');
  });
});
