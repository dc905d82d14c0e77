#!/bin/bash
# deb post-remove: the links after-install.sh made.
rm -f '/usr/bin/export-center-console'
if grep -q 'Export Center Offline Console package' /usr/bin/mirror 2>/dev/null; then rm -f /usr/bin/mirror; fi
