/**
 * Shapes of the Paved catalog service's JSON answers (the HTTP contract of
 * `/services/catalog/api/catalog/v1/...` and `/api/v1/lineage`).
 */

export type FacetName = 'platform' | 'environment' | 'project' | 'tag' | 'owner';

export const FACET_NAMES: FacetName[] = ['project', 'environment', 'platform', 'tag', 'owner'];

/** A dataset's freshness as the catalog works it out from its owner's promise (`paved.core.freshness`):
 * fresh, late by `late_minutes`, or unknown (no version yet, or no target: then its age is what counts). */
export interface FreshnessState {
  state: 'fresh' | 'late' | 'unknown' | string;
  late_minutes?: number | null;
  age_seconds?: number | null;
  target?: { max_lag?: string | number; by?: string; timezone?: string } | null;
}

/** The latest run's quality checks on a dataset (`dataQualityAssertions`): passed, warned (only `warn`
 * checks failed) or failed, with the failing assertions' names. */
export interface CheckStatus {
  status: 'passed' | 'warned' | 'failed' | string;
  run_id?: string | null;
  event_type?: string | null;
  event_time?: string | null;
  failed?: string[];
}

/** One run's check results in a dataset's quality history (newest first in `DatasetDetail.quality`). */
export interface QualityRun {
  run_id: string;
  job?: string | null;
  event_type?: string | null;
  event_time?: string | null;
  success: boolean;
  assertions: { assertion: string; success: boolean; column?: string; severity?: string }[];
}

export interface DatasetSummary {
  id: string;
  namespace: string;
  name: string;
  /** Short display name (the catalog sends one when `name` is a long path). */
  title?: string | null;
  project?: string | null;
  environment?: string | null;
  platform?: string | null;
  description?: string | null;
  tags?: string[];
  owners?: string[];
  row_count?: number | null;
  last_modified?: string | null;
  freshness_state?: FreshnessState | null;
  checks?: CheckStatus | null;
}

export interface SearchResponse {
  total: number;
  page: number;
  per_page: number;
  results: DatasetSummary[];
  facets: Partial<Record<FacetName, Record<string, number>>>;
}

export interface PiiTag {
  suggested?: string | null;
  status?: 'suggested' | 'confirmed' | 'rejected' | string;
}

export interface DatasetField {
  name: string;
  type?: string | null;
  description?: string | null;
  tags?: string[];
  pii?: PiiTag | null;
}

export interface PiiAlert {
  field?: string;
  message?: string;
  [key: string]: unknown;
}

export interface DatasetDetail extends DatasetSummary {
  fields?: DatasetField[];
  size_bytes?: number | null;
  /** Seconds since the data last changed (a ready-made text is shown as it is). */
  freshness?: number | string | null;
  location?: string | null;
  producing_job?: string | { namespace?: string; name?: string } | null;
  last_run?: { id?: string; state?: string; ended_at?: string; [key: string]: unknown } | null;
  pii_alerts?: (PiiAlert | string)[];
  quality?: QualityRun[];
}

export interface PreviewResponse {
  columns: { name: string; type?: string }[];
  rows: unknown[][];
}

export interface SnippetResponse {
  language: string;
  /** Reads through `paved.data` (the read is recorded in lineage). */
  code: string;
  /** The same read in plain DuckDB (no lineage); older catalogs do not send it. */
  duckdb?: string;
}

export type Direction = 'upstream' | 'downstream' | 'both';

export interface LineageEdge {
  origin: string;
  destination: string;
}

export interface LineageNode {
  id: string;
  type: 'DATASET' | 'JOB' | string;
  data: { name?: string; namespace?: string; locked?: boolean; [key: string]: unknown } | null;
  inEdges: LineageEdge[];
  outEdges: LineageEdge[];
}

export interface LineageResponse {
  graph: LineageNode[];
}

/** One input of a column in Marquez's column-lineage answer (`InputFieldNodeData`). */
export interface ColumnInputField {
  namespace: string;
  dataset: string;
  datasetVersion?: string | null;
  field: string;
  transformationDescription?: string | null;
  transformationType?: string | null;
}

/** A node of `GET api/v1/column-lineage` (Marquez's shape): id `datasetField:<ns>:<dataset>:<field>`,
 * type `DATASET_FIELD`, data `ColumnLineageNodeData`, edges from inputs to outputs. */
export interface ColumnLineageNode {
  id: string;
  type: string;
  data: {
    namespace: string;
    dataset: string;
    datasetVersion?: string | null;
    field: string;
    fieldType?: string | null;
    transformationDescription?: string | null;
    transformationType?: string | null;
    inputFields: ColumnInputField[];
  } | null;
  inEdges: LineageEdge[];
  outEdges: LineageEdge[];
}

export interface ColumnLineageResponse {
  graph: ColumnLineageNode[];
}

// --- Promote to pipeline (`/paved/promote/...`, paved_lab/promote.py) -----------------------------------------

/** One thing to change before a promotion can go ahead (`paved.pipelines.promotion.Problem`): `field` is the spec's
 * dotted path (`name`, `schedule.cron`, `schedule.timezone`, `parameters.horizon`), or `notebook`, `spec`,
 * `project`, or '' for the request as a whole. */
export interface Problem {
  field: string;
  message: string;
}

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

/** What the dialog sends: `paved promote`'s options (`parameters` holds only the values the user changed). */
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
  /** 0-based index in the notebook (machine field). */
  cell: number;
  /** How people name the cell: `cell 3 (In [4])`, counted from 1 with its In [n] in the output notebook. */
  label?: string;
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

/** A refused promotion (the 4xx body of `/paved/promote/...`): one sentence, the problems field by field, the
 * failed test run's failing cell, and how to tag a parameters cell when the notebook has none. */
export interface PromoteRefusal {
  message: string;
  problems: Problem[];
  failure: TestRunFailure | null;
  howToTag: string;
}

// --- Data access (catalog `api/catalog/v1/access-*`, `grants`, `audit`) --------------------------------------

export interface Purpose {
  project: string;
  environment: string;
  admin: boolean;
}

export interface AccessRequest {
  id: string;
  status: 'pending' | 'approved' | 'denied';
  namespace: string;
  name: string;
  owner_project: string;
  project: string;
  environment: string;
  access: 'read' | 'write';
  days: number;
  reason: string;
  requester: string;
  created: string;
  decided_by: string | null;
  comment: string | null;
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  project: string | null;
  environment: string | null;
  detail: string | null;
}

export interface Grant {
  id: string;
  namespace: string;
  name: string;
  project: string;
  environment: string;
  access: string;
  expires: string;
  active: boolean;
}

// --- The server's status (`GET paved/status`, paved_lab/status.py) --------------------------------------------

export interface IPavedStatus {
  user: string;
  notebook: string;
  project: string;
  environment: string;
  instance_type: string;
  lifecycle: string;
  started: string;
  last_activity: string;
  now: string;
  idle_minutes: number | null;
  idle_seconds_left: number | null;
  stops_at: string | null;
  warn_before: number | null;
  hourly_price: number | null;
  currency: string;
  cost_so_far: number | null;
  links: { home: string; new_notebook: string; pipelines: string; costs: string };
}
