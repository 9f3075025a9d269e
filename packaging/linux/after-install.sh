#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The deb's postinst (electron-builder.yml deb.afterInstall). A custom afterInstall replaces
# electron-builder's own after-install template, so this script does what that template does
# (the /usr/bin link, chrome-sandbox's mode, the MIME and desktop databases, the AppArmor
# profile) and then ours: the group net-tc-filter. Written after electron-builder 26.17.0's
# app-builder-lib/templates/linux/after-install.tpl: compare with it when upgrading.
#
# electron-builder substitutes its macros, written dollar-brace-name-brace, in this file at build
# time (executable, sanitizedProductName) and fails on unknown ones: write shell variables as
# $name, without braces.

# The system group that shares the bpffs pin directory between the headless daemon
# (SupplementaryGroups= in the unit's drop-in desktop-app.conf, which this package installs) and the desktop app (the launcher grants it to the app's
# process only, never to an account). Kept on removal, like other system groups, so that its gid
# is not reused while pins may still carry it.
if ! getent group net-tc-filter >/dev/null; then
  groupadd --system net-tc-filter || echo "net-tc-filter: could not create the group net-tc-filter; the launcher will try again" >&2
fi

# The app's executable on PATH (electron-builder's template does this; our launcher is
# /usr/bin/net-tc-filter-gui, installed as a file by fpm).
exe='/opt/${sanitizedProductName}/${executable}'
link='/usr/bin/${executable}'
if type update-alternatives >/dev/null 2>&1; then
  # A plain link from an older install is replaced by the alternatives link.
  if [ -L "$link" ] && [ -e "$link" ] && [ "$(readlink "$link")" != '/etc/alternatives/${executable}' ]; then
    rm -f "$link"
  fi
  update-alternatives --install "$link" '${executable}' "$exe" 100 || ln -sf "$exe" "$link"
else
  ln -sf "$exe" "$link"
fi

# Chromium's setuid sandbox helper only where unprivileged user namespaces do not work.
sandbox='/opt/${sanitizedProductName}/chrome-sandbox'
if [[ -L /proc/self/ns/user ]] && unshare --user true 2>/dev/null; then
  chmod 0755 "$sandbox" || true
else
  chmod 4755 "$sandbox" || true
fi

if hash update-mime-database 2>/dev/null; then
  update-mime-database /usr/share/mime || true
fi
if hash update-desktop-database 2>/dev/null; then
  update-desktop-database /usr/share/applications || true
fi

# The AppArmor profile electron-builder ships (Ubuntu 24.04 and later restrict unprivileged user
# namespaces without one), installed only where this AppArmor can parse it.
if apparmor_status --enabled >/dev/null 2>&1; then
  profile_src='/opt/${sanitizedProductName}/resources/apparmor-profile'
  profile_dst='/etc/apparmor.d/${executable}'
  if apparmor_parser --skip-kernel-load --debug "$profile_src" >/dev/null 2>&1; then
    cp -f "$profile_src" "$profile_dst"
    # Not inside a chroot (image builds): loading a profile there means nothing.
    if ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
      apparmor_parser --replace --write-cache --skip-read-cache "$profile_dst"
    fi
  else
    echo "net-tc-filter: this AppArmor does not support the bundled profile; not installed"
  fi
fi
