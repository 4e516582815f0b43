#!/bin/sh
# eidkiosk-authority postrm. /var/lib/eidkiosk-authority holds the
# authority's CA private keys, the intake key and the registry: it is kept
# even on purge, with a warning, because deleting it by accident would
# orphan every terminal and every sealed enrollment. operations.md,
# Disposal, says how to destroy it.
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper purge eidkiosk-authority.service >/dev/null || true
	fi
	if [ -d /var/lib/eidkiosk-authority ]; then
		echo "eidkiosk-authority: /var/lib/eidkiosk-authority is KEPT: it holds the authority's CA PRIVATE KEYS," >&2
		echo "  the intake key and the registry. To dispose of them: operations.md, "Removal and disposal" (shred, then rm -rf)." >&2
	fi
fi
exit 0
