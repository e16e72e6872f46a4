# A real Kubernetes v1.20.2 cluster on loopback for the Kubernetes provider's tests and bench.
# Sourced by setup.sh. No registry here ships kube-apiserver, kind or k3s, so it is built from
# Debian's source package (bookworm's kubernetes 1.20.5+really1.20.2, the upstream tree with
# vendor/) with Go 1.15 unpacked from bullseye's debs, once, into a cache outside the clone; etcd
# comes from Debian's etcd-server. The kubelet runs pods on the local Docker Engine (dockershim)
# and pulls nothing: pods use local images with imagePullPolicy Never.

NUBES_K8S_CACHE=${NUBES_K8S_CACHE:-$HOME/.cache/nubes/k8s}
NUBES_K8S_BIN=$NUBES_K8S_CACHE/bin
NUBES_K8S_RUN=$NUBES_STATE_DIR/k8s
NUBES_K8S_PORT=${NUBES_K8S_PORT:-16443}
NUBES_K8S_KUBECONFIG=$NUBES_K8S_RUN/kubeconfig
NUBES_K8S_PAUSE_IMAGE=${NUBES_K8S_PAUSE_IMAGE:-nubes-test/pause:latest}
# Bump when the build changes, so a cache built by an older script is rebuilt, not trusted.
NUBES_K8S_STAMP="v1.20.2 go1.15 oom-adj-0 kubectl 1"

k8s_binaries() { echo kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd; }

