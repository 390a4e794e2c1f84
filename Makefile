# Top-level build: plain GNU make, no autotools.
#
#   make                 build libc-client.a, imapd, ipop3d and the tools
#   make CC=clang        the same with clang (warning-free with both)
#   make SANITIZE=1      ASan + UBSan build in build-san/
#   make check           build and run every unit test (test-*.c)
#   make install         PREFIX=/usr/local DESTDIR= (see the install rule)
#   make uninstall       the same variables: removes what install installed
#
# Sources are found by directory: c-client/*.c and drivers/*.c form the
# library; imapd/*.c and ipop3d/*.c are one program each; every
# tools/NAME.c is the program NAME. Files named test-*.c are unit tests
# (one program each) and fuzz-*.c are libFuzzer harnesses.

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=

WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wpointer-arith \
       -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2
CFLAGS += -g -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	  -Ic-client -Idrivers
LDLIBS = -lssl -lcrypto -lpam -lcrypt -lz

FUZZ_SECONDS ?= 60
ifeq ($(FUZZ),1)
B := build-fuzz
CC := clang
CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=undefined
FUZZ_LDFLAGS = -fsanitize=fuzzer,address,undefined
else ifeq ($(SANITIZE),1)
B := build-san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
B := build
endif
ifneq ($(findstring clang,$(CC)),)
B := $(B)-clang
endif

