#!/bin/sh
# eidkiosk-kiosk prerm: stop the kiosk before its files go. When the outbox
# still holds sealed enrollments not yet sent, say so and mark the state
# directory, so that a purge keeps it (postrm).
set -e
if [ "$1" = remove ]; then
	if [ -d /run/systemd/system ]; then
		systemctl stop eidkiosk-kiosk.service >/dev/null 2>&1 || true
	fi
	if [ -d /var/lib/eidkiosk ] && [ -x /usr/bin/kioskctl ]; then
		pending=$(runuser -u eidkiosk -- /usr/bin/kioskctl outbox pending --config /etc/eidkiosk/kiosk.toml 2>/dev/null || echo unknown)
		if [ "$pending" != 0 ]; then
			touch /var/lib/eidkiosk/.unsent
			echo "eidkiosk-kiosk: the outbox holds sealed enrollments not yet sent ($pending):" >&2
			echo "  /var/lib/eidkiosk is kept even on purge; see /usr/share/doc/eidkiosk-kiosk/operations.md, "Removal and disposal"." >&2
		else
			rm -f /var/lib/eidkiosk/.unsent
		fi
	fi
fi
exit 0
