#!/usr/bin/env bash
# Run the tests listed in tests/qemu/subset inside QEMU guests (TCG) booted from Debian's kernel
# packages, with a pure cgroup v2 hierarchy delegated the way systemd delegates a service's
# cgroup, as root and as an unprivileged user owning the delegated subtree. See README.md here.
#
#   bash tests/qemu/run.sh [GUEST...]     GUEST: new (Linux 6.12), old (Linux 6.1); default both
#
# Environment: RUNCELL_QEMU_CACHE (kernel packages; default /var/cache/runcell-qemu),
# RUNCELL_QEMU_CONFIGS (default "root user"), RUNCELL_QEMU_TIMEOUT (seconds per guest; 900),
# RUNCELL_QEMU_CPUS (2), RUNCELL_QEMU_MEM (MiB; 3072), RUNCELL_QEMU_SUBSET (the list of tests;
# default tests/qemu/subset).
# Exit status 0 only when every listed test ran and passed in every guest and configuration.
set -euo pipefail
shopt -s inherit_errexit
repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/tests/qemu
cache=${RUNCELL_QEMU_CACHE:-/var/cache/runcell-qemu}
subset=$(realpath "${RUNCELL_QEMU_SUBSET:-$here/subset}")
configs=${RUNCELL_QEMU_CONFIGS:-root user}
timeout_s=${RUNCELL_QEMU_TIMEOUT:-900}
cpus=${RUNCELL_QEMU_CPUS:-2}
mem=${RUNCELL_QEMU_MEM:-3072}
user_uid=1000
guests=("$@")
[ ${#guests[@]} -gt 0 ] || guests=(new old)

# The kernel meta package of each guest: "new" is the newest kernel Debian 12 ships (6.12, in
# bookworm main since 12.10); "old" is Debian 12's stable kernel, 6.1, the oldest runcell claims
# that the archive offers.
meta_of() {
	case $1 in
	new) echo linux-image-6.12-amd64 ;;
	old) echo linux-image-amd64 ;;
	*) echo "unknown guest $1 (new, old)" >&2 && exit 2 ;;
	esac
}

log() { echo "qemu-tests: $*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- packages ---------------------------------------------------------------------------------
updated=0
apt_update() {
	if [ $updated = 0 ]; then
		apt-get update -q >/dev/null
		updated=1
	fi
}
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
busybox=/bin/busybox

# --- kernels: apt-get download + dpkg-deb, cached -----------------------------------------------
# Prints the directory holding boot/vmlinuz-* and the 9p/virtio modules of a guest's kernel.
kernel_dir() {
	local meta pkg dir
	meta=$(meta_of "$1")
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt_update
		pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || { echo "cannot resolve $meta" >&2 && exit 1; }
	dir=$cache/$pkg
	if [ ! -f "$dir/.complete" ]; then
		log "downloading $pkg" >&2
		rm -rf "$dir" && mkdir -p "$dir"
		(cd "$dir" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
		local deb
		deb=$(ls "$dir"/*.deb)
		# Only the kernel and the modules the initramfs needs (9p over virtio and their deps).
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards \
			'./boot/vmlinuz-*' './boot/config-*' './lib/modules/*/kernel/fs/*' \
			'./lib/modules/*/kernel/net/9p/*' './lib/modules/*/kernel/drivers/virtio/*'
		find "$dir/lib/modules" -name '*.ko.xz' -exec xz -d {} +
		rm -f "$deb"
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# --- test binaries ----------------------------------------------------------------------------
mapfile -t targets < <(awk '!/^#/ && NF { print $1 }' "$subset" | sort -u)
work=$repo/target/qemu
mkdir -p "$work"
log "building test binaries: ${targets[*]}"
cargo test --all-features --no-run --message-format=json $(printf -- '--test %s ' "${targets[@]}") \
	>"$work/build.json"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
declare -A exe
while read -r name path; do exe[$name]=$path; done < <(python3 - "$work/build.json" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])
EOF
)
for t in "${targets[@]}"; do
	[ -n "${exe[$t]:-}" ] || { echo "no test binary for $t" >&2 && exit 1; }
done

# --- one guest --------------------------------------------------------------------------------
failed=0
summary=()
consoles=()
failed_logs=()
# Boots guest $1 and runs the plan in it; sets kver, qrc, boot and took.
boot_guest() {
	local guest=$1 kdir vmlinuz t0 t_end
	kdir=$(kernel_dir "$guest")
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
	kver=${vmlinuz##*/vmlinuz-}
	rm -rf "$gw" && mkdir -p "$gw/job/out" "$gw/root"
	chmod 755 "$gw/job" "$gw/job/out"

	# initramfs: busybox, the modules in load order, the init, the repository's paths.
	local r=$gw/root m
	mkdir -p "$r"/{bbin,modules,proc,sys,dev,tmp,run,etc,usr,job}
	cp "$busybox" "$r/bbin/busybox"
	for l in bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$r/$l"; fi
	done
	# The 9p file system over virtio and what it depends on (the `depends=` of each module's
	# .modinfo), in load order; modules the kernel has built in have no file and are skipped.
	local order=()
	add_module() {
		local f d
		case " ${order[*]} " in *" $1.ko "*) return ;; esac
		f=$(find "$kdir/lib/modules" -name "$1.ko" | head -n1)
		[ -n "$f" ] || return 0
		for d in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr , ' '); do add_module "$d"; done
		cp "$f" "$r/modules/"
		order+=("$1.ko")
	}
	for m in virtio_pci 9pnet_virtio 9p; do add_module "$m"; done
	printf '%s\n' "${order[@]}" >"$r/modules/order"
	install -m 755 "$here/init" "$r/init"
	{
		echo "REPO=$repo"
		case $target_dir in "$repo"/*) echo "TARGET_DIR=" ;; *) echo "TARGET_DIR=$target_dir" ;; esac
		echo "USER_UID=$user_uid"
	} >"$r/guest.conf"
	(cd "$r" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$gw/initrd.img"

	# The plan: one line per configuration and test binary.
	local cfg tgt names
	for cfg in $configs; do
		for tgt in "${targets[@]}"; do
			names=$(awk -v t="$tgt" -v c="$cfg" '!/^#/ && $1 == t && (NF < 3 || $3 == c) { printf "%s ", $2 }' "$subset")
			[ -n "$names" ] && echo "$cfg ${exe[$tgt]} $names" >>"$gw/job/plan"
		done
	done

	local share=()
	share+=(-virtfs "local,path=/usr,mount_tag=usr,security_model=none,readonly=on,multidevs=remap")
	share+=(-virtfs "local,path=/etc,mount_tag=etc,security_model=none,readonly=on,multidevs=remap")
	share+=(-virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,multidevs=remap")
	share+=(-virtfs "local,path=$gw/job,mount_tag=job,security_model=none,multidevs=remap")
	case $target_dir in "$repo"/*) ;; *)
		share+=(-virtfs "local,path=$target_dir,mount_tag=target,security_model=none,readonly=on,multidevs=remap") ;;
	esac
	log "guest $guest: Linux $kver ($(basename "$kdir")), $cpus vCPUs (TCG), $mem MiB"
	t0=$(now)
	set +e
	# One host thread for all vCPUs (thread=single): under multi-threaded TCG the guest kernel's
	# live code patching (text_poke_bp: a static key flipped, as the CFS bandwidth key is each
	# time the first cpu.max quota is set or the last removed) races the other vCPU's cached
	# translation, which then runs the int3 after the patch is done ("Oops: int3" in
	# pick_task_fair, a panic). README.md here has the reproduction.
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg,thread=single -cpu max \
		-smp "$cpus" -m "$mem" -nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$vmlinuz" -initrd "$gw/initrd.img" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
		"${share[@]}" </dev/null 2>&1 | tee "$gw/console.log" | sed -u "s/^/[$guest] /"
	qrc=${PIPESTATUS[0]}
	set -e
	t_end=$(now)
	took=$(secs "$t0" "$t_end")
	boot=$(sed -n 's/.*GUEST-READY uptime=\([0-9.]*\).*/\1/p' "$gw/console.log" | head -n1)
	log "guest $guest: qemu exit $qrc, $took s in all, booted in ${boot:-?} s (guest uptime)"
}

# The first kernel fault on console $1, a kernel message ("[seconds] " first) naming an oops (6.12
# prefixes every one with "Oops:"; 6.1 names the trap: "invalid opcode:", "general protection
# fault", "BUG: unable to handle"), a BUG() or a panic. A fault fails the guest even when its plan
# finished: a sandbox's helper or teardown can die in the kernel while every test still reports
# ok. Memory-cgroup OOM kills (the tests cause them) and lockup or stall reports (TCG on a loaded
# host) are not faults.
kernel_fault() {
	grep -m1 -E '\[ *[0-9]+\.[0-9]+\] .*(Oops|Kernel panic|kernel BUG at|BUG: unable to handle|invalid opcode:|general protection fault)' "$1" |
		tr -d '\r' || true
}

# Runs guest $1 and records its verdicts.
run_guest() {
	local guest=$1 qrc boot took kver fault gw=$work/$1
	boot_guest "$guest"
	fault=$(kernel_fault "$gw/console.log")
	if [ ! -f "$gw/job/out/done" ]; then
		log "guest $guest: FAILED: the guest did not finish (qemu exit $qrc; timeout ${timeout_s} s; ${fault:-no kernel fault on its console})"
		[ -f "$gw/job/out/init-failed" ] && log "guest init: $(cat "$gw/job/out/init-failed")"
	elif [ -n "$fault" ]; then
		log "guest $guest: FAILED: a kernel fault during the run: $fault"
	fi

	# Verdicts: every planned test must have run and passed. One line per test binary; every
	# test that did not pass is named.
	local guest_failed=0
	if [ ! -f "$gw/job/out/done" ]; then
		guest_failed=1
		summary+=("$(printf '%-4s %-5s %-16s %s' "$guest" "" "" "DID NOT FINISH (qemu exit $qrc): ${fault:-no kernel fault on its console}")")
	elif [ -n "$fault" ]; then
		guest_failed=1
		summary+=("$(printf '%-4s %-5s %-16s %s' "$guest" "" "" "KERNEL FAULT: $fault")")
	fi
	local cfg2 path tnames bin lg rc n res passed total
	while read -r cfg2 path tnames; do
		bin=$(basename "$path" | sed 's/-[0-9a-f]*$//')
		lg=$gw/job/out/$cfg2.$bin.log
		rc=$(cat "$gw/job/out/$cfg2.$bin.rc" 2>/dev/null || echo none)
		passed=0 total=0
		for n in $tnames; do
			total=$((total + 1))
			if grep -qx "test $n \.\.\. ok" "$lg" 2>/dev/null; then
				passed=$((passed + 1))
				continue
			elif grep -q "^test $n \.\.\. " "$lg" 2>/dev/null; then
				res=FAILED
			else
				res="NOT RUN"
			fi
			summary+=("$(printf '%-4s %-5s %-16s %-55s %s' "$guest" "$cfg2" "$bin" "$n" "$res")")
		done
		summary+=("$(printf '%-4s %-5s %-16s %-55s %s' "$guest" "$cfg2" "$bin" \
			"$passed/$total passed; exit status $rc" \
			"$(cat "$gw/job/out/$cfg2.$bin.secs" 2>/dev/null || echo '?') s")")
		if [ "$passed" != "$total" ] || [ "$rc" != 0 ]; then
			guest_failed=1
			failed_logs+=("$guest $cfg2 $bin $lg")
		fi
	done <"$gw/job/plan"
	summary+=("$(printf '%-4s %-5s %-16s %-55s %s' "$guest" "" "" "(kernel; boot s; guest total s)" "$kver; ${boot:-?}; $took")")
	if [ ! -f "$gw/job/out/done" ] || [ -n "$fault" ]; then consoles+=("$guest"); fi
	[ $guest_failed = 0 ] || failed=1
}

for g in "${guests[@]}"; do run_guest "$g"; done

echo
log "summary (guest, configuration, test binary, test, result)"
printf '%s\n' "${summary[@]}"
if [ $failed != 0 ]; then
	# What failed, last in the output, where a CI page that shows only the end still has it:
	# the end of each failing test binary's log and the console of each guest that did not
	# finish or had a kernel fault.
	for f in "${failed_logs[@]}"; do
		read -r g c b lg <<<"$f"
		log "--- $g $c $b: the end of its log ($lg) ---"
		tail -n 40 "$lg" 2>/dev/null || echo "(no log)"
	done
	for g in "${consoles[@]}"; do
		c=$work/$g/console.log
		at=$(kernel_fault "$c")
		if [ -n "$at" ]; then
			# From a little before the first fault: the oops and its call trace.
			first=$(grep -n -m1 -F -- "$at" <(tr -d '\r' <"$c") | cut -d: -f1)
			log "--- guest $g: its console from the first kernel fault ($c) ---"
			tr -d '\r' <"$c" | sed -n "$((first > 5 ? first - 5 : 1)),$((first + 40))p" | sed "s/^/[$g] /"
		else
			log "--- guest $g: the end of its console ($c) ---"
			tail -n 40 "$c" | tr -d '\r' | sed "s/^/[$g] /"
		fi
	done
	log "FAILED"
	exit 1
fi
log "all passed"
