"""``paved prices``: show the price book, or refresh it from AWS (see :mod:`paved.costs.refresh`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from paved.core import paths
from paved.core.pricebook import load_pricebook, pricebook_path
from paved.costs.refresh import refresh, write_atomically


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    show = sub.add_parser("show", help="print the price book in use (hourly prices per type)")
    show.add_argument("--region", help="region (default: the book's default region)")
    r = sub.add_parser("refresh", help="update the price book from AWS (EC2 spot history, Price List API)")
    r.add_argument(
        "--region",
        action="append",
        dest="regions",
        metavar="REGION",
        help="region to refresh (repeatable; default: every region in the book)",
    )
    r.add_argument(
        "--type",
        action="append",
        dest="types",
        metavar="INSTANCE_TYPE",
        help="instance type to refresh (repeatable; default: every type in the book)",
    )
    r.add_argument("--days", type=int, default=30, help="days of spot price history to fetch (default 30)")
    r.add_argument("--output", help="file to write (default: $PAVED_PRICEBOOK, else <data dir>/pricebook.json)")
    r.add_argument(
        "--data-dir",
        default=str(paths.paths().data_dir),
        help=f"Paved data dir (default ${paths.ENV} or ./.paved)",
    )
    r.add_argument("--dry-run", action="store_true", help="print the refreshed book instead of writing it")


def run(args) -> int:

    if args.action == "show":
        book = load_pricebook()
        region = args.region or book.default_region
        print(f"Price book {pricebook_path()} (as of {book.as_of}, {book.currency}/hour, {region})")
        print(f"{'type':<14}{'spec':<30}{'on-demand':>10}{'spot':>10}")
        for name, spec in sorted(book.instance_types.items()):
            if name in book.prices.get(region, {}):
                print(
                    f"{name:<14}{spec.describe():<30}{book.hourly(name, 'on-demand', region):>10.4f}"
                    f"{book.hourly(name, 'spot', region):>10.4f}"
                )
        return 0
    if args.action != "refresh":
        print("usage: paved prices {show,refresh} ...", file=sys.stderr)
        return 2
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if not paths.given():  # the data dir this process was given wins; else the refresh reads --data-dir's book
        paths.use(args.data_dir)
    current = pricebook_path()
    output = Path(args.output or os.environ.get("PAVED_PRICEBOOK") or Path(args.data_dir) / "pricebook.json")
    raw = json.loads(current.read_text())
    try:
        book = refresh(
            raw,
            lambda region: boto3.client("ec2", region_name=region),
            boto3.client("pricing", region_name="us-east-1"),
            regions=args.regions,
            types=args.types,
            days=args.days,
            log=lambda s: print(s, file=sys.stderr),
        )
    except (BotoCoreError, ClientError) as e:
        print(f"paved prices refresh: AWS refused or failed: {e}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(json.dumps(book, indent=1))
        return 0
    write_atomically(output, book)
    n = sum(len(v) for v in book.get("spot_history", {}).values())
    print(f"Wrote {output} (as of {book['as_of']}; spot history for {n} region/type pairs).")
    if output.resolve() != (Path(args.data_dir) / "pricebook.json").resolve() and not os.environ.get("PAVED_PRICEBOOK"):
        print(f"Point PAVED_PRICEBOOK={output} at it for Paved to use it.")
    return 0
