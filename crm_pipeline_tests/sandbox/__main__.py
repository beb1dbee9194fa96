"""Serve a sandbox in the foreground: `python -m crm_pipeline_tests.sandbox --port 8765 --customers 2000`.

Prints `export VAR=value` lines (eval them in a shell) and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from .faults import KINDS
from .sandbox import Sandbox


def parse_rates(text: str) -> dict[str, float]:
    """`429=0.05,500=0.03` -> {"429": 0.05, "500": 0.03}."""
    rates = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, value = part.partition("=")
        if not sep or kind.strip() not in KINDS:
            raise argparse.ArgumentTypeError(
                f"bad fault rate {part!r}: use KIND=P with KIND in {', '.join(KINDS)}"
            )
        rates[kind.strip()] = float(value)
    return rates


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m crm_pipeline_tests.sandbox", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--customers", type=int, default=2000, help="customers; other stores scale with it")
    parser.add_argument("--page-size", type=int, default=100, help="records per export answer")
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="API requests per second (default: none)"
    )
    parser.add_argument("--token-ttl", type=float, default=900, help="token lifetime in seconds")
    parser.add_argument(
        "--fault-rates", type=parse_rates, default={}, help="e.g. 429=0.05,500=0.03,truncate=0.02"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--tenant-id", default=None, help="serve this tenant (own credentials) instead of the default"
    )
    parser.add_argument(
        "--env-suffix",
        action="store_true",
        help="print the settings as <NAME>__<tenant id> (for SERVICETITAN_TENANTS)",
    )
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Sandbox(
        seed=args.seed,
        sizes={"customers": args.customers},
        page_size=args.page_size,
        token_ttl=args.token_ttl,
        rate_limit=args.rate_limit,
        host=args.host,
        port=args.port,
        tenant_id=args.tenant_id,
    ) as sb:
        if args.fault_rates:
            sb.faults.set_rates(args.fault_rates, seed=args.seed)
        for name, value in sb.env().items():
            if args.env_suffix and name == "SERVICETITAN_TENANT_ID":
                continue
            print(f"export {name}{'__' + sb.tenant_id if args.env_suffix else ''}={shlex.quote(value)}")
        sys.stdout.flush()
        print(
            f"# ServiceTitan sandbox on {sb.api_url} (tenant {sb.tenant_id}); Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    print("# sandbox stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
