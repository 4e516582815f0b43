#!/bin/sh
# eidkiosk-kiosk postrm. remove keeps the state (/var/lib/eidkiosk: device
# key, outbox, update slots) and the configuration; purge deletes what the
# package created (Debian policy 10.7.3 and 6.5): the state and the cache,
# unless the prerm found sealed enrollments not yet sent (.unsent), which
# are kept with a warning. The eidkiosk user is left (its UID may own
# files elsewhere).
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper mask eidkiosk-kiosk.service >/dev/null || true
fi
if [ "$1" = purge ]; then
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper purge eidkiosk-kiosk.service >/dev/null || true
		deb-systemd-helper unmask eidkiosk-kiosk.service >/dev/null || true
	fi
	rm -rf /var/cache/eidkiosk
	if [ -e /var/lib/eidkiosk/.unsent ]; then
		echo "eidkiosk-kiosk: /var/lib/eidkiosk is KEPT: its outbox holds sealed enrollments not yet sent." >&2
		echo "  Send them (reinstall and let the kiosk upload, or export them), then delete it: operations.md, "Removal and disposal"." >&2
	else
		rm -rf /var/lib/eidkiosk
	fi
	rmdir --ignore-fail-on-non-empty /etc/eidkiosk 2>/dev/null || true
fi
if [ -d /run/udev ] && command -v udevadm >/dev/null 2>&1; then
	udevadm control --reload-rules || true
fi
exit 0
