# shellcheck shell=bash
# ci/lib/initramfs.sh: the guest's initramfs: the base archive of a kernel
# (busybox, ci/guest/init, the kernel's modules and config, /etc), built
# once per kernel, busybox and init script and cached beside the kernel;
# and a leg's archive: the base with the payload and the leg's parameters
# appended as a second cpio. Sourced after ci/lib/kernels.sh.
#
# Reads GUEST_INIT, TMP and the lock (kernel_dir, busybox_bin).

GUEST_INIT=$CI_DIR/guest/init


# The base initramfs of kernel lock id $1 (busybox, /init, modules, config),
# built once per kernel, busybox and init script; prints its path.
initramfs_path() {
	local id=$1 key
	key=$( (cat "$GUEST_INIT" "$(kernel_dir "$id")/lib/modules/load.order"; echo "${USE_SHAS[busybox]} $PREP_VERSION") |
		sha256sum | cut -c1-16)
	echo "$(kernel_dir "$id")/initramfs-$key.cpio"
}

build_initramfs() {
	local id=$1 out kdir rel st bb a
	out=$(initramfs_path "$id")
	[[ -s $out ]] && return 0
	command -v cpio >/dev/null || { say "cpio is missing (ci/install-deps installs it)"; return 1; }
	kdir=$(kernel_dir "$id")
	rel=$(<"$kdir/release")
	bb=$(busybox_bin)
	st=$TMP/rootfs-$id
	rm -rf "$st"
	mkdir -p "$st"/{bin,dev,proc,sys,tmp,run,etc,root,results,meta,boot,usr,lib/modules}
	cp "$bb" "$st/bin/busybox"
	for a in $("$bb" --list); do
		[[ $a == busybox ]] || ln -s busybox "$st/bin/$a"
	done
	ln -s bin "$st/sbin"
	ln -s ../bin "$st/usr/bin"
	ln -s ../bin "$st/usr/sbin"
	install -m 0755 "$GUEST_INIT" "$st/init"
	cp -a "$kdir/lib/modules/." "$st/lib/modules/"
	cp "$kdir/config" "$st/boot/config-$rel"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$st/etc/passwd"
	printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' >"$st/etc/group"
	echo isocheck-guest >"$st/etc/hostname"
	ln -s /proc/self/mounts "$st/etc/mtab"
	cat >"$st/etc/os-release" <<-EOF
		PRETTY_NAME="isocheck qemu guest (busybox initramfs, Debian kernel $rel)"
		NAME="isocheck-guest"
		ID=isocheck-guest
		ID_LIKE=debian
		VERSION_ID="12"
	EOF
	chmod 1777 "$st/tmp"
	chmod 0700 "$st/root"
	(cd "$st" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --reproducible --quiet) >"$out.tmp" || return 1
	# Never cache a failed or empty archive: the next run would boot it.
	[[ -s $out.tmp ]] || { say "building $out gave an empty archive"; return 1; }
	mv "$out.tmp" "$out"
	rm -rf "$st"
}


# Writes the leg's archive $1/initrd.cpio: the base initramfs of its kernel
# with a second cpio appended: the payload binary (BINARY, its debug info
# stripped unless STRIP=0) and leg.env, the leg's parameters for /init.
# Reads the LEG_* values leg_params set for leg $2.
leg_initrd() {
	local dir=$1 leg=$2
	mkdir -p "$dir/payload"
	install -m 0755 "$BINARY" "$dir/payload/isocheck"
	# Debug info only slows the guest down (initramfs unpack and copy run
	# at TCG speed); symbols stay.
	if ((STRIP)) && is_elf "$BINARY"; then strip --strip-debug "$dir/payload/isocheck"; fi
	{
		printf 'LAYOUT=%q\nLABEL=%q\n' "$LEG_LAYOUT" "$LEG_LABEL"
		printf 'LEG=%q\nLINE=%q\n' "$leg" "$LEG_KERNEL"
		printf 'V1_CONTROLLERS=%q\nV2_CONTROLLERS=%q\n' "$LEG_CONTROLLERS" "$LEG_CONTROLLERS"
		printf 'PAYLOAD_CMD=%q\n' "$GUEST_CMD"
		printf 'PAYLOAD_TIMEOUT=%q\n' "$((TIMEOUT > 60 ? TIMEOUT - 30 : TIMEOUT * 3 / 4))"
		printf 'export LAYOUT\n'
	} >"$dir/payload/leg.env"
	cp "$(initramfs_path "$LEG_KERNEL")" "$dir/initrd.cpio"
	(cd "$dir/payload" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >>"$dir/initrd.cpio"
}
