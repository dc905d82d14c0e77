#!/bin/bash
# deb post-install (replaces electron-builder's default template, whose steps it keeps):
# the desktop command, the chrome-sandbox mode, the desktop/mime databases,
# and /usr/bin/mirror: the headless CLI of the installed app (`<app> mirror …`).
set -e
APP_DIR='/opt/Export Center Offline Console'
EXE='export-center-console'

ln -sf "$APP_DIR/$EXE" "/usr/bin/$EXE"

cat > /usr/bin/mirror <<SCRIPT
#!/bin/sh
# Installed by the Export Center Offline Console package: the same engine as the app, headless.
exec "$APP_DIR/$EXE" mirror "\$@"
SCRIPT
chmod 0755 /usr/bin/mirror

# SUID chrome-sandbox only on systems without working user namespaces.
if ! { [[ -L /proc/self/ns/user ]] && unshare --user true; }; then
  chmod 4755 "$APP_DIR/chrome-sandbox" || true
else
  chmod 0755 "$APP_DIR/chrome-sandbox" || true
fi

if hash update-mime-database 2>/dev/null; then update-mime-database /usr/share/mime || true; fi
if hash update-desktop-database 2>/dev/null; then update-desktop-database /usr/share/applications || true; fi
