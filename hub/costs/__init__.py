"""Costs: usage spans (the ledger) times prices (the price book), per project, with budgets.

- :mod:`.ledger`   the usage ledger (SQLAlchemy): notebook and pipeline spans, budget alerts sent
- :mod:`.model`    the cost model: span hours x price, split at spot price changes and days
- :mod:`.budget`   budget checks (refuse new work over an enforced budget) and 50/80/100 % alerts
- :mod:`.refresh`  refresh the price book from the AWS APIs (``paved prices refresh``)
- :mod:`.service`  the hub-managed costs service at ``/services/costs/`` (page, JSON/CSV API)
- :mod:`.cli`      ``paved costs report``
"""
