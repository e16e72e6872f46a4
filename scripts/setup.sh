#!/usr/bin/env bash
# Installs and starts what Nubes needs on a fresh Debian machine, idempotently: Docker Engine
# (dockerd started by hand: these machines have no systemd) and the busybox test image (built
# from Debian's busybox-static: no registry is reachable). Source it or run it.
set -euo pipefail

NUBES_STATE_DIR=${NUBES_STATE_DIR:-/var/lib/nubes-dev}
NUBES_TEST_IMAGE=${NUBES_TEST_IMAGE:-nubes-test/busybox:latest}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/nubes/target}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_docker() {
  # dockerd comes from Debian's docker.io; the client on PATH may be newer, which is fine.
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  apt_install busybox-static
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd"
  mkdir -p "$NUBES_STATE_DIR/docker"
  setsid dockerd --data-root "$NUBES_STATE_DIR/docker" >"$NUBES_STATE_DIR/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "dockerd did not come up; its log:"; tail -n 30 "$NUBES_STATE_DIR/dockerd.log" >&2
  return 1
}

# The Debian archive this machine's apt already uses (a deb822 `URIs:` line or a one-line `deb`
# entry for a bookworm suite), so a machine behind its own mirror fetches backports from it too.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'BEGIN{RS="";FS="\n"}
      /(^|\n)Suites:[^\n]*bookworm([ \t]|-updates|$)/ && !/debian-security/ {
        for (i=1;i<=NF;i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/,"",$i); split($i,u," "); print u[1]; exit } }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i+1) ~ /^bookworm(-updates)?$/ && $i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
  done
  echo "no bookworm archive in /etc/apt/sources.list or /etc/apt/sources.list.d" >&2
  return 1
}

# btrfs-progs new enough for simple quotas (6.7+), from bookworm-backports, unpacked under the
# state dir so the system's packages stay as they are.
btrfs_progs() {
  local dir="$NUBES_STATE_DIR/btrfs-progs" apt="$NUBES_STATE_DIR/apt-backports"
  if [ ! -x "$dir/sbin/mkfs.btrfs" ]; then
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir"
    local mirror; mirror=$(debian_mirror) || return 1
    echo "deb $mirror bookworm-backports main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || return 1
    (cd "$apt" && apt-get "${opts[@]}" download -qq btrfs-progs/bookworm-backports >/dev/null 2>&1) || return 1
    dpkg -x "$apt"/btrfs-progs_*.deb "$dir" || return 1
  fi
  # The unpacked tools link against the system's libraries; liblzo2 is not on a fresh machine.
  apt_install liblzo2-2 >&2 || return 1
  "$dir/sbin/mkfs.btrfs" --version >/dev/null 2>&1 || return 1
  echo "$dir"
}

# A second engine whose data root is a btrfs loop file, the storage driver that enforces
# per-container disk limits here (overlay2 on ext4 cannot; this kernel has no XFS quotas). The
# filesystem uses simple quotas: with classic qgroups, deleting a container marks the qgroups
# inconsistent and limits silently stop being enforced until a rescan. The engine gets its own
# bridge so the two engines never hand out the same addresses, and leaves iptables alone.
# Returns 2 where this machine cannot run it (no btrfs, a kernel too old, no loop devices) and 1
# where it could but something failed, which the test command counts as a failure.
NUBES_BTRFS_SOCK=/var/run/nubes-btrfs.sock
ensure_btrfs_docker() {
  local dir="$NUBES_STATE_DIR/btrfs" img="$NUBES_STATE_DIR/btrfs-squota.img" progs
  if DOCKER_HOST=unix://$NUBES_BTRFS_SOCK docker info >/dev/null 2>&1; then return 0; fi
  grep -qw btrfs /proc/filesystems || { echo "the kernel has no btrfs"; return 2; }
  progs=$(btrfs_progs) || { echo "cannot fetch btrfs-progs with simple-quota support"; return 1; }
  mkdir -p "$dir"
  if ! mountpoint -q "$dir"; then
    if [ ! -f "$img" ]; then
      truncate -s 4G "$img" && "$progs/sbin/mkfs.btrfs" -q -f -O squota "$img" >/dev/null \
        || { echo "mkfs.btrfs -O squota failed (the kernel needs 6.7+)"; rm -f "$img"; return 2; }
    fi
    mount -o loop "$img" "$dir" || { echo "cannot loop-mount a btrfs image here"; return 2; }
  fi
  if ! ip link show nubes-br0 >/dev/null 2>&1; then
    ip link add nubes-br0 type bridge && ip addr add 172.31.254.1/24 dev nubes-br0 && ip link set nubes-br0 up \
      || { echo "cannot create the nubes-br0 bridge"; return 1; }
  fi
  mkdir -p "$dir/docker"
  setsid dockerd --data-root "$dir/docker" --host "unix://$NUBES_BTRFS_SOCK" \
    --pidfile /var/run/nubes-btrfs.pid --exec-root /var/run/nubes-btrfs-exec \
    --bridge nubes-br0 --iptables=false >"$NUBES_STATE_DIR/dockerd-btrfs.log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    DOCKER_HOST=unix://$NUBES_BTRFS_SOCK docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "the btrfs dockerd did not come up: $(tail -n 3 "$NUBES_STATE_DIR/dockerd-btrfs.log")"
  return 1
}

