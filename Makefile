# Top-level build: plain GNU make, no autotools.
#
#   make                 build libc-client.a, imapd, ipop3d and the tools
#   make CC=clang        the same with clang (warning-free with both)
#   make SANITIZE=1      ASan + UBSan build in build-san/
#   make check           build and run every unit test (test-*.c)
#   make install         PREFIX=/usr/local DESTDIR= (see the install rule)
#   make uninstall       the same variables: removes what install installed
#
# Sources are found by directory: c-client/LAYER/*.c (lib, mail, auth,
# storage, imap, test) and drivers/*.c, drivers/FORMAT/*.c form the
# library; imapd/*.c and ipop3d/*.c are one program each; every
# tools/NAME.c is the program NAME. Files named test-*.c are unit tests
# (one program each) and fuzz-*.c are libFuzzer harnesses; both sit
# beside the code they test.

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=

WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wpointer-arith \
       -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2
# the include path is per folder (see "include paths" below); this is
# the fallback for anything else
INC_DIRS = $(LIB_DIRS)
CFLAGS += -g -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	  $(addprefix -I,$(INC_DIRS) $(TEST_INC))
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
# c-client's layers, bottom first, and one folder per mailbox format
CCLIENT_DIRS := c-client/lib c-client/mail c-client/auth c-client/storage \
		c-client/imap
DRIVER_DIRS  := $(patsubst %/,%,$(sort $(dir $(wildcard drivers/*/*.c))))
LIB_DIRS  := $(CCLIENT_DIRS) drivers $(DRIVER_DIRS) c-client/test
LIB_SRC   := $(call srcs,$(addsuffix /*.c,$(CCLIENT_DIRS) drivers $(DRIVER_DIRS)))
# the test archive: test runner and memory driver, linked only into unit
# tests and fuzzers
TESTLIB_SRC := $(call srcs,c-client/test/*.c)
# sources with test-only code (#ifdef CCLIENT_TEST_HOOKS: crash points);
# test programs link these objects, built again with the hooks, before
# the library, so the library's own copies are never pulled in
HOOK_SRC  := c-client/storage/journal.c
IMAPD_SRC := $(call srcs,imapd/*.c)
POP_SRC   := $(call srcs,ipop3d/*.c)
TOOL_SRC  := $(call srcs,tools/*.c)
FUZZ_SRC  := $(wildcard $(addsuffix /fuzz-*.c,$(LIB_DIRS) imapd ipop3d))
TEST_SRC  := $(wildcard $(addsuffix /test-*.c,$(LIB_DIRS) imapd ipop3d tools))

LIB   := $(B)/libc-client.a
TESTLIB := $(B)/libc-client-test.a
TOOLS := $(patsubst tools/%.c,$(B)/bin/%,$(TOOL_SRC))
PROGS := $(if $(IMAPD_SRC),$(B)/bin/imapd) $(if $(POP_SRC),$(B)/bin/ipop3d) $(TOOLS)
# the same programs with the test hooks, for the crash tests
# (tests/lib/cctest.py runs them when a test sets CCLIENT_CRASH_*)
TEST_PROGS := $(patsubst $(B)/bin/%,$(B)/test-bin/%,$(PROGS))
TESTS := $(patsubst %.c,$(B)/tests/%,$(notdir $(TEST_SRC)))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
hobj = $(patsubst %.c,$(B)/obj-hooks/%.o,$(1))
HOOK_OBJ := $(call hobj,$(HOOK_SRC))
# what a test program links after its own objects
TEST_LINK := $(HOOK_OBJ) $(TESTLIB) $(LIB)

all: $(LIB) $(PROGS)

# include paths: a folder sees itself and the layers below it, so an
# include against the layering does not compile (docs/ARCHITECTURE.md).
# auth/ still sees storage/ (auth.c sets mail_user). Front ends and tools
# see drivers/ for linkage.h only, never a format's folder; a format's
# folder sees storage and below. Unit tests and fuzzers also see test/.
inc_lib     := c-client/lib
inc_mail    := $(inc_lib) c-client/mail
inc_auth    := $(inc_lib) c-client/auth c-client/storage
inc_storage := $(inc_mail) c-client/storage
inc_imap    := $(inc_storage) c-client/imap
inc_front   := $(inc_imap) c-client/auth drivers
layer_inc = $(B)/obj/$(1)/%.o $(B)/obj-hooks/$(1)/%.o: INC_DIRS = $(2)
$(eval $(call layer_inc,c-client/lib,$(inc_lib)))
$(eval $(call layer_inc,c-client/mail,$(inc_mail)))
$(eval $(call layer_inc,c-client/auth,$(inc_auth)))
$(eval $(call layer_inc,c-client/storage,$(inc_storage)))
$(eval $(call layer_inc,c-client/imap,$(inc_imap)))
$(eval $(call layer_inc,c-client/test,$(inc_front) $(DRIVER_DIRS)))
$(foreach d,$(DRIVER_DIRS),$(eval $(call layer_inc,$(d),$(inc_storage) $(d))))
$(eval $(call layer_inc,drivers,$(inc_front) $(DRIVER_DIRS)))
$(foreach d,imapd ipop3d tools,$(eval $(call layer_inc,$(d),$(inc_front))))
$(call obj,$(TEST_SRC) $(FUZZ_SRC)): TEST_INC = c-client/test

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj-hooks/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DCCLIENT_TEST_HOOKS -MMD -MP -c -o $@ $<

$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(TESTLIB): $(call obj,$(TESTLIB_SRC))
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

$(B)/test-bin/imapd: $(call obj,$(IMAPD_SRC)) $(HOOK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(IMAPD_SRC)) $(HOOK_OBJ) $(LIB) $(LDLIBS)

$(B)/test-bin/ipop3d: $(call obj,$(POP_SRC)) $(HOOK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(POP_SRC)) $(HOOK_OBJ) $(LIB) $(LDLIBS)

$(B)/test-bin/%: $(B)/obj/tools/%.o $(HOOK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HOOK_OBJ) $(LIB) $(LDLIBS)

# unit tests: test-NAME.c in any source directory
define test_rule
$(B)/tests/$(basename $(notdir $(1))): $(call obj,$(1)) $(TEST_LINK)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $(call obj,$(1)) $(TEST_LINK) $$(LDLIBS)
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

tests: $(TESTS) $(TEST_PROGS)

# libFuzzer harnesses: fuzz-NAME.c, built with clang by "make FUZZ=1 fuzzers"
FUZZERS := $(patsubst %.c,$(B)/fuzz/%,$(notdir $(FUZZ_SRC)))
# a harness in imapd/ or ipop3d/ links that server's objects but main.o
fuzz_objs = $(call obj,$(1)) $(filter-out %/main.o,$(call obj,\
	$(if $(filter imapd/%,$(1)),$(IMAPD_SRC))\
	$(if $(filter ipop3d/%,$(1)),$(POP_SRC))))
define fuzz_rule
$(B)/fuzz/$(basename $(notdir $(1))): $(call fuzz_objs,$(1)) $(TEST_LINK)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(FUZZ_LDFLAGS) -o $$@ $(call fuzz_objs,$(1)) $(TEST_LINK) $$(LDLIBS)
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
$(B)/obj/c-client/lib/config.o: $(B)/prefix

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

-include $(shell find $(B)/obj $(B)/obj-hooks -name '*.d' 2>/dev/null)
