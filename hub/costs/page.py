"""The costs page (HTML): a projects summary, then one project's charts, tables, tops, alerts and exports."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from paved.hub.costs import charts
from paved.hub.costs.model import SERIES

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2a37;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfe0ff;text-decoration:none} main{padding:16px 24px;max-width:1100px}
h1{font-size:20px;margin:0} h2{font-size:17px;margin:24px 0 8px} h3{font-size:14px;margin:12px 0 6px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:12px 16px;margin-bottom:14px}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{padding:4px 8px;border-bottom:1px solid #eee}
th{text-align:left;background:#fafbfc} td{white-space:nowrap} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:flex;gap:14px;flex-wrap:wrap} .kpi{background:#fff;border:1px solid #e1e4e8;border-radius:6px;
padding:10px 14px;min-width:150px} .kpi b{display:block;font-size:20px} .kpi span{font-size:12px;color:#666}
.over{color:#c62828} .tops{display:grid;grid-template-columns:repeat(3,1fr);gap:14px}
nav.periods a,nav.periods b{margin-right:10px} .muted{color:#666;font-size:12px} svg.chart{width:100%;height:auto}
form{display:inline}
"""


def _m(v) -> str:
    return "" if v is None else f"{v:,.2f}"


def _link(base: str, **params) -> str:
    return f"{base}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def render(*, user: str, admin: bool, base: str, month: str, period: str, summary: list[dict],
           report: dict | None, alerts: list[dict], currency: str, pricebook_as_of: str) -> str:
    """The whole page. ``base`` is the service prefix (``/services/costs/``)."""
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>Costs · Paved</title>"
           f"<style>{CSS}</style></head><body>",
           f"<header><h1>Paved · Costs</h1><a href='/hub/home'>Home</a><span class='muted' style='color:#aab'>"
           f"{escape(user)}{' (hub admin: all projects)' if admin else ''}</span></header><main>"]
    out.append(f"<form method='get' action='{escape(base)}'>Month <input type='month' name='month' "
               f"value='{escape(month)}'>" + (f"<input type='hidden' name='project' value='{escape(report['project'])}'>"
                                              if report else "") +
               f"<input type='hidden' name='period' value='{escape(period)}'> <button>Show</button></form>"
               f" <span class='muted'>prices: price book as of {escape(pricebook_as_of)}, {escape(currency)}; "
               f"days in UTC</span>")
    out.append(f"<h2>Projects in {escape(month)}</h2><div class='card'><table><tr><th>project</th>"
               "<th class='n'>total</th><th class='n'>compute</th><th class='n'>disk</th>"
               "<th class='n'>on-demand equivalent</th><th class='n'>savings</th><th class='n'>hours</th>"
               "<th class='n'>budget</th><th class='n'>used</th><th class='n'>forecast</th></tr>")
    for r in summary:
        used = r["used_percent"]
        cls = " over" if used is not None and used >= 100 else ""
        out.append(f"<tr><td><a href='{escape(_link(base, project=r['project'], month=month, period=period))}'>"
                   f"{escape(r['project'])}</a></td><td class='n'>{_m(r['total'])}</td><td class='n'>{_m(r['compute'])}"
                   f"</td><td class='n'>{_m(r['disk'])}</td><td class='n'>{_m(r['on_demand_equivalent'])}</td>"
                   f"<td class='n'>{_m(r['savings'])}</td><td class='n'>{r['hours']:,.1f}</td>"
                   f"<td class='n'>{_m(r['budget'])}{' (enforced)' if r['budget_enforced'] else ''}</td>"
                   f"<td class='n{cls}'>{'' if used is None else f'{used:.0f} %'}</td>"
                   f"<td class='n'>{_m(r['forecast'])}</td></tr>")
    out.append("</table>")
    api_summary = _link(f"{base}api/summary", month=month)
    out.append(f"<p class='muted'>Export: <a href='{escape(api_summary)}'>JSON</a> · "
               f"<a href='{escape(_link(f'{base}api/summary', month=month, format='csv'))}'>CSV</a></p></div>")
    if report:
        out.append(_project_section(report, base, alerts))
    out.append("</main></body></html>")
    return "\n".join(out)


