#!/usr/bin/env bash
# Regenerates the screenshots of the web page in docs/ (web-index.png, web-phone.png, web-source.png).
#
# They come from the browser test (tests/web_page.rs): it prepares a state by running the real binary against a
# local site (one ok, one degraded and one broken source), serves it, and, with FEEDWRIGHT_SCREENSHOTS set,
# has headless Chromium save the pages there. Without that variable the test writes nothing into the repository.
# Needs Debian's chromium (`apt-get install -y chromium`). Look at the pictures before committing them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "/usr/bin/chromium is missing: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
FEEDWRIGHT_SCREENSHOTS="$PWD/docs" cargo test --locked --test web_page -- a_real_browser
ls -l docs/web-*.png
