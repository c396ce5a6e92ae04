# mk/install.mk - installing Rebound: "make install", "make deb", "make test-deb".
# Included by the Makefile.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   FHS layout:
#     $(PREFIX)/sbin/rebound, $(PREFIX)/lib/rebound/rebound-all (the subcommands
#     but "parse", which rebound execs), $(PREFIX)/share/rebound/{rules.conf,sql/,postfix/},
#     $(PREFIX)/share/man/man{5,8}, /etc/rebound/rebound.conf (kept if present),
#     /lib/systemd/system/rebound{,-lookupd}.service, /var/lib/rebound/spool.
#   make deb        build/deb/rebound_VERSION_ARCH.deb with debhelper, then lintian.
#   make test-deb   install that package into a fresh Debian 12 chroot and run the
#                   unit's ExecStart there as the unit would (tests/deb/test_deb.sh).

PREFIX        ?= /usr/local
DESTDIR       ?=
SBINDIR       ?= $(PREFIX)/sbin
# Where rebound finds rebound-all: ../lib/rebound from SBINDIR (CONFIG_LIBEXEC_DIR, common/config.h).
LIBEXECDIR    := $(dir $(SBINDIR))lib/rebound
DATADIR       ?= $(PREFIX)/share/rebound
MANDIR        ?= $(PREFIX)/share/man
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR       ?= /lib/systemd/system
VERSION       := $(shell sed -n 's/^\#define REBOUND_VERSION "\(.*\)"/\1/p' common/version.h)
DEB_BUILD     := build/deb

.PHONY: man install deb test-deb deps-deb
all: man

# rebound(8) is written by hand; rebound.conf(5) comes from the key table.
man: $(BUILD)/man/rebound.8 $(BUILD)/man/rebound.conf.5

$(BUILD)/man/rebound.8: doc/rebound.8 common/version.h
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(VERSION)/' $< > $@

$(BUILD)/man/rebound.conf.5: $(BUILD)/rebound
	@mkdir -p $(dir $@)
	$(BUILD)/rebound config --man > $@.tmp && mv $@.tmp $@

install: $(BUILD)/rebound $(BUILD)/rebound-all man
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(DATADIR)/postfix \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/rebound \
	    $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/rebound $(DESTDIR)$(SBINDIR)/rebound
	install -m 0755 $(BUILD)/rebound-all $(DESTDIR)$(LIBEXECDIR)/rebound-all
	install -m 0644 conf/rules.conf $(DESTDIR)$(DATADIR)/rules.conf
	install -m 0644 sql/*.sql $(DESTDIR)$(DATADIR)/sql/
	install -m 0644 conf/postfix/main.cf $(DESTDIR)$(DATADIR)/postfix/main.cf
	install -m 0644 $(BUILD)/man/rebound.8 $(DESTDIR)$(MANDIR)/man8/rebound.8
	install -m 0644 $(BUILD)/man/rebound.conf.5 $(DESTDIR)$(MANDIR)/man5/rebound.conf.5
	@set -e; for u in rebound.service rebound-lookupd.service; do \
		echo "install conf/$$u $(DESTDIR)$(UNITDIR)/$$u"; \
		sed -e 's|/usr/sbin/rebound|$(SBINDIR)/rebound|g' \
		    -e 's|/etc/rebound/|$(SYSCONFDIR)/rebound/|g' conf/$$u > $(DESTDIR)$(UNITDIR)/$$u; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	@# An operator's configuration is never overwritten.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/rebound/rebound.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/rebound/rebound.conf"; \
	else \
		echo "install -m 0644 conf/rebound.conf $(DESTDIR)$(SYSCONFDIR)/rebound/rebound.conf"; \
		install -m 0644 conf/rebound.conf $(DESTDIR)$(SYSCONFDIR)/rebound/rebound.conf; \
	fi
	@# On this machine (no DESTDIR, as root): the rebound user and its spool,
	@# as the Debian package's postinst makes them.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		getent passwd rebound >/dev/null || \
		    adduser --system --group --home $(LOCALSTATEDIR)/lib/rebound --no-create-home \
		        --quiet rebound; \
		install -d -o rebound -g rebound -m 0700 $(LOCALSTATEDIR)/lib/rebound \
		    $(LOCALSTATEDIR)/lib/rebound/spool; \
		chgrp rebound $(SYSCONFDIR)/rebound/rebound.conf; \
		chmod 0640 $(SYSCONFDIR)/rebound/rebound.conf; \
		echo "install: user rebound, $(LOCALSTATEDIR)/lib/rebound/spool"; \
	fi

deps-deb:
	@scripts/deps.sh deb

# The package is built from a copy of the tree (dpkg-buildpackage writes its
# results beside the source directory, which is build/deb here).
deb: deps-deb
	rm -rf $(DEB_BUILD)
	mkdir -p $(DEB_BUILD)/rebound-$(VERSION)
	tar --exclude=./build --exclude=./var --exclude=./.git -cf - . | \
	    tar -C $(DEB_BUILD)/rebound-$(VERSION) -xf -
	cd $(DEB_BUILD)/rebound-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info $(DEB_BUILD)/rebound_$(VERSION)_*.changes
	@ls -l $(DEB_BUILD)/*.deb

test-deb: deps-deb
	@[ -n "$$(ls $(DEB_BUILD)/rebound_$(VERSION)_*.deb 2>/dev/null)" ] || $(MAKE) --no-print-directory deb
	tests/deb/test_deb.sh $(DEB_BUILD)/rebound_$(VERSION)_*.deb
