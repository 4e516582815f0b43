#!/bin/sh
# eidkiosk-kiosk prerm: stop the kiosk before its files go.
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl stop eidkiosk-kiosk.service >/dev/null 2>&1 || true
fi
exit 0
