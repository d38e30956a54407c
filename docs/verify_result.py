#!/usr/bin/env python3
"""Verify a motcua e-result without motcua's code: only its public key and the
documented canonical form (README, "Verifying a result outside motcua").

    python3 docs/verify_result.py https://motcua.example ket-qua.pdf KQ-193-2026-000001

Needs the `cryptography` package (pip install cryptography).
"""
import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def get(url):
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def main(base, path, number):
    result = get(f"{base}/api/v1/verify/{number}")
    keys = {k["id"]: k for k in get(f"{base}/api/v1/keys")["keys"]}
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    issued = result["issued_at"].replace("+00:00", "Z")
    if "." in issued:  # the form carries whole seconds
        issued = issued.split(".")[0] + "Z"
    canonical = "\n".join([
        "motcua-result-v1",
        f"number:{result['number']}",
        f"title:{result['title']}",
        f"issuing_unit_code:{result['issuing_unit_code']}",
        f"issuing_unit_name:{result['issuing_unit_name']}",
        f"signer:{result['signer']}",
        f"issued_at:{issued}",
        f"sha256:{digest}",
    ]).encode()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[result["key_id"]]["public_key"]))
    key.verify(base64.b64decode(result["signature"]), canonical)  # raises InvalidSignature
    print(f"{number}: signature valid for this file; status {result['status']}")
    return 0 if result["status"] == "valid" else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
