/**
 * Shapes of the Paved catalog service's JSON answers (the HTTP contract of
 * `/services/catalog/api/catalog/v1/...` and `/api/v1/lineage`).
 */

export type FacetName = 'platform' | 'environment' | 'project' | 'tag' | 'owner';

export const FACET_NAMES: FacetName[] = [
  'project',
  'environment',
  'platform',
  'tag',
  'owner'
];

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
