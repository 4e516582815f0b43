#!/bin/sh
# eidkiosk-kiosk postrm. The state in /var/lib/eidkiosk (device key, outbox
# with sealed enrollments not yet sent) is kept even on purge: check
# `kioskctl outbox status` shows nothing queued, then remove it by hand.
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper mask eidkiosk-kiosk.service >/dev/null || true
fi
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper purge eidkiosk-kiosk.service >/dev/null || true
	deb-systemd-helper unmask eidkiosk-kiosk.service >/dev/null || true
fi
if [ -d /run/udev ] && command -v udevadm >/dev/null 2>&1; then
	udevadm control --reload-rules || true
fi
exit 0
