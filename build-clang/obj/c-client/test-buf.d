build-clang/obj/c-client/test-buf.o: c-client/test-buf.c c-client/buf.h \
  c-client/util.h c-client/imap-arg.h c-client/test.h

c-client/buf.h:

c-client/util.h:

c-client/imap-arg.h:

c-client/test.h:
