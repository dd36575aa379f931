#!/usr/bin/env bash
# Runs the Dockerfile without a Docker engine: every stage in a fresh
# debootstrap chroot of Debian 12 (bookworm), its instructions executed in
# order as `docker build` would (FROM, ARG, ENV, WORKDIR, COPY [--from], RUN;
# CMD and LABEL are only reported). Not part of CI: it installs the whole test
# tool chain and runs the test suite, which takes a long while.
#
# Usage (as root): scripts/docker_chroot.sh [options]
#   --mirror URL       Debian mirror for debootstrap and for apt inside the chroots
#                      (default: the first Debian URI in /etc/apt/sources.list*,
#                      else http://deb.debian.org/debian)
#   --work DIR         scratch directory (default /var/tmp/strata-docker-chroot)
#   --build-arg K=V    as docker build --build-arg (e.g. STRATA_TESTS=release)
#   --refresh          debootstrap again instead of reusing DIR/bookworm-minbase.tar
#   --keep             keep the stage chroots afterwards (DIR/stage-*)
# Exit status 0 when every step of every stage succeeded. Log: DIR/docker_chroot.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mirror="" work=/var/tmp/strata-docker-chroot keep=0 refresh=0
declare -A build_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) mirror=$2; shift ;;
    --work) work=$2; shift ;;
    --build-arg) build_args[${2%%=*}]=${2#*=}; shift ;;
    --refresh) refresh=1 ;;
    --keep) keep=1 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d;s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "docker_chroot.sh: run as root (debootstrap, chroot, mount)" >&2; exit 2; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
mirror=${mirror%/}
security=${mirror%/debian}/debian-security
mkdir -p "$work"
exec > >(tee "$work/docker_chroot.log") 2>&1
echo "== docker_chroot: Dockerfile of $root; mirror $mirror; work $work"

# ---- chroots -----------------------------------------------------------------
base="$work/bookworm-minbase.tar"
if [ $refresh = 1 ] || [ ! -s "$base" ]; then
  t0=$SECONDS
  rm -rf "$work/debootstrap"
  debootstrap --variant=minbase bookworm "$work/debootstrap" "$mirror"
  cat >"$work/debootstrap/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  tar -C "$work/debootstrap" -cf "$base" .
  rm -rf "$work/debootstrap"
  echo "== debootstrap: $((SECONDS - t0)) s"
fi

mounted=()
mount_chroot() {
  local d=$1
  mount -t proc proc "$d/proc" && mounted+=("$d/proc")
  mount -t sysfs sysfs "$d/sys" && mounted+=("$d/sys")
  mount --rbind /dev "$d/dev" && mount --make-rslave "$d/dev" && mounted+=("$d/dev")
  cp /etc/resolv.conf "$d/etc/resolv.conf"
}
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[i]}" 2>/dev/null || umount -lR "${mounted[i]}" || true; done
  mounted=()
  if [ $keep = 0 ]; then rm -rf "$work"/stage-*; fi
}
trap cleanup EXIT

# ---- the Dockerfile, instruction by instruction ------------------------------
declare -A global_args=() stage_root=()
stage="" stage_dir="" workdir=/ envs=() args=() steps=() failed=0

# Expands ${NAME} and $NAME from the stage's ARG/ENV values (docker's rule for
# FROM, ENV, WORKDIR, COPY; RUN gets them as environment variables instead).
expand() {
  local s=$1 kv
  for kv in "${args[@]}" "${envs[@]}"; do
    s=${s//\$\{${kv%%=*}\}/${kv#*=}}
    s=${s//\$${kv%%=*}/${kv#*=}}
  done
  printf '%s' "$s"
}
strip_quotes() { local v=$1; v=${v#\"}; v=${v%\"}; printf '%s' "$v"; }

# COPY from the build context: .dockerignore patterns are excluded.
copy_context() {
  local src=$1 dst=$2 excl=() p
  if [ -f "$root/.dockerignore" ]; then
    while read -r p; do
      case "$p" in ''|'#'*) continue ;; '**/'*) excl+=("--exclude=./*/${p#**/}" "--exclude=./${p#**/}") ;; *) excl+=("--exclude=./$p") ;; esac
    done <"$root/.dockerignore"
  fi
  if [ -d "$root/$src" ]; then
    mkdir -p "$dst"
    (cd "$root/$src" && tar --anchored "${excl[@]}" -cf - .) | tar -C "$dst" -xf -
  else
    case "$dst" in */) mkdir -p "$dst" ;; *) mkdir -p "$(dirname "$dst")" ;; esac
    cp -a "$root/$src" "$dst"
  fi
}

