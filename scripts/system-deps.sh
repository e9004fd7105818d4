#!/usr/bin/env bash
# The programs the tests drive besides Python packages, installed from Debian when missing (as root);
# `make test` runs this first, so a new user's `make test` on a fresh machine has them too.
set -euo pipefail

python=${1:-python3}
missing=()
built=()
# gloo_nb's YAML loader is compiled in C over libyaml at install (setup.py); without a compiler and
# libyaml's headers the install falls back to the Python loader, which the tests refuse (five times
# slower on large inputs), so they are installed here before the venv is built.
command -v cc >/dev/null 2>&1 || built+=(gcc)
[ -f /usr/include/yaml.h ] || built+=(libyaml-dev)
"$python" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || built+=(python3-dev)
missing+=("${built[@]}")
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
if [ ${#built[@]} -gt 0 ]; then
  rm -f .venv/.stamp  # the venv was built without them: build it again, with the C loader
fi
