#!/bin/sh
# eidkiosk-authority postrm. /var/lib/eidkiosk-authority (database, CA keys)
# is kept even on purge.
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper purge eidkiosk-authority.service >/dev/null || true
fi
exit 0
