#!/usr/bin/env bash
# Installs the tools the test suite needs beyond npm, only when they are missing:
#   redis-server, redis-cli  (Debian: redis-server, redis-tools)  the Redis integration tests start their own servers
#   promtool                 (Debian: prometheus)                  checks and unit-tests config/prometheus/alerts.yml
# Idempotent and quiet when everything is present. When it cannot install (no apt-get, not root and no sudo,
# or apt fails) it names what is missing and exits 0: the tests then fail with their own message.
set -uo pipefail

package_of() {
  case "$1" in
    redis-server) echo redis-server ;;
    redis-cli) echo redis-tools ;;
    promtool) echo prometheus ;;
  esac
}

missing_tools=()
packages=()
for tool in redis-server redis-cli promtool; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing_tools+=("$tool")
    pkg=$(package_of "$tool")
    case " ${packages[*]-} " in *" $pkg "*) ;; *) packages+=("$pkg") ;; esac
  fi
done
[ ${#missing_tools[@]} -eq 0 ] && exit 0

give_up() {
  echo "ensure-tools: cannot install ${missing_tools[*]} ($1)." >&2
  echo "ensure-tools: install the Debian packages ${packages[*]} (or put ${missing_tools[*]} on PATH) and re-run the tests." >&2
  exit 0
}

command -v apt-get >/dev/null 2>&1 || give_up "apt-get is not available"
# A plain word, not an array: "${empty[@]}" under `set -u` fails in the bash 3 that macOS ships.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    give_up "not root and no password-less sudo"
  fi
fi

echo "ensure-tools: installing ${packages[*]} for ${missing_tools[*]}" >&2

# We only want promtool: stop the packages from starting a Prometheus server (port 9090) or any other service.
# policy-rc.d exiting 101 tells invoke-rc.d / deb-systemd-invoke not to start services; an existing one
# (Docker images ship one) is put back afterwards.
POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
restore_policy() {
  if [ -n "$POLICY_BACKUP" ]; then
    $SUDO mv -f "$POLICY_BACKUP" "$POLICY"
  else
    $SUDO rm -f "$POLICY"
  fi
}
if [ -e "$POLICY" ]; then
  POLICY_BACKUP="$POLICY.ensure-tools.$$"
  $SUDO cp -p "$POLICY" "$POLICY_BACKUP" || give_up "cannot back up $POLICY"
fi
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod 755 "$POLICY" ||
  give_up "cannot write $POLICY to keep services from starting"

export DEBIAN_FRONTEND=noninteractive
APT_LOG=$(mktemp "${TMPDIR:-/tmp}/ensure-tools.XXXXXX")
apt_quietly() {
  # apt and dpkg chatter goes to a log that is shown only when they fail.
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@" >"$APT_LOG" 2>&1; then
    tail -n 20 "$APT_LOG" >&2
    rm -f "$APT_LOG"
    give_up "apt-get $1 failed"
  fi
}
apt_quietly update -qq
apt_quietly install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${packages[@]}"
rm -f "$APT_LOG"

# The package also enables its unit for the next boot: disable it (and stop it if systemd is running).
case " ${packages[*]} " in
  *" prometheus "*)
    if command -v systemctl >/dev/null 2>&1; then
      if [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
      else
        $SUDO systemctl disable prometheus >/dev/null 2>&1 || true
      fi
    fi
    ;;
esac

still_missing=()
for tool in "${missing_tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || still_missing+=("$tool")
done
if [ ${#still_missing[@]} -gt 0 ]; then
  missing_tools=("${still_missing[@]}")
  give_up "installed ${packages[*]} but they are still not on PATH"
fi
echo "ensure-tools: installed ${missing_tools[*]}" >&2
exit 0
