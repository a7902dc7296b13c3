"""A stand-in web browser for ``BROWSER="python tests/fakebrowser.py %s"`` (Google sign-in tests).

``webbrowser`` waits for the browser command to end, while google-auth-oauthlib
serves its loopback redirect only after that: so this returns at once and a
detached child does the visiting. The child GETs the address (trusting the
test CA in ``REQUESTS_CA_BUNDLE``) and follows the redirect back to the
command's loopback port, as a user's browser would after consent. Each
visited address is appended to ``$FAKEBROWSER_LOG``.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.request


def visit(url: str) -> None:
    context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    no_proxy = urllib.request.ProxyHandler({})  # loopback only, whatever the environment
    opener = urllib.request.build_opener(no_proxy, urllib.request.HTTPSHandler(context=context))
    with opener.open(url, timeout=30) as answer:
        answer.read()
    with open(os.environ["FAKEBROWSER_LOG"], "a", encoding="utf-8") as log:
        log.write(url + "\n")


def main(argv: list[str]) -> int:
    url = argv[1]
    if not url.startswith("https://127.0.0.1:"):
        return 2  # only the tests' own server
    if os.environ.get("FAKEBROWSER_CHILD"):
        visit(url)
        return 0
    env = {**os.environ, "FAKEBROWSER_CHILD": "1"}
    subprocess.Popen([sys.executable, __file__, url], env=env, start_new_session=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
