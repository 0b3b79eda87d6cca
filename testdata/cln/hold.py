#!/usr/bin/env python3
"""A Core Lightning plugin for lnkit's interop tests: hold incoming HTLCs.

CLN fulfils an invoice's HTLC at once; a force close "with an HTLC held
each way" needs CLN to keep one unanswered. This plugin speaks CLN's plugin
protocol (JSON-RPC 2.0 over stdin/stdout) by hand, with the standard
library only:

- `holdhash payment_hash`: from now on, an HTLC paying that hash waits in
  the `htlc_accepted` hook;
- `releasehash payment_hash`: the waiting HTLCs of that hash continue (CLN
  fulfils them from its invoice, on chain too if the channel closed);
- `listheld`: the hashes with an HTLC waiting.
"""
import json
import sys

hold = set()
# payment_hash -> ids of htlc_accepted requests not answered yet
waiting = {}


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n\n")
    sys.stdout.flush()


def reply(req_id, result):
    send({"jsonrpc": "2.0", "id": req_id, "result": result})


def handle(msg):
    method = msg.get("method")
    params = msg.get("params") or {}
    req_id = msg.get("id")
    if method == "getmanifest":
        reply(req_id, {
            "options": [],
            "rpcmethods": [
                {"name": "holdhash", "usage": "payment_hash",
                 "description": "Hold HTLCs paying payment_hash"},
                {"name": "releasehash", "usage": "payment_hash",
                 "description": "Let held HTLCs of payment_hash continue"},
                {"name": "listheld", "usage": "",
                 "description": "Hashes with HTLCs held"},
            ],
            "hooks": [{"name": "htlc_accepted"}],
            "subscriptions": [],
            "dynamic": True,
        })
    elif method == "init":
        reply(req_id, {})
    elif method == "holdhash":
        h = params["payment_hash"] if isinstance(params, dict) else params[0]
        hold.add(h)
        reply(req_id, {"held": h})
    elif method == "releasehash":
        h = params["payment_hash"] if isinstance(params, dict) else params[0]
        hold.discard(h)
        ids = waiting.pop(h, [])
        for i in ids:
            reply(i, {"result": "continue"})
        reply(req_id, {"released": len(ids)})
    elif method == "listheld":
        reply(req_id, {"held": sorted(h for h, ids in waiting.items() if ids)})
    elif method == "htlc_accepted":
        h = params.get("htlc", {}).get("payment_hash")
        if h in hold:
            waiting.setdefault(h, []).append(req_id)
        else:
            reply(req_id, {"result": "continue"})
    elif req_id is not None:
        send({"jsonrpc": "2.0", "id": req_id,
              "error": {"code": -32601, "message": "unknown method " + str(method)}})


def main():
    decoder = json.JSONDecoder()
    buf = ""
    while True:
        chunk = sys.stdin.readline()
        if not chunk:
            return
        buf += chunk
        while True:
            stripped = buf.lstrip()
            if not stripped:
                buf = ""
                break
            try:
                msg, end = decoder.raw_decode(stripped)
            except ValueError:
                break
            buf = stripped[end:]
            handle(msg)


if __name__ == "__main__":
    main()
