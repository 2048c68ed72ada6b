"""Paved's shared core: what every room needs and nothing of Paved's features.

Projects and their registry, the data dir's paths and the settings, the price book and cost model, the usage
ledger and budget rule, freshness rules, Kubernetes placement rules, the service base and the one page layout,
process helpers. Rooms above (scoping, the features, the hub) import from here; this package imports none of
them (enforced by import-linter: see ARCHITECTURE.md).
"""
