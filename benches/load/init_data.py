"""Prints init data for user 4242, signed for the bot token given as the only argument, the way
Telegram signs it (HMAC-SHA256 keyed by HMAC("WebAppData", token)). Used by the load scripts."""
import hashlib
import hmac
import json
import sys
import time
import urllib.parse

token = sys.argv[1]
pairs = {
    "auth_date": str(int(time.time())),
    "user": json.dumps({"id": 4242, "first_name": "Load"}, separators=(",", ":")),
}
secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
dcs = "\n".join(f"{k}={v}" for k, v in sorted(pairs.items()))
pairs["hash"] = hmac.new(secret, dcs.encode(), hashlib.sha256).hexdigest()
print(urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote))
