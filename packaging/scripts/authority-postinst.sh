#!/bin/sh
# eidkiosk-authority postinst: user and directories. The unit is not
# enabled: set AUTHORITY_FLAGS in /etc/default/eidkiosk-authority first,
# then `systemctl enable --now eidkiosk-authority`.
set -e
if [ "$1" = configure ]; then
	systemd-sysusers /usr/lib/sysusers.d/eidkiosk-authority.conf
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/eidkiosk-authority.conf
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		systemctl try-restart eidkiosk-authority.service >/dev/null || true
	fi
fi
exit 0