def _project_section(r: dict, base: str, alerts: list[dict]) -> str:
    name, month, period, cur = r["project"], r["month"], r["period"], r["currency"]
    t, b = r["totals"], r["budget"]
    out = [f"<h2 id='project'>{escape(name)} · {escape(month)}</h2>"]
    used = b["used_percent"]
    out.append("<div class='kpis'>"
               f"<div class='kpi'><span>spent this month</span><b>{_m(t['total'])}</b><span>{escape(cur)}</span></div>"
               f"<div class='kpi'><span>spot savings vs on-demand</span><b>{_m(t['savings'])}</b>"
               f"<span>on-demand equivalent {_m(t['on_demand_equivalent'])}</span></div>"
               f"<div class='kpi'><span>budget</span><b class='{'over' if used and used >= 100 else ''}'>"
               f"{'none' if b['monthly'] is None else f'{used:.0f} %'}</b><span>of {_m(b['monthly'])}"
               f"{' (enforced)' if b['enforced'] else ''}</span></div>"
               f"<div class='kpi'><span>forecast to month end</span><b>{_m(b['forecast'])}</b><span>at this "
               f"month's run rate</span></div></div>")
    if r.get("unpriced_hours"):
        out.append(f"<p class='over'>{r['unpriced_hours']:,.1f} hours this month ran on instance types or regions "
                   "the price book does not know; they are not in these figures. Refresh or extend the price book."
                   "</p>")
    nav = []
    for p in ("day", "week", "month"):
        label = {"day": "per day", "week": "per week (12 weeks)", "month": "per month (12 months)"}[p]
        nav.append(f"<b>{label}</b>" if p == period else
                   f"<a href='{escape(_link(base, project=name, month=month, period=p))}#project'>{label}</a>")
    out.append(f"<div class='card'><nav class='periods'>{' '.join(nav)}</nav>")
    out.append(charts.stacked_bars(r["periods"], cur, f"{name}: cost {period} by kind and lifecycle"))
    out.append("<h3>Budget burn</h3>")
    out.append(charts.burn_chart(b["burn"], b["monthly"], b["forecast"], b["days_in_month"], cur))
    out.append("</div><div class='card'><table><tr><th>" + period + "</th>" +
               "".join(f"<th class='n'>{escape(s.replace('/', ', '))}</th>" for s in SERIES) +
               "<th class='n'>disk</th><th class='n'>total</th><th class='n'>on-demand equivalent</th>"
               "<th class='n'>savings</th><th class='n'>hours</th></tr>")
    for p in r["periods"]:
        out.append(f"<tr><td>{escape(p['period'])}</td>" + "".join(f"<td class='n'>{_m(p[s])}</td>" for s in SERIES) +
                   f"<td class='n'>{_m(p['disk'])}</td><td class='n'><b>{_m(p['total'])}</b></td>"
                   f"<td class='n'>{_m(p['on_demand_equivalent'])}</td><td class='n'>{_m(p['savings'])}</td>"
                   f"<td class='n'>{p['hours']:,.1f}</td></tr>")
    out.append("</table>")
    api = f"{base}api/projects/{name}"
    out.append(f"<p class='muted'>Export: <a href='{escape(_link(api, month=month, period=period))}'>JSON</a> · "
               f"<a href='{escape(_link(api, month=month, period=period, format='csv'))}'>CSV</a></p></div>")
    out.append("<div class='tops'>")
    for title, key, rows in (("Top notebooks", "resource_id", r["top_notebooks"]),
                             ("Top pipelines", "resource_id", r["top_pipelines"]), ("Top users", "user", r["top_users"])):
        out.append(f"<div class='card'><h3>{title}</h3><table><tr><th>{'server' if 'notebook' in title else 'run' if 'pipe' in title else 'user'}"
                   "</th><th class='n'>hours</th><th class='n'>total</th></tr>")
        out += [f"<tr><td>{escape(str(x[key]))}</td><td class='n'>{x['hours']:,.1f}</td><td class='n'>{_m(x['total'])}</td></tr>"
                for x in rows] or ["<tr><td colspan='3' class='muted'>none this month</td></tr>"]
        out.append("</table></div>")
    out.append("</div>")
    if alerts:
        out.append("<div class='card'><h3>Budget alerts this month</h3><ul>" + "".join(
            f"<li>{a['threshold']} % reached ({_m(a['cost'])} of {_m(a['budget'])})"
            f"{'' if a['sent_ts'] else ' — not delivered yet'}</li>" for a in alerts) + "</ul></div>")
    return "\n".join(out)
