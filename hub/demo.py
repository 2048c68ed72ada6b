"""Demo content for the embedded default: two projects and a small local lake of parquet datasets.

Created once per data dir on the first ``paved up`` (never overwritten), so every capability has something
real to show: alice works on ``imbalance-price-forecast``, bob on ``leads``.
"""

from __future__ import annotations

from pathlib import Path

DEMO_PROJECTS_YAML = """\
# Paved projects: who may work where, with which identity, machines, limits and budget.
# Edit and save: the hub picks changes up without a restart. See README.md ("Projects").
projects:
  imbalance-price-forecast:
    description: Forecast the electricity imbalance price from weather and market data.
    members: {users: [alice]}
    admins: [alice]
    environments:
      dev: {lake: lake/imbalance-price-forecast/dev, service_account: imbalance-price-forecast-dev}
      acc: {lake: lake/imbalance-price-forecast/acc, service_account: imbalance-price-forecast-acc}
      prd: {lake: lake/imbalance-price-forecast/prd, service_account: imbalance-price-forecast-prd}
    instance_types: [t3.medium, m5.large, m5.xlarge, r5.xlarge, g4dn.xlarge]
    lifecycles: [spot, on-demand]
    idle_minutes: {min: 1, max: 240, default: 60}
    disk_gb: {min: 5, max: 200, default: 10}
    budget_monthly: 1500
    pii_allowed: false
  leads:
    description: Score inbound sales leads.
    members: {users: [bob]}
    admins: [bob]
    environments:
      dev: {lake: lake/leads/dev, service_account: leads-dev}
      prd: {lake: lake/leads/prd, service_account: leads-prd}
    instance_types: [t3.medium, t3.large, m5.large]
    lifecycles: [spot, on-demand]
    idle_minutes: {min: 1, max: 120, default: 60}
    disk_gb: {min: 5, max: 50, default: 10}
    budget_monthly: 300
    pii_allowed: true
"""

# project/environment -> {dataset file: DuckDB SELECT producing it}
DEMO_DATASETS = {
    "imbalance-price-forecast/dev": {
        "imbalance_prices.parquet": """
            SELECT TIMESTAMP '2026-10-01' + INTERVAL (i * 15) MINUTE AS delivery_start,
                   round(60 + 25 * sin(i / 16.0) + (hash(i) % 2000) / 100.0, 2) AS price_eur_mwh,
                   CASE WHEN hash(i * 7) % 2 = 0 THEN 'short' ELSE 'long' END AS system_state
            FROM range(2880) t(i)""",
        "weather_observations.parquet": """
            SELECT TIMESTAMP '2026-10-01' + INTERVAL (i) HOUR AS observed_at,
                   ['De Bilt', 'Schiphol', 'Eelde'][1 + i % 3] AS station,
                   round(12 + 6 * sin(i / 12.0), 1) AS temperature_c,
                   round(abs(8 * cos(i / 9.0)), 1) AS wind_speed_ms
            FROM range(720) t(i)""",
    },
    "imbalance-price-forecast/prd": {
        "imbalance_forecast.parquet": """
            SELECT TIMESTAMP '2026-10-30' + INTERVAL (i * 15) MINUTE AS delivery_start,
                   round(58 + 20 * sin(i / 16.0), 2) AS forecast_eur_mwh
            FROM range(192) t(i)""",
    },
    "leads/dev": {
        "leads.parquet": """
            SELECT i AS lead_id,
                   ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara'][1 + i % 5] || ' ' ||
                   ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov'][1 + (i // 5) % 5] AS full_name,
                   'lead' || i || '@example.com' AS email,
                   ['web', 'event', 'partner'][1 + i % 3] AS source,
                   round((hash(i) % 100) / 100.0, 2) AS score
            FROM range(500) t(i)""",
        "campaigns.parquet": """
            SELECT i AS campaign_id, 'Campaign ' || i AS name,
                   DATE '2026-01-01' + INTERVAL (i * 14) DAY AS started_on,
                   (hash(i) % 5000) + 500 AS budget_eur
            FROM range(24) t(i)""",
    },
}


def create_demo(data_dir: Path) -> bool:
    """Write the demo projects file and lake under ``data_dir`` unless a projects file is already there."""
    projects_file = data_dir / "projects.yaml"
    if projects_file.exists():
        return False
    import duckdb

    data_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for where, datasets in DEMO_DATASETS.items():
        folder = data_dir / "lake" / where
        folder.mkdir(parents=True, exist_ok=True)
        for filename, query in datasets.items():
            target = (folder / filename).as_posix().replace("'", "''")
            con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet)")
    for project_env in ("imbalance-price-forecast/acc", "leads/prd"):
        (data_dir / "lake" / project_env).mkdir(parents=True, exist_ok=True)
    con.close()
    projects_file.write_text(DEMO_PROJECTS_YAML)
    return True