# the sources in the given directories, without test-*.c and fuzz-*.c
srcs = $(foreach f,$(wildcard $(1)),$(if $(filter test-% fuzz-%,$(notdir $(f))),,$(f)))
LIB_SRC   := $(call srcs,c-client/*.c drivers/*.c)
IMAPD_SRC := $(call srcs,imapd/*.c)
POP_SRC   := $(call srcs,ipop3d/*.c)
TOOL_SRC  := $(call srcs,tools/*.c)
FUZZ_SRC  := $(wildcard c-client/fuzz-*.c drivers/fuzz-*.c imapd/fuzz-*.c \
		ipop3d/fuzz-*.c)
TEST_SRC  := $(wildcard c-client/test-*.c drivers/test-*.c imapd/test-*.c \
		ipop3d/test-*.c tools/test-*.c)

LIB   := $(B)/libc-client.a
TOOLS := $(patsubst tools/%.c,$(B)/bin/%,$(TOOL_SRC))
PROGS := $(if $(IMAPD_SRC),$(B)/bin/imapd) $(if $(POP_SRC),$(B)/bin/ipop3d) $(TOOLS)
TESTS := $(patsubst %.c,$(B)/tests/%,$(notdir $(TEST_SRC)))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

all: $(LIB) $(PROGS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(B)/bin/imapd: $(call obj,$(IMAPD_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(IMAPD_SRC)) $(LIB) $(LDLIBS)

$(B)/bin/ipop3d: $(call obj,$(POP_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(POP_SRC)) $(LIB) $(LDLIBS)

$(B)/bin/%: $(B)/obj/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# unit tests: test-NAME.c in any source directory
define test_rule
$(B)/tests/$(basename $(notdir $(1))): $(call obj,$(1)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $(call obj,$(1)) $(LIB) $$(LDLIBS)
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

tests: $(TESTS)

# libFuzzer harnesses: fuzz-NAME.c, built with clang by "make FUZZ=1 fuzzers"
FUZZERS := $(patsubst %.c,$(B)/fuzz/%,$(notdir $(FUZZ_SRC)))
# a harness in imapd/ or ipop3d/ links that server's objects but main.o
fuzz_objs = $(call obj,$(1)) $(filter-out %/main.o,$(call obj,\
	$(if $(filter imapd/%,$(1)),$(IMAPD_SRC))\
	$(if $(filter ipop3d/%,$(1)),$(POP_SRC))))
define fuzz_rule
$(B)/fuzz/$(basename $(notdir $(1))): $(call fuzz_objs,$(1)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(FUZZ_LDFLAGS) -o $$@ $(call fuzz_objs,$(1)) $(LIB) $$(LDLIBS)
endef
$(foreach f,$(FUZZ_SRC),$(eval $(call fuzz_rule,$(f))))

fuzzers: $(FUZZERS)

# make fuzz [FUZZ_SECONDS=60]: run every harness on its seed corpus
# (tests/fuzz/NAME/) and kept crash inputs (tests/fuzz/NAME/regress-*)
# for FUZZ_SECONDS each; new interesting inputs go to build-fuzz/corpus/.
fuzz:
	$(MAKE) FUZZ=1 fuzzers
	@for f in build-fuzz-clang/fuzz/fuzz-*; do n=$$(basename $$f); \
		mkdir -p build-fuzz-clang/corpus/$$n tests/fuzz/$$n; \
		echo "== $$n ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
			-rss_limit_mb=2048 -artifact_prefix=build-fuzz-clang/ \
			build-fuzz-clang/corpus/$$n tests/fuzz/$$n || exit 1; \
	done

# run every unit test from the top directory; each prints "PASS name" /
# "FAIL name" lines. The sanitizer options let test-auth re-run itself
# under the cwrap wrappers.
check: all tests
	@status=0; for t in $(TESTS); do \
		ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:verify_asan_link_order=0} \
		UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		$$t || { echo "FAIL $$t"; status=1; }; \
	done; exit $$status

# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc]
#   [SYSTEMDUNITDIR=$(PREFIX)/lib/systemd/system]: the programs, man pages,
# PAM services, xinetd files and systemd socket units (the last two
# disabled: an administrator enables them). Files under SYSCONFDIR that
# already exist are kept; make uninstall removes exactly what install
# installed (a kept or edited /etc file stays; directories stay).
# debian/rules calls both.
SYSCONFDIR ?= /etc
INSTALL_SETGID ?= yes
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR = $(PREFIX)/share/man
# mail-route is nginx's auth_http service, a daemon like imapd (mail-route(8))
INST_SBIN := $(if $(IMAPD_SRC),imapd) $(if $(POP_SRC),ipop3d) \
	$(if $(filter tools/mlock.c,$(TOOL_SRC)),mlock) \
	$(if $(filter tools/mail-route.c,$(TOOL_SRC)),mail-route)
INST_BIN := $(filter-out mlock mail-route,$(patsubst tools/%.c,%,$(TOOL_SRC)))
INST_MAN := $(wildcard docs/man/*.[18])
# docs/inetd/SOURCE:INSTALLED-NAME
INST_UNITS := imapd.socket:imapd.socket imapd@.service:imapd@.service \
	imaps.socket:imaps.socket imaps@.service:imaps@.service \
	ipop3d.pop3.socket:pop3.socket ipop3d.pop3@.service:pop3@.service \
	ipop3d.pop3s.socket:pop3s.socket ipop3d.pop3s@.service:pop3s@.service
INST_XINETD := imapd.xinetd:imapd ipop3d.xinetd:ipop3d
INST_PAM := imap pop
# the example files name /usr/local/sbin; installed, they name PREFIX, and
# the xinetd services start disabled
inst_edit = sed -e 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' \
	-e 's|^\# /etc/systemd/system/|\# $(SYSTEMDUNITDIR)/|' \
	-e 's|^\(\s*disable\s*=\s*\)no|\1yes|'
# etc_install SRC-COMMAND DEST: write DEST unless it exists
etc_install = if [ -e $(2) ]; then echo "keeping $(2)"; else \
	$(1) >$(2).tmp && chmod 644 $(2).tmp && mv $(2).tmp $(2); fi
# etc_uninstall SRC-COMMAND DEST: remove DEST if install wrote it unchanged
etc_uninstall = if [ -e $(2) ]; then if $(1) | cmp -s - $(2); then rm -f $(2); \
	else echo "keeping $(2) (changed)"; fi; fi

# mlock-program's default is $(PREFIX)/sbin/mlock: config.o is rebuilt
# when PREFIX changes
CFLAGS += -DCC_MLOCK_PROGRAM='"$(PREFIX)/sbin/mlock"'
$(B)/prefix: FORCE
	@mkdir -p $(B)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' >$@
$(B)/obj/c-client/config.o: $(B)/prefix

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(SYSCONFDIR)/pam.d $(DESTDIR)$(SYSCONFDIR)/xinetd.d \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	for p in $(filter-out mlock,$(INST_SBIN)); do \
		install -m 755 $(B)/bin/$$p $(DESTDIR)$(PREFIX)/sbin/$$p; done
	# mail-route's default route-state-file lives here
	install -d -m 700 $(DESTDIR)/var/lib/mail-route
	for p in $(INST_BIN); do \
		install -m 755 $(B)/bin/$$p $(DESTDIR)$(PREFIX)/bin/$$p; done
	# mlock must be setgid mail to create .lock files in the spool (FAQ 7.10);
	# INSTALL_SETGID=no leaves that to the Debian package's postinst
	if [ "$(INSTALL_SETGID)" != no ] && install -m 2755 -g mail $(B)/bin/mlock \
		$(DESTDIR)$(PREFIX)/sbin/mlock 2>/dev/null; then :; else \
		install -m 755 $(B)/bin/mlock $(DESTDIR)$(PREFIX)/sbin/mlock && \
		{ [ "$(INSTALL_SETGID)" = no ] || \
		echo "warning: mlock not installed setgid mail" >&2; }; fi
	for m in $(INST_MAN); do s=$${m##*.}; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	for u in $(INST_UNITS); do \
		$(inst_edit) docs/inetd/$${u%%:*} >$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*:} && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*:}; done
	for x in $(INST_XINETD); do d=$(DESTDIR)$(SYSCONFDIR)/xinetd.d/$${x##*:}; \
		$(call etc_install,$(inst_edit) docs/inetd/$${x%%:*},$$d); done
	for p in $(INST_PAM); do d=$(DESTDIR)$(SYSCONFDIR)/pam.d/$$p; \
		$(call etc_install,cat docs/pam.d/$$p,$$d); done

uninstall:
	for p in $(INST_SBIN); do rm -f $(DESTDIR)$(PREFIX)/sbin/$$p; done
	for p in $(INST_BIN); do rm -f $(DESTDIR)$(PREFIX)/bin/$$p; done
	for m in $(INST_MAN); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	for u in $(INST_UNITS); do rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*:}; done
	for x in $(INST_XINETD); do d=$(DESTDIR)$(SYSCONFDIR)/xinetd.d/$${x##*:}; \
		$(call etc_uninstall,$(inst_edit) docs/inetd/$${x%%:*},$$d); done
	for p in $(INST_PAM); do d=$(DESTDIR)$(SYSCONFDIR)/pam.d/$$p; \
		$(call etc_uninstall,cat docs/pam.d/$$p,$$d); done

clean:
	rm -rf build build-san build-clang build-san-clang build-fuzz-clang

.PHONY: all tests check install uninstall clean fuzz fuzzers FORCE

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
