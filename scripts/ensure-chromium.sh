#!/usr/bin/env bash
# Make sure Debian's chromium is installed at /usr/bin/chromium: the console's browser test
# (tests/integration/test_console_browser.py) drives it with Playwright. Playwright's own browser
# download (`playwright install`) is never used: it fetches a build from outside the package
# registries. Installs only when it is missing, and says so.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "chromium is not installed; installing it from Debian's packages (the console's browser test)" >&2
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "chromium could not be installed; the browser test will fail" >&2; exit 1; }