ensure_kubernetes_build() {
  local w=$NUBES_K8S_CACHE b
  if [ "$(cat "$w/stamp" 2>/dev/null)" = "$NUBES_K8S_STAMP" ]; then return 0; fi
  apt_install curl openssl ca-certificates
  mkdir -p "$w" "$NUBES_K8S_BIN"
  local mirror; mirror=$(debian_mirror) || return 1
  log "building Kubernetes v1.20.2 from Debian's source package into $w (about 6 minutes, once)"
  # Go 1.15, what 1.20 was released with (newer Go rejects its vendored code), unpacked not installed.
  if [ ! -x "$w/go/usr/lib/go-1.15/bin/go" ]; then
    local apt=$w/apt-bullseye
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb $mirror bullseye main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" update -qq >/dev/null || return 1
    (cd "$apt" && apt-get "${opts[@]}" download -qq golang-1.15-go golang-1.15-src >/dev/null) || return 1
    for d in "$apt"/golang-1.15-*.deb; do dpkg -x "$d" "$w/go" || return 1; done
  fi
  if [ ! -x "$NUBES_K8S_BIN/etcd" ]; then
    local e; e=$(mktemp -d)
    (cd "$e" && apt-get download -qq etcd-server >/dev/null && dpkg -x etcd-server_*.deb pkg) || return 1
    cp "$e/pkg/usr/bin/etcd" "$NUBES_K8S_BIN/" && rm -rf "$e"
  fi
  local src=$w/src/kubernetes-1.20.2
  if [ ! -d "$src" ]; then
    local sa=$w/apt-src
    mkdir -p "$w/src" "$sa/lists/partial" "$sa/cache/archives/partial"
    echo "deb-src $mirror bookworm main" >"$sa/sources.list"
    local sopts=(-o "Dir::Etc::SourceList=$sa/sources.list" -o Dir::Etc::SourceParts=/dev/null
                 -o "Dir::State::Lists=$sa/lists" -o "Dir::Cache=$sa/cache" -o APT::Sandbox::User=root)
    apt-get "${sopts[@]}" update -qq >/dev/null || return 1
    (cd "$w/src" && apt-get "${sopts[@]}" source --download-only -qq kubernetes >/dev/null) || return 1
    tar -C "$w/src" -xzf "$w"/src/kubernetes_*.orig.tar.gz || return 1
    rm -f "$w"/src/kubernetes_*.tar.* "$w"/src/kubernetes_*.dsc
  fi
  (
    set -e
    export GOROOT=$w/go/usr/lib/go-1.15 PATH=$w/go/usr/lib/go-1.15/bin:$PATH GOCACHE=$w/gocache \
      CGO_ENABLED=0 GOPROXY=off GOPATH=$w/gopath
    # These VMs forbid a negative oom_score_adj: runc then fails with "can't get final child's PID
    # from pipe" for every pod sandbox and Guaranteed container.
    sed -i 's/defaultSandboxOOMAdj int = -998/defaultSandboxOOMAdj int = 0/' "$src/pkg/kubelet/dockershim/docker_sandbox.go"
    sed -i 's/guaranteedOOMScoreAdj int = -997/guaranteedOOMScoreAdj int = 0/' "$src/pkg/kubelet/qos/policy.go"
    # pkg/generated/openapi is generated at release time and not in the tarball; the apiserver needs it.
    if [ ! -f "$src/pkg/generated/openapi/zz_generated.openapi.go" ]; then
      (cd "$src" && GOFLAGS=-mod=vendor go build -o "$w/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen)
      mkdir -p "$w/gp/src/k8s.io" && ln -sfn "$src" "$w/gp/src/k8s.io/kubernetes"
      cd "$w/gp/src/k8s.io/kubernetes"
      local dirs
      dirs=$(find -H . \( -not \( \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune \) \) -name '*.go' -type f \
        | sed 's|^./staging/src|vendor|' | xargs grep -l '^// *+k8s:openapi-gen=' | xargs -n1 dirname | sed 's|^\./||' \
        | grep -v -e '^vendor/k8s.io/code-generator' -e '^vendor/k8s.io/sample-apiserver' | LC_ALL=C sort -u)
      GO111MODULE=off GOPATH=$w/gp GOFLAGS='' "$w/openapi-gen" \
        -i "$(echo "$dirs" | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)" \
        -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
        -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$w/violations.report" -o "$w/gp/src"
    fi
    cd "$src"
    local ld="-s -w" v
    for v in k8s.io/component-base/version k8s.io/client-go/pkg/version \
      k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
      ld="$ld -X $v.gitVersion=v1.20.2 -X $v.gitMajor=1 -X $v.gitMinor=20 -X $v.gitTreeState=clean"
    done
    for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
      [ -x "$NUBES_K8S_BIN/$b" ] || GOFLAGS=-mod=vendor nice -n 10 go build -ldflags "$ld" -o "$NUBES_K8S_BIN/$b" "./cmd/$b"
    done
  ) || { log "the Kubernetes build failed"; return 1; }
  # Only the binaries are kept (about 380 MB): the toolchain, sources and build cache (1.5 GB more)
  # serve only to build again, which a new stamp does from scratch.
  rm -rf "$w/gocache" "$w/gp" "$w/openapi-gen" "$w/gopath" "$w/src" "$w/go" "$w/apt-bullseye" "$w/apt-src"
  echo "$NUBES_K8S_STAMP" >"$w/stamp"
}

# The pod sandbox ("pause") image: any image whose entrypoint blocks until it is told to stop.
# PID 1 ignores signals it has no handler for, so it traps TERM to stop at once.
ensure_pause_image() {
  ensure_test_image
  docker image inspect "$NUBES_K8S_PAUSE_IMAGE" >/dev/null 2>&1 && return 0
  local ctx; ctx=$(mktemp -d)
  printf 'FROM %s\nENTRYPOINT ["/bin/sh", "-c", "trap \\"exit 0\\" TERM INT; while :; do sleep 3600 & wait; done"]\n' \
    "$NUBES_TEST_IMAGE" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$NUBES_K8S_PAUSE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
}

k8s_ready() {
  KUBECONFIG=$NUBES_K8S_KUBECONFIG "$NUBES_K8S_BIN/kubectl" get node localhost 2>/dev/null | grep -q ' Ready'
}

k8s_start() {
  local name=$1; shift
  setsid "$@" >"$NUBES_K8S_RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$NUBES_K8S_RUN/$name.pid"
}

# etcd, kube-apiserver (https://127.0.0.1:$NUBES_K8S_PORT, token auth, RBAC), controller-manager,
# scheduler and a kubelet named `localhost` on 127.0.0.1, so exec and logs stay on loopback.
# Writes $NUBES_K8S_KUBECONFIG (cluster admin). Reuses a cluster that is already up.
ensure_kubernetes() {
  ensure_docker
  ensure_kubernetes_build || return 1
  ensure_pause_image
  export PATH="$NUBES_K8S_BIN:$PATH"
  if [ -f "$NUBES_K8S_KUBECONFIG" ] && k8s_ready; then return 0; fi
  kubernetes_down
  local r=$NUBES_K8S_RUN b=$NUBES_K8S_BIN
  # A cluster that was down starts empty: what an earlier run left does not count in this one.
  rm -rf "$r/etcd" "$r/kubelet"
  mkdir -p "$r/certs" "$r/kubelet" "$r/pv"
  [ -f "$r/sa.key" ] || { openssl genrsa -out "$r/sa.key" 2048 2>/dev/null; openssl rsa -in "$r/sa.key" -pubout -out "$r/sa.pub" 2>/dev/null; }
  # The admin token is made here, per machine, never a fixed string.
  [ -f "$r/admin.token" ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$r/admin.token")
  local token; token=$(cat "$r/admin.token")
  (umask 077; echo "$token,nubes-admin,nubes-admin,system:masters" >"$r/tokens.csv")
  (umask 077; cat >"$NUBES_K8S_KUBECONFIG" <<K
apiVersion: v1
kind: Config
clusters: [{name: nubes-test, cluster: {server: "https://127.0.0.1:$NUBES_K8S_PORT", certificate-authority: "$r/certs/apiserver.crt"}}]
users: [{name: nubes-admin, user: {token: "$token"}}]
contexts: [{name: nubes-test, context: {cluster: nubes-test, user: nubes-admin, namespace: default}}]
current-context: nubes-test
K
  )
  cat >"$r/kubelet.yaml" <<K
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
podPidsLimit: 4096
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
K
  log "starting Kubernetes on 127.0.0.1:$NUBES_K8S_PORT"
  k8s_start etcd "$b/etcd" --data-dir "$r/etcd" --listen-client-urls http://127.0.0.1:23790 \
    --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 \
    --initial-advertise-peer-urls http://127.0.0.1:23800 --initial-cluster default=http://127.0.0.1:23800
  # The apiserver's serving certificate is self-signed for 127.0.0.1/localhost; the kubeconfig
  # trusts exactly that certificate.
  k8s_start apiserver "$b/kube-apiserver" --etcd-servers=http://127.0.0.1:23790 --secure-port="$NUBES_K8S_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --cert-dir="$r/certs" \
    --service-account-key-file="$r/sa.pub" --service-account-signing-key-file="$r/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local --token-auth-file="$r/tokens.csv" \
    --authorization-mode=Node,RBAC --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --kubelet-preferred-address-types=Hostname --enable-admission-plugins=NamespaceLifecycle,ServiceAccount,ResourceQuota,LimitRanger
  local i
  for i in $(seq 120); do
    curl -sf --cacert "$r/certs/apiserver.crt" -H "Authorization: Bearer $token" \
      "https://127.0.0.1:$NUBES_K8S_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  k8s_start cm "$b/kube-controller-manager" --kubeconfig="$NUBES_K8S_KUBECONFIG" --leader-elect=false --port=0 \
    --bind-address=127.0.0.1 --secure-port=10257 --service-account-private-key-file="$r/sa.key" \
    --root-ca-file="$r/certs/apiserver.crt" --enable-hostpath-provisioner \
    --controllers='*,-nodeipam,-csrsigning,-route,-service,-cloud-node-lifecycle'
  k8s_start sched "$b/kube-scheduler" --kubeconfig="$NUBES_K8S_KUBECONFIG" --leader-elect=false --port=0 \
    --bind-address=127.0.0.1 --secure-port=10259
  k8s_start kubelet "$b/kubelet" --kubeconfig="$NUBES_K8S_KUBECONFIG" --config="$r/kubelet.yaml" \
    --root-dir="$r/kubelet" --cert-dir="$r/kubelet/pki" --hostname-override=localhost --container-runtime=docker \
    --docker-endpoint=unix:///var/run/docker.sock --pod-infra-container-image="$NUBES_K8S_PAUSE_IMAGE"
  for i in $(seq 180); do
    k8s_ready && { k8s_storage_class; return; }
    sleep 0.5
  done
  log "Kubernetes did not become ready; the kubelet's and apiserver's logs:"
  tail -n 15 "$r/kubelet.log" "$r/apiserver.log" >&2
  return 1
}

# The default StorageClass: 1.20's in-tree hostPath provisioner (the controller-manager runs with
# --enable-hostpath-provisioner), which makes a directory under /tmp/hostpath_pv per claim. It
# cannot expand volumes, so the class does not offer it.
k8s_storage_class() {
  KUBECONFIG=$NUBES_K8S_KUBECONFIG "$NUBES_K8S_BIN/kubectl" apply -f - >/dev/null <<Y
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: nubes-hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
Y
}

kubernetes_down() {
  local r=$NUBES_K8S_RUN n m
  for n in kubelet sched cm apiserver etcd; do
    if [ -f "$r/$n.pid" ]; then
      kill "$(cat "$r/$n.pid")" 2>/dev/null || true
      for _ in $(seq 40); do kill -0 "$(cat "$r/$n.pid")" 2>/dev/null || break; sleep 0.25; done
      rm -f "$r/$n.pid"
    fi
  done
  if docker info >/dev/null 2>&1; then
    docker ps -aq --filter 'name=^k8s_' | xargs -r docker rm -f >/dev/null
  fi
  for m in $(mount | awk '{print $3}' | grep "^$r/" | sort -r); do umount "$m" 2>/dev/null || true; done
}