do_copy() {
  local from="" words dst src
  read -r -a words <<<"$1"
  if [[ ${words[0]} == --from=* ]]; then from=${words[0]#--from=}; words=("${words[@]:1}"); fi
  dst=$(expand "${words[-1]}")
  [[ $dst == /* ]] || dst="$workdir/$dst"
  for src in "${words[@]:0:${#words[@]}-1}"; do
    src=$(expand "$src")
    if [ -n "$from" ]; then
      mkdir -p "$stage_dir$dst"
      cp -a "${stage_root[$from]}/${src%/}/." "$stage_dir$dst"
    else
      copy_context "$src" "$stage_dir$dst"
    fi
  done
}

do_run() {
  chroot "$stage_dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root "${args[@]}" "${envs[@]}" /bin/sh -c "cd '$workdir' && $1"
}

step() {  # step <instruction> <rest>: runs one instruction, records time and status
  local t0=$SECONDS rc=0
  echo "== [$stage] $1 $2"
  case "$1" in
    ARG) local k=${2%%=*} v=""
         [[ $2 == *=* ]] && v=$(strip_quotes "${2#*=}")
         [ -n "${build_args[$k]+x}" ] && v=${build_args[$k]}
         echo "   $k=$v"
         [ -n "$stage" ] && args+=("$k=$v") || global_args[$k]=$v ;;
    ENV) local k=${2%%[= ]*} v=${2#*[= ]}; envs+=("$k=$(expand "$(strip_quotes "$v")")") ;;
    WORKDIR) workdir=$(expand "$2"); mkdir -p "$stage_dir$workdir" ;;
    COPY) do_copy "$2" || rc=$? ;;
    RUN) do_run "$2" || rc=$? ;;
    CMD|ENTRYPOINT|LABEL|EXPOSE|VOLUME) echo "   (recorded only)" ;;
    *) echo "docker_chroot.sh: unsupported instruction $1" >&2; rc=2 ;;
  esac
  steps+=("$(printf '%-8s %-9s %5ss  rc=%s  %.70s' "$stage" "$1" $((SECONDS - t0)) $rc "$2")")
  [ $rc = 0 ] || { failed=1; echo "== [$stage] FAILED: $1 $2 (rc $rc)"; }
  return $rc
}

from() {  # from <image> [AS name]: a fresh chroot for the stage
  local words image
  read -r -a words <<<"$1"
  args=()
  for k in "${!global_args[@]}"; do args+=("$k=${global_args[$k]}"); done
  image=$(expand "${words[0]}")
  stage=${words[2]:-stage$((${#stage_root[@]}))}
  case "$image" in debian:12|debian:bookworm) ;; *) echo "docker_chroot.sh: only debian:12 is supported, not $image" >&2; exit 2 ;; esac
  stage_dir="$work/stage-$stage"
  rm -rf "$stage_dir"
  mkdir -p "$stage_dir"
  tar -C "$stage_dir" -xf "$base"
  mount_chroot "$stage_dir"
  stage_root[$stage]=$stage_dir
  args=() envs=() workdir=/
  echo "== stage $stage: $image in $stage_dir"
}

t_all=$SECONDS
line=""
while IFS= read -r raw || [ -n "$raw" ]; do
  [[ $raw =~ ^[[:space:]]*# ]] && continue
  if [[ $raw == *\\ ]]; then line+="${raw%\\} "; continue; fi
  line+=$raw
  [[ $line =~ ^[[:space:]]*$ ]] && { line=""; continue; }
  instr=${line%%[[:space:]]*} rest=${line#"$instr"}
  rest=${rest#"${rest%%[![:space:]]*}"}
  line=""
  if [ "$instr" = FROM ]; then from "$rest"; continue; fi
  step "$instr" "$rest" || break
done <"$root/Dockerfile"

echo "== summary (total $((SECONDS - t_all)) s)"
printf '%s\n' "${steps[@]}"
if [ $failed = 0 ]; then echo "== docker_chroot: PASS"; else echo "== docker_chroot: FAIL"; fi
exit $failed
