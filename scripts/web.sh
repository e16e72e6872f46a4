# The dashboard (web/): its npm packages and its build (sourced by setup.sh). npm ci runs again
# only when package-lock.json changed; vite builds again only when a source is newer than the
# build.
NUBES_WEB_DIR="$PWD/web/dist"

ensure_web_packages() {
  if ! command -v npm >/dev/null; then
    log "installing npm"
    apt_install nodejs npm
  fi
  local stamp=web/node_modules/.nubes-lock
  if [ -f "$stamp" ] && cmp -s web/package-lock.json "$stamp"; then
    return 0
  fi
  log "installing the dashboard's npm packages (npm ci in web/)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp web/package-lock.json "$stamp"
}

ensure_web() {
  ensure_web_packages
  if [ -f web/dist/index.html ] \
    && [ -z "$(find web/src web/index.html web/vite.config.ts web/package-lock.json -newer web/dist/index.html -print -quit)" ]; then
    return 0
  fi
  log "building the dashboard (web/dist)"
  (cd web && npm run --silent build >/dev/null)
}
