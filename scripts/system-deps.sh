#!/usr/bin/env bash
# The programs the tests drive besides Python packages, installed from Debian when missing (as root);
# `make test` runs this first, so a new user's `make test` on a fresh machine has them too.
set -euo pipefail

missing=()
# The sandbox tests drive the sandbox with a real kubectl, as users do (Debian's kubernetes-client
# when the machine has none).
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
# The widget test runs JupyterLab in a real headless Chromium (Debian's; Playwright never downloads one).
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "make test needs these Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) and run make test again" >&2
  exit 1
fi
echo "== installing Debian packages the tests need: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