ensure_test_image() {
  docker image inspect "$NUBES_TEST_IMAGE" >/dev/null 2>&1 && return 0
  log "building $NUBES_TEST_IMAGE from busybox-static"
  local root; root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$NUBES_TEST_IMAGE" >/dev/null
  rm -rf "$root"
}

ensure_rust() {
  command -v cargo >/dev/null 2>&1 || {
    log "cargo is not on PATH; install the Rust toolchain (rustup) first"
    return 1
  }
  ensure_target_room
}

# Incremental state is a second copy of every build of the workspace's crates, of no use to the
# scripts' one-shot builds; on a target dir that survives between runs it alone grew past 30 GiB.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# The target dir survives between runs, so every change leaves one more stale build of each
# workspace crate and test binary (80 MiB apiece) behind: it reached 60 GiB and filled a CI
# machine's disk mid-link. Past its budget, or when the disk runs low, the workspace's own builds
# are dropped; third-party builds, the slow part, stay.
NUBES_TARGET_BUDGET_GB=${NUBES_TARGET_BUDGET_GB:-16}
NUBES_MIN_FREE_GB=${NUBES_MIN_FREE_GB:-8}
target_gb() { echo $(( $(du -sk "$CARGO_TARGET_DIR" | cut -f1) / 1048576 )); }
free_gb() { echo $(( $(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }') / 1048576 )); }
ensure_target_room() {
  [ -d "$CARGO_TARGET_DIR" ] || return 0
  local size_gb free_gb
  size_gb=$(target_gb)
  free_gb=$(free_gb)
  if [ "$size_gb" -ge "$NUBES_TARGET_BUDGET_GB" ] || [ "$free_gb" -lt "$NUBES_MIN_FREE_GB" ]; then
    log "target dir $size_gb GiB (budget $NUBES_TARGET_BUDGET_GB), $free_gb GiB free: dropping the workspace's stale builds"
    rm -rf "$CARGO_TARGET_DIR"/*/incremental
    local packages
    packages=$(cargo metadata --no-deps --format-version 1 --offline |
      python3 -c 'import json, sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))')
    # shellcheck disable=SC2086 # one word per -p and name
    cargo clean --quiet $packages
  fi
  size_gb=$(target_gb)
  if [ "$size_gb" -ge "$NUBES_TARGET_BUDGET_GB" ]; then
    log "target dir still $size_gb GiB: stale third-party builds; cleaning it whole"
    cargo clean --quiet
  fi
  free_gb=$(free_gb)
  if [ "$free_gb" -lt "$NUBES_MIN_FREE_GB" ]; then
    log "WARNING: only $free_gb GiB free on the disk of $CARGO_TARGET_DIR; a full build needs about $NUBES_MIN_FREE_GB GiB"
  fi
  return 0
}

# PostgreSQL from the machine's binaries, on a loopback port, trusting local connections (test
# data only). Runs as the postgres user: initdb refuses root.
NUBES_PG_PORT=${NUBES_PG_PORT:-55432}
NUBES_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$NUBES_PG_PORT/postgres"
ensure_postgres() {
  local dir="$NUBES_STATE_DIR/postgres"
  if pg_isready -q -h 127.0.0.1 -p "$NUBES_PG_PORT" 2>/dev/null; then return 0; fi
  command -v initdb >/dev/null 2>&1 || apt_install postgresql
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  local as_pg=(runuser -u postgres --)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initialising PostgreSQL in $dir"
    mkdir -p "$dir/data" && chown -R postgres "$dir"
    "${as_pg[@]}" initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  chown -R postgres "$dir"
  log "starting PostgreSQL on 127.0.0.1:$NUBES_PG_PORT"
  "${as_pg[@]}" pg_ctl -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $NUBES_PG_PORT -h 127.0.0.1 -k $dir" start >/dev/null
}

# A real SMTP server (aiosmtpd, from PyPI, in a venv) on loopback, delivering into a maildir
# the tests read: how the emailed second factor is tested end to end.
NUBES_SMTP_PORT=${NUBES_SMTP_PORT:-2525}
NUBES_TEST_SMTP_URL="smtp://127.0.0.1:$NUBES_SMTP_PORT"
NUBES_TEST_MAILDIR="$NUBES_STATE_DIR/maildir"
ensure_smtp() {
  local venv="$NUBES_STATE_DIR/venv"
  if (exec 3<>"/dev/tcp/127.0.0.1/$NUBES_SMTP_PORT") 2>/dev/null; then return 0; fi
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    log "installing aiosmtpd into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'aiosmtpd==1.4.6'
  fi
  mkdir -p "$NUBES_TEST_MAILDIR"/{tmp,new,cur}
  log "starting an SMTP server on 127.0.0.1:$NUBES_SMTP_PORT"
  setsid "$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$NUBES_SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$NUBES_TEST_MAILDIR" >"$NUBES_STATE_DIR/smtp.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    (exec 3<>"/dev/tcp/127.0.0.1/$NUBES_SMTP_PORT") 2>/dev/null && return 0
    sleep 0.25
  done
  echo "the SMTP server did not come up: $(tail -n 3 "$NUBES_STATE_DIR/smtp.log")" >&2
  return 1
}

# moto (PyPI, in a venv of its own: its dependencies are many) serving S3, EC2 and Lambda on
# loopback, for the AWS provider's tests. It checks no signature, so any credentials do.
NUBES_MOTO_PORT=${NUBES_MOTO_PORT:-5055}
NUBES_TEST_AWS_ENDPOINT="http://127.0.0.1:$NUBES_MOTO_PORT"
NUBES_TEST_AWS_PYTHON="$NUBES_STATE_DIR/moto-venv/bin/python"
# Up means it answers HTTP at all (its data.json can fail on some states, its health cannot).
moto_answers() {
  curl -s -o /dev/null -w '%{http_code}' "$NUBES_TEST_AWS_ENDPOINT/moto-api/" 2>/dev/null | grep -q '^[1-5]'
}
# What moto's Lambda runs, on the local Docker Engine (no registry is reachable): it copies a
# function's code in with `busybox:latest`, then runs `$NUBES_LAMBDA_RUNTIME HANDLER EVENT` with the
# code in /var/task. The runtime keeps Nubes' function contract: the event on the handler's stdin.
NUBES_LAMBDA_RUNTIME=${NUBES_LAMBDA_RUNTIME:-nubes-test/lambda-runtime:latest}
ensure_lambda_images() {
  ensure_test_image
  docker image inspect busybox:latest >/dev/null 2>&1 || docker tag "$NUBES_TEST_IMAGE" busybox:latest
  docker image inspect "$NUBES_LAMBDA_RUNTIME" >/dev/null 2>&1 && return 0
  log "building $NUBES_LAMBDA_RUNTIME from $NUBES_TEST_IMAGE"
  local ctx; ctx=$(mktemp -d)
  printf '#!/bin/sh\ncd /var/task || exit 127\nprintf %%s "$2" | exec /bin/sh "/var/task/$1"\n' >"$ctx/entry"
  printf 'FROM %s\nCOPY entry /lambda-entry\nENTRYPOINT ["/bin/sh", "/lambda-entry"]\n' "$NUBES_TEST_IMAGE" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$NUBES_LAMBDA_RUNTIME" "$ctx" >/dev/null
  rm -rf "$ctx"
}

ensure_moto() {
  local venv="$NUBES_STATE_DIR/moto-venv"
  # A moto started with other settings (an older script's) is replaced, not reused.
  local stamp="moto[server]==5.2.6 lambda=$NUBES_LAMBDA_RUNTIME"
  apt_install curl
  ensure_docker
  ensure_lambda_images
  if moto_answers && [ "$(cat "$NUBES_STATE_DIR/moto.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  pkill -f "moto_server -H 127.0.0.1 -p $NUBES_MOTO_PORT" 2>/dev/null || true
  for _ in $(seq 1 40); do moto_answers || break; sleep 0.25; done
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'moto[server]==5.2.6'
  fi
  log "starting moto on 127.0.0.1:$NUBES_MOTO_PORT"
  MOTO_DOCKER_LAMBDA_IMAGE="$NUBES_LAMBDA_RUNTIME" \
    setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$NUBES_MOTO_PORT" \
    >"$NUBES_STATE_DIR/moto.log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    if moto_answers; then
      echo "$stamp" >"$NUBES_STATE_DIR/moto.stamp"
      return 0
    fi
    sleep 0.25
  done
  echo "moto did not come up: $(tail -n 3 "$NUBES_STATE_DIR/moto.log")" >&2
  return 1
}

# The tools the API tests run (PyPI, in the same venv): an OpenAPI validator for the document,
# and schemathesis, which fuzzes every documented route of a live server.
NUBES_TEST_PYTHON="$NUBES_STATE_DIR/venv/bin/python"
NUBES_TEST_SCHEMATHESIS="$NUBES_STATE_DIR/venv/bin/schemathesis"
ensure_api_tools() {
  if "$NUBES_TEST_PYTHON" -c 'import openapi_spec_validator' 2>/dev/null \
    && [ -x "$NUBES_TEST_SCHEMATHESIS" ]; then return 0; fi
  log "installing openapi-spec-validator and schemathesis into $NUBES_STATE_DIR/venv"
  [ -x "$NUBES_TEST_PYTHON" ] || python3 -m venv "$NUBES_STATE_DIR/venv"
  "$NUBES_STATE_DIR/venv/bin/pip" install -q 'openapi-spec-validator==0.9.0' 'schemathesis==4.32.5'
}

# Swagger UI's files for /docs, from the npm registry (the server serves them from this folder).
NUBES_SWAGGER_UI_DIR="$NUBES_STATE_DIR/swagger-ui/node_modules/swagger-ui-dist"
ensure_swagger_ui() {
  if [ -f "$NUBES_SWAGGER_UI_DIR/swagger-ui-bundle.js" ]; then return 0; fi
  if ! command -v npm >/dev/null; then
    log "installing npm"
    apt_install nodejs npm
  fi
  log "installing swagger-ui-dist into $NUBES_STATE_DIR/swagger-ui"
  npm install --prefix "$NUBES_STATE_DIR/swagger-ui" --no-audit --no-fund --loglevel=error \
    'swagger-ui-dist@5.35.0' >/dev/null
}

# Headless Chromium, which renders /docs in the Swagger UI test.
NUBES_TEST_CHROMIUM=/usr/bin/chromium
ensure_chromium() {
  if [ -x "$NUBES_TEST_CHROMIUM" ]; then return 0; fi
  log "installing chromium"
  apt_install chromium
}
ensure_qemu_img() {
  command -v qemu-img >/dev/null 2>&1 || apt_install qemu-utils
}

# libvirt's library and headers: the QEMU provider links it (the `virt` crate), and its
# built-in test:///default driver runs the conformance kit without a daemon.
ensure_libvirt_dev() {
  apt_install libvirt-dev pkg-config
}

NUBES_LIBVIRT_DIR=$NUBES_STATE_DIR/libvirt
NUBES_LIBVIRT_URI="qemu+unix:///system?socket=$NUBES_LIBVIRT_DIR/run/libvirt-sock"
NUBES_GUEST_DIR=$NUBES_STATE_DIR/guest

# QEMU from bookworm-backports (it must match qemu-utils, which comes from there) and libvirtd,
# run by hand with a private socket: these machines have no systemd.
ensure_libvirtd() {
  if [ -S "$NUBES_LIBVIRT_DIR/run/libvirt-sock" ] && virsh -c "$NUBES_LIBVIRT_URI" version >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d; then
      local mirror; mirror=$(debian_mirror)
      echo "deb $mirror bookworm-backports main" | $sudo tee /etc/apt/sources.list.d/nubes-backports.list >/dev/null
    fi
    log "installing qemu-system-x86 from bookworm-backports"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports \
      qemu-system-x86 qemu-system-common qemu-system-data seabios >/dev/null
  fi
  apt_install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home libvirt-qemu
  mkdir -p /var/log/libvirt/qemu /var/lib/libvirt /var/cache/libvirt /run/libvirt /run/lock "$NUBES_LIBVIRT_DIR/run"
  # QEMU runs as root without a security driver: the test tier's guests are our own.
  mkdir -p /etc/libvirt
  if ! grep -qs "nubes-dev" /etc/libvirt/qemu.conf; then
    cat >>/etc/libvirt/qemu.conf <<'CONF'
# nubes-dev: the test tier's settings
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
stdio_handler = "file"
CONF
  fi
  cat >"$NUBES_LIBVIRT_DIR/libvirtd.conf" <<CONF
unix_sock_dir = "$NUBES_LIBVIRT_DIR/run"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
CONF
  log "starting libvirtd ($NUBES_LIBVIRT_URI)"
  libvirtd -d -f "$NUBES_LIBVIRT_DIR/libvirtd.conf" --pid-file "$NUBES_LIBVIRT_DIR/libvirtd.pid"
  for _ in $(seq 1 100); do
    virsh -c "$NUBES_LIBVIRT_URI" version >/dev/null 2>&1 && return 0
    sleep 0.3
  done
  echo "libvirtd did not answer on $NUBES_LIBVIRT_URI"
  return 1
}

# A small guest from Debian's packages: the cloud kernel, and an initramfs of busybox and
# qemu-guest-agent that makes the VM's boot disk its root (ext2, formatted on first boot),
# prints the conformance kit's ready line and ticks on the serial port, and runs the agent.
ensure_test_guest() {
  local stamp="3"
  if [ -f "$NUBES_GUEST_DIR/initrd.gz" ] && [ "$(cat "$NUBES_GUEST_DIR/stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  apt_install busybox-static
  log "building the test guest in $NUBES_GUEST_DIR"
  local work; work=$(mktemp -d)
  local kernel; kernel=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  (cd "$work" && apt-get download "$kernel" qemu-guest-agent >/dev/null 2>&1)
  mkdir -p "$work/k" "$work/ga" "$work/root"/{bin,sbin,proc,sys,dev,tmp,run,newroot,modules,lib64}
  dpkg -x "$work"/linux-image-*.deb "$work/k"
  dpkg -x "$work"/qemu-guest-agent*.deb "$work/ga"
  local root="$work/root"
  cp /bin/busybox "$root/bin/busybox"
  cp "$work/ga/usr/sbin/qemu-ga" "$root/sbin/qemu-ga"
  # qemu-ga's shared libraries, from this (Debian) host.
  ldd "$root/sbin/qemu-ga" | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  local m
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_console failover net_failover virtio_net; do
    find "$work/k/lib/modules" -name "$m.ko" -exec cp {} "$root/modules/" \;
  done
  cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_console failover net_failover virtio_net; do
  insmod /modules/$m.ko 2>/dev/null
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
# The boot disk is the root: formatted on first boot, kept after.
if ! mount -t ext2 /dev/vda /newroot 2>/dev/null; then
  mke2fs -q /dev/vda >/dev/null 2>&1 && mount -t ext2 /dev/vda /newroot
fi
cp -a /bin /sbin /lib /lib64 /usr /guest-init /newroot/ 2>/dev/null
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /guest-init
INIT
  cat >"$root/guest-init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin
stty -F /dev/ttyS0 raw -echo -onlcr 2>/dev/null
echo nubes-ready >/dev/ttyS0
for p in /sys/class/virtio-ports/*; do
  if [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ]; then
    qemu-ga -m virtio-serial -p "/dev/$(basename "$p")" -t /run -f /run/qemu-ga.pid &
  fi
done
ifconfig lo up 2>/dev/null
while true; do echo tick >/dev/ttyS0; sleep 0.2; done
INIT
  chmod +x "$root/init" "$root/guest-init"
  mkdir -p "$NUBES_GUEST_DIR"
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$NUBES_GUEST_DIR/initrd.gz"
  cp "$work"/k/boot/vmlinuz-* "$NUBES_GUEST_DIR/vmlinuz"
  echo "$stamp" >"$NUBES_GUEST_DIR/stamp"
  rm -rf "$work"
}

# Everything the demo, the tests and the benchmarks need on this machine.
# Leaves `cloudctl` on PATH as a link to the build, so the README's next line works as written:
# in /usr/local/bin where this user may write, else in ~/.local/bin.
link_cloudctl() {
  local bin=/usr/local/bin
  [ -w "$bin" ] || { bin=$HOME/.local/bin; mkdir -p "$bin"; }
  ln -sfn "$1" "$bin/cloudctl"
  case ":$PATH:" in
    *":$bin:"*) log "cloudctl is on PATH ($bin/cloudctl -> $1)" ;;
    *) log "cloudctl is at $bin/cloudctl; add it to PATH: export PATH=\"$bin:\$PATH\"" ;;
  esac
}

# The Kubernetes cluster the Kubernetes provider is tested on.
source "$(dirname "${BASH_SOURCE[0]}")/kubernetes.sh"
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"
source "$(dirname "${BASH_SOURCE[0]}")/web.sh"

ensure_all() {
  ensure_rust
  ensure_docker
  ensure_test_image
  ensure_qemu_img
  ensure_libvirt_dev
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_all
  log "ready: docker $(docker version --format '{{.Server.Version}}'), image $NUBES_TEST_IMAGE"
fi
