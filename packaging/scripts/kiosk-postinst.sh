#!/bin/sh
# eidkiosk-kiosk postinst: user, directories, udev names, enable the unit.
# The kiosk is not started here: provision it first (docs/operations.md),
# then reboot or `systemctl start eidkiosk-kiosk`. An upgrade restarts a
# running kiosk.
set -e
if [ "$1" = configure ]; then
	systemd-sysusers /usr/lib/sysusers.d/eidkiosk.conf
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/eidkiosk.conf
	chown root:eidkiosk /etc/eidkiosk/kiosk.toml
	chmod 0640 /etc/eidkiosk/kiosk.toml
	# A new terminal gets the packaged kiosk as its first committed release;
	# on an installed one a newer package goes on trial in the other update
	# slot (its health checks commit it, a failure rolls back), and an older
	# or equal one leaves the release the update agent manages.
	version=$(dpkg-query -W -f='${Version}' eidkiosk-kiosk)
	if ! out=$(runuser -u eidkiosk -- /usr/bin/kioskctl update install-package --config /etc/eidkiosk/kiosk.toml \
		--binary /usr/lib/eidkiosk/kiosk --version "$version" 2>&1); then
		echo "eidkiosk-kiosk: installing the kiosk release in its update slots failed: $out" >&2
		exit 1
	fi
	echo "eidkiosk-kiosk: $out"
	if [ -d /run/udev ] && command -v udevadm >/dev/null 2>&1; then
		udevadm control --reload-rules || true
		udevadm trigger --action=add --subsystem-match=tty --subsystem-match=gpio --subsystem-match=tpmrm || true
	fi
	deb-systemd-helper unmask eidkiosk-kiosk.service >/dev/null || true
	if deb-systemd-helper --quiet was-enabled eidkiosk-kiosk.service; then
		deb-systemd-helper enable eidkiosk-kiosk.service >/dev/null || true
	else
		deb-systemd-helper update-state eidkiosk-kiosk.service >/dev/null || true
		deb-systemd-helper enable eidkiosk-kiosk.service >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		systemctl try-restart eidkiosk-kiosk.service >/dev/null || true
	fi
fi
exit 0
