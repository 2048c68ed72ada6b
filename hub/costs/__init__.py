"""Costs: usage spans (the ledger) times prices (the price book), per project, with budgets.

The ledger, the cost model and the budget rule are shared with the spawner and the pipelines scheduler, so
they live in the core (:mod:`paved.core.ledger`, :mod:`paved.core.costmodel`, :mod:`paved.core.budget`).
This room owns what only costs needs:

- :mod:`.refresh`     refresh the price book from the AWS APIs (``paved prices refresh``, :mod:`.prices_cli`)
- :mod:`.service`     the hub-managed costs service at ``/services/costs/`` (page, JSON/CSV API)
- :mod:`.page`, :mod:`.charts`   the costs page and its drawn charts
- :mod:`.cli`         ``paved costs report``
- :mod:`.config`      ``setup_costs(c, paved)``: the service's settings and its hub wiring
"""
