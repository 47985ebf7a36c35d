"""The cancel_stale job done with Polymarket's official Python client (py-clob-client-v2).

Run by `cargo bench --bench cancel_stale -- --python PYTHON` against the same simulator as
clobscript, for the side-by-side figures in the README. It does what
scripts/cancel_stale.rhai does: list every open order, keep those placed more than
`minutes` ago, cancel them in requests of at most 3000 ids (the exchange's limit).

Environment: CLOB_HOST, POLY_API_KEY, POLY_API_SECRET, POLY_PASSPHRASE, BENCH_PRIVATE_KEY
(the key whose address the simulator was started with), BENCH_MINUTES (default 30).
Prints one JSON line: open orders seen, ids sent, orders canceled.
"""

import json
import os
import time

from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import ApiCreds

MAX_IDS = 3000


def main():
    client = ClobClient(
        os.environ["CLOB_HOST"],
        137,
        key=os.environ["BENCH_PRIVATE_KEY"],
        creds=ApiCreds(
            api_key=os.environ["POLY_API_KEY"],
            api_secret=os.environ["POLY_API_SECRET"],
            api_passphrase=os.environ["POLY_PASSPHRASE"],
        ),
    )
    cutoff = int(time.time()) - 60 * int(os.environ.get("BENCH_MINUTES", "30"))
    orders = client.get_open_orders()
    stale = [o["id"] for o in orders if int(o["created_at"]) < cutoff]
    canceled = 0
    for start in range(0, len(stale), MAX_IDS):
        answer = client.cancel_orders(stale[start : start + MAX_IDS])
        canceled += len(answer.get("canceled") or [])
    print(json.dumps({"open": len(orders), "sent": len(stale), "canceled": canceled}))


if __name__ == "__main__":
    main()
